"""EMCA-ResNet (Bakr, El-Sallab and Rashwan, "EMCA: Efficient Multiscale
Channel Attention Module", IEEE Access 10, 2022,
doi:10.1109/ACCESS.2022.3205602)."""
from typing import List, Optional

from mmattn.models.connect import EMCA, ConnectedAttention, EMCASqueeze
from mmattn.models.connect.emca import EXCITATIONS, REFINES
from mmattn.models.utils import (check_cfg_arguments, check_cfg_leaves_out,
                                 check_choice, check_dict)
from mmattn.registry import BACKBONE, register

from .attn_resnet import AttnResNet, BlockSite

STEM = 'stem'


@register(BACKBONE)
class EMCAResNet(AttnResNet):
    """ResNet-18/34/50/101 with EMCA modules attached to chosen blocks.

    Each EMCA module (:class:`mmattn.models.connect.EMCA`) runs on a block's
    residual branch output and reads the squeezed outputs of preceding blocks
    from the state that :class:`AttnResNet` threads through all blocks. The
    outputs are squeezed into the state by :class:`EMCASqueeze` modules on
    the input of the block that follows (the stem's output is the first
    block's input): exactly the descriptors some module reads, nothing else.

    ``coverage`` is the paper's coverage region R (eq. 5, Table 3) of a
    module in stage i; stage 1's "previous stage" is the stem output:

    * ``'previous_stage_last'``: the last block of stage i-1
      (S=1, N'=1; R=2).
    * ``'previous_stage_all'``: every block of stage i-1
      (S=1, N'=N; R=1+N_{i-1}). The paper's choice for all its results.
    * ``'every_stage_last'``: the stem and the last block of every earlier
      stage (S=i-1, N'=1; R=1+i), as in the authors' code.

    ``placement`` chooses the blocks of each stage carrying a module (paper
    Table 2): ``'first'`` (the paper's reported models), ``'last'`` or
    ``'all'`` ("dense integration"). Every module of a stage reads the same
    coverage region, so R and each module's Conv1d are fixed at
    construction and no layer is built that a forward does not use.

    Everything else is :class:`AttnResNet` (and so mmdet's ``ResNet``):
    ``out_indices``, ``frozen_stages`` (freezing the EMCA modules of the
    frozen stages), ``norm_eval`` (which also keeps the BN of EMCA-SRM in
    eval mode: set ``norm_eval=False`` to train it), ``style``, ``with_cp``,
    ``plugins``, ``init_cfg`` ... are passed through.

    Args:
        depth (int): 18, 34, 50 or 101 (152 also works).
        excitation (str): EMCA's excitation W_m2: 'SE', 'ECA' or 'SRM'.
            Default: 'SE'.
        coverage (str): See above. Default: 'previous_stage_all'.
        placement (str): 'first', 'last' or 'all'. Default: 'first'.
        refine (str): 'paper' (``x·Z``) or 'authors' (``x·(1+Z')`` with a
            local excitation fused in); see :class:`EMCA`. Default: 'paper'.
        excitation_cfg (dict, optional): Extra arguments of the excitation
            module, e.g. ``dict(reduction=8)`` for SE. Default: None.
        **kwargs: Further :class:`AttnResNet` arguments.
    """

    coverages = ('previous_stage_last', 'previous_stage_all',
                 'every_stage_last')
    placements = ('first', 'last', 'all')

    def __init__(self,
                 depth: int,
                 excitation: str = 'SE',
                 coverage: str = 'previous_stage_all',
                 placement: str = 'first',
                 refine: str = 'paper',
                 excitation_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        check_choice('EMCAResNet', 'coverage', coverage, self.coverages)
        check_choice('EMCAResNet', 'placement', placement, self.placements)
        check_choice('EMCAResNet', 'excitation', excitation,
                     tuple(EXCITATIONS))
        check_choice('EMCAResNet', 'refine', refine, REFINES)
        if excitation_cfg is not None:
            check_dict('EMCAResNet', 'excitation_cfg', excitation_cfg)
            check_cfg_leaves_out('EMCAResNet', 'excitation_cfg',
                                 excitation_cfg, ('type', 'in_channels'))
            check_cfg_arguments('EMCAResNet', 'excitation_cfg',
                                excitation_cfg, EXCITATIONS[excitation])
        self.coverage = coverage
        self.placement = placement
        self._emca_args = dict(excitation=excitation,
                               excitation_cfg=excitation_cfg, refine=refine)
        super().__init__(depth, **kwargs)

    def connected_attention(
            self, site: BlockSite) -> List[ConnectedAttention]:
        """An :class:`EMCASqueeze` on the block's input when an EMCA module
        reads the output of the block before it, and an :class:`EMCA` on
        the blocks ``placement`` chooses."""
        modules = []
        before = self._key_before(site)
        if any(before in self._coverage_keys(stage)
               for stage in range(self.num_stages)):
            excitation_cfg = self._emca_args['excitation_cfg'] or {}
            modules.append(EMCASqueeze(
                before, self._emca_args['excitation'],
                **{k: v for k, v in excitation_cfg.items() if k == 'eps'}))
        if site.index in self._placed_blocks(self.stage_blocks[site.stage]):
            preceding = {key: self._channels(key)
                         for key in self._coverage_keys(site.stage)}
            modules.append(EMCA(site.channels, preceding, **self._emca_args))
        return modules

    def _block_key(self, stage: int, index: int) -> str:
        return f'layer{stage + 1}.{index}'

    def _key_before(self, site: BlockSite) -> str:
        """The key of what precedes the block at ``site``."""
        if site.index > 0:
            return self._block_key(site.stage, site.index - 1)
        if site.stage > 0:
            return self._block_key(site.stage - 1,
                                   self.stage_blocks[site.stage - 1] - 1)
        return STEM

    def _stage_channels(self, stage: int) -> int:
        return self.base_channels * 2**stage * self.block.expansion

    def _channels(self, key: str) -> int:
        if key == STEM:
            return self.stem_channels
        return self._stage_channels(int(key[len('layer'):].split('.')[0]) - 1)

    def _coverage_keys(self, stage: int) -> List[str]:
        """State keys of the coverage region of a module in ``stage``."""
        if self.coverage == 'every_stage_last':
            return [STEM] + [
                self._block_key(s, self.stage_blocks[s] - 1)
                for s in range(stage)
            ]
        if stage == 0:
            return [STEM]
        previous = self.stage_blocks[stage - 1]
        if self.coverage == 'previous_stage_last':
            return [self._block_key(stage - 1, previous - 1)]
        return [self._block_key(stage - 1, i) for i in range(previous)]

    def _placed_blocks(self, num_blocks: int) -> range:
        if self.placement == 'first':
            return range(1)
        if self.placement == 'last':
            return range(num_blocks - 1, num_blocks)
        return range(num_blocks)
