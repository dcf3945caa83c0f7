"""EMCA: Efficient Multi-scale Channel Attention (Bakr, El-Sallab and
Rashwan, "EMCA: Efficient Multiscale Channel Attention Module", IEEE Access
10, 2022, doi:10.1109/ACCESS.2022.3205602).

A connected attention: the channel weights of a block are computed from the
squeezed output of its own residual branch *and* the squeezed outputs of
preceding blocks (the coverage region), which :class:`EMCASqueeze` modules
record in the attention state as the blocks run (see
:class:`mmattn.models.backbones.EMCAResNet`).
"""
import math
from typing import Dict, Mapping, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmattn.models.attention import ECA, SE, SRM
from mmattn.models.attention.srm import DEFAULT_EPS, style_pool
from mmattn.models.utils import check_choice, check_positive_int

from .base import AttentionState, ConnectedAttention

#: The excitations W_m2 the paper publishes (Table 4: EMCA-SE/-ECA/-SRM).
EXCITATIONS = {'SE': SE, 'ECA': ECA, 'SRM': SRM}

REFINES = ('paper', 'authors')


def squeeze(x: Tensor, excitation: str, eps: float = DEFAULT_EPS) -> Tensor:
    """EMCA's descriptor of a feature map: (B, C, H, W) -> (B, C, K).

    Spatial dimension alignment (SDA) is the excitation's own extraction:
    GAP (K=1) for SE and ECA, SRM's style pooling (mean and std, K=2) for
    SRM, with its ``eps``.
    """
    if excitation == 'SRM':
        return style_pool(x, eps)
    return x.mean((2, 3)).unsqueeze(2)


class EMCASqueeze(ConnectedAttention):
    """Records the descriptor (:func:`squeeze`) of a block's input, which is
    the output of the block before it (or the stem's), under that block's
    name ``key``, for the EMCA modules of later blocks to read. It has no
    parameters and returns its input unchanged.
    """

    position = 'input'

    def __init__(self, key: str, excitation: str = 'SE',
                 eps: float = DEFAULT_EPS) -> None:
        super().__init__()
        check_choice('EMCASqueeze', 'excitation', excitation,
                     tuple(EXCITATIONS))
        self.key = key
        self.excitation = excitation
        self.eps = eps

    def forward(self, x: Tensor,
                state: AttentionState) -> Tuple[Tensor, AttentionState]:
        return x, state.update(
            **{self.key: squeeze(x, self.excitation, self.eps)})


class EMCA(ConnectedAttention):
    """Efficient multi-scale channel attention over preceding blocks.

    With ``x`` the residual branch output of the current block (B, C, H, W):

    1. Squeeze: ``s = GAP(x)`` (B, C), the excitation's own extraction. The
       preceding features ``s_1 .. s_{R-1}`` come from ``state``, already
       squeezed alike by :class:`EMCASqueeze` modules (:func:`squeeze`:
       spatial dimension alignment, SDA = GAP).
    2. Channel dimension alignment (CDA): each ``s_j`` with ``C_j < C``
       channels is tiled ``[s_j, s_j, ...]`` to C channels, as the authors'
       ``Tensor.repeat`` does. When ``C_j`` does not divide C the tiling is
       cut after C channels (and a wider ``s_j`` is cut to its first C),
       so any widths work; in ResNets C_j always divides C.
    3. Multi-scale aggregation block (MAB, paper Algorithm 1): per channel
       the R values ``[s, s_1, ..., s_{R-1}]`` are stacked and reduced by a
       Conv1d with kernel R and stride R whose R weights are shared by all
       channels (W_m1, no bias as in the authors' code), then ReLU:
       ``X_a = ReLU(W_m1 * stack)``.
    4. Excitation: ``Z = σ(W_m2(X_a))`` with W_m2 one of the paper's three
       variants, the ``transform`` of mmattn's own :class:`SE`,
       :class:`ECA` (kernel ``eca_kernel_size(C)`` unless given) or
       :class:`SRM`.
    5. Refine, ``refine='paper'``: ``y = x · Z`` (Fig. 5).
       ``refine='authors'`` follows the authors' public code instead: a
       second, local excitation of the same kind on ``s`` gives ``Z_l``;
       the per-channel pair ``[Z_l, Z]`` is fused by a Conv1d (kernel 2,
       stride 2, no bias) and a sigmoid into ``Z'``, and ``y = x · (1 + Z')``.

    With ``excitation='SRM'`` the squeeze is SRM's style pooling, so every
    descriptor holds (mean, std) per channel; the MAB aggregates both
    statistics with the same R weights and SRM's channel-wise FC + BN +
    sigmoid form Z (the authors' SRM variant does the same).

    Parameters: R (MAB) plus those of the excitation, e.g. ``2·C²/16 + C/16 +
    C`` for SE, ``k`` for ECA, ``4·C`` for SRM; ``refine='authors'`` adds a
    second excitation and 2 weights.

    Args:
        in_channels (int): Channels C of the residual branch output.
        preceding (Mapping[str, int]): The coverage region: for each state
            entry this module reads, in stacking order, its channel count.
            ``len(preceding) + 1`` is the paper's R.
        excitation (str): 'SE', 'ECA' or 'SRM'. Default: 'SE'.
        excitation_cfg (dict, optional): Extra arguments of the excitation
            module, e.g. ``dict(reduction=16)`` for SE, ``dict(kernel_size=5)``
            for ECA, ``dict(eps=1e-5)`` for SRM. Default: None.
        refine (str): 'paper' or 'authors' (see above). Default: 'paper'.
        init_cfg (dict, optional): mmengine init config. By default every
            layer keeps PyTorch's (or the excitation module's own)
            initialisation, as in the authors' code.
    """

    def __init__(self,
                 in_channels: int,
                 preceding: Mapping[str, int],
                 excitation: str = 'SE',
                 excitation_cfg: Optional[dict] = None,
                 refine: str = 'paper',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_positive_int('EMCA', 'in_channels', in_channels)
        check_choice('EMCA', 'excitation', excitation, tuple(EXCITATIONS))
        check_choice('EMCA', 'refine', refine, REFINES)
        for key, channels in preceding.items():
            check_positive_int('EMCA', f'preceding[{key!r}]', channels)
        self.in_channels = in_channels
        self.excitation = excitation
        self.refine = refine
        self.sources = tuple(preceding)
        self.repeats = tuple(
            math.ceil(in_channels / channels)
            for channels in preceding.values())
        self.coverage = len(self.sources) + 1  # the paper's R
        self.aggregate = nn.Conv1d(
            1, 1, self.coverage, stride=self.coverage, bias=False)
        build = EXCITATIONS[excitation]
        self.excite = build(in_channels, **(excitation_cfg or {}))
        if refine == 'authors':
            self.local_excite = build(in_channels, **(excitation_cfg or {}))
            self.fuse = nn.Conv1d(1, 1, 2, stride=2, bias=False)

    def _preceding(self, state: AttentionState) -> Tuple[Tensor, ...]:
        """The channel-aligned (CDA) descriptors of the coverage region."""
        return tuple(
            state.read(key, 'EMCA').repeat(1, repeat, 1)[:, :self.in_channels]
            for key, repeat in zip(self.sources, self.repeats))

    def _excitation(self, x: Tensor,
                    state: AttentionState) -> Tuple[Tensor, Tensor]:
        """Steps 1-4: the excitation's context of ``x`` and the channel
        weights Z (B, C, 1, 1)."""
        batch, channels = x.shape[:2]
        # The excitation's context in its own shape ((B, C, 1, 1) for SE,
        # (B, C) for ECA, (B, C, 2) for SRM), stacked as (B, C, K).
        context = self.excite.extract(x)
        current = context.reshape(batch, channels, -1)
        stacked = torch.stack((current, *self._preceding(state)), dim=3)
        # (B, C, K, R) -> (B, 1, C·K·R): kernel R, stride R reduces each
        # channel's (and statistic's) R values with the same R weights.
        aggregated = F.relu(self.aggregate(stacked.reshape(batch, 1, -1)))
        return context, self.excite.transform(
            aggregated.reshape(context.shape))

    def attention_maps(self, x: Tensor,
                       state: AttentionState) -> Dict[str, Tensor]:
        """What this module computes from ``x``, for pictures
        (``tools/visualization/attention_maps.py``): the multi-scale
        channel weights Z (B, C), the EMCA paper's Fig. 6."""
        return {'channel': self._excitation(x, state)[1].flatten(1)}

    def forward(self, x: Tensor,
                state: AttentionState) -> Tuple[Tensor, AttentionState]:
        batch, channels = x.shape[:2]
        context, weights = self._excitation(x, state)
        if self.refine == 'paper':
            return x * weights, state
        local = self.local_excite.transform(context)
        pairs = torch.stack((local, weights), dim=-1).reshape(batch, 1, -1)
        fused = self.fuse(pairs).sigmoid().reshape(batch, channels, 1, 1)
        return x * (1 + fused), state
