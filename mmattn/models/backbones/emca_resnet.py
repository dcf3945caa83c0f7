"""EMCA-ResNet (Bakr, El-Sallab and Rashwan, "EMCA: Efficient Multiscale
Channel Attention Module", IEEE Access 10, 2022,
doi:10.1109/ACCESS.2022.3205602)."""
from typing import Dict, List, Optional

from torch import Tensor

from mmattn.models.connect import EMCA
from mmattn.models.utils import check_choice
from mmattn.registry import BACKBONE, register

from .attn_resnet import AttnResNet

STEM = 'stem'


@register(BACKBONE)
class EMCAResNet(AttnResNet):
    """ResNet-18/34/50/101 with EMCA modules attached to chosen blocks.

    Each EMCA module (:class:`mmattn.models.connect.EMCA`) runs on a block's
    residual branch output and reads the squeezed outputs of preceding blocks
    from the state that :class:`AttnResNet` threads through all blocks. This
    backbone records, after the stem and after each block, exactly the
    descriptors some module reads and nothing else.

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
        super().__init__(depth, **kwargs)
        self.coverage = coverage
        self.placement = placement
        # State key -> path of one module reading it; that module squeezes
        # the recorded output, so the descriptor matches its own squeeze.
        self.emca_readers: Dict[str, str] = {}
        for stage, layer_name in enumerate(self.res_layers):
            layer = getattr(self, layer_name)
            preceding = {key: self._channels(key)
                         for key in self._coverage_keys(stage)}
            for index in self._placed_blocks(len(layer)):
                layer[index].connected = EMCA(
                    self._stage_channels(stage), preceding,
                    excitation=excitation, excitation_cfg=excitation_cfg,
                    refine=refine)
                for key in preceding:
                    self.emca_readers.setdefault(
                        key, f'{layer_name}.{index}.connected')
        # mmdet's ResNet froze its stages before the modules above existed.
        self._freeze_stages()

    def _block_key(self, stage: int, index: int) -> str:
        return f'{self.res_layers[stage]}.{index}'

    def _stage_channels(self, stage: int) -> int:
        return self.base_channels * 2**stage * self.block.expansion

    def _channels(self, key: str) -> int:
        if key == STEM:
            return self.stem_channels
        return self._stage_channels(self.res_layers.index(key.split('.')[0]))

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

    def _record(self, state: dict, key: str, out: Tensor) -> dict:
        if key not in self.emca_readers:
            return state
        reader = self.get_submodule(self.emca_readers[key])
        # A new dict: checkpointed blocks may re-run with the state they got.
        return {**state, key: reader.describe(out)}

    def initial_state(self, stem_out: Tensor) -> dict:
        return self._record({}, STEM, stem_out)

    def after_block(self, state: dict, stage: int, index: int,
                    out: Tensor) -> dict:
        return self._record(state, self._block_key(stage, index), out)
