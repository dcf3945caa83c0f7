"""Dual Multi Scale Attention (Sagar, "DMSANet: Dual Multi Scale Attention
Network", arXiv:2106.08382, 2021; the project's copy is the anonymous
double-blind submission of the same paper)."""
from typing import Optional, Sequence

from torch import Tensor

from mmattn.models.attention.dmsa_unit import SPATIAL_NORMS, DMSAUnit
from mmattn.models.attention.psa import PSA
from mmattn.models.utils import (MAX_CHANNELS, check_choice,
                                 check_positive_int, keep_memory_format)
from mmattn.registry import CONV_REPLACEMENT, register


@register(CONV_REPLACEMENT)
class DMSA(PSA):
    """DMSA, the DMSANet replacement of a bottleneck's 3×3 conv (``conv2``;
    the block's bn2 + ReLU follow it; paper Table 1 and Fig. 3).

    No public code exists and the paper leaves parts open; the README's
    "DMSANet: how mmattn reads the paper" gives the choices and why. With S
    = ``len(kernels)`` scales and C' = ``out_channels / S``:

    * multi-scale split (§3.5): ``X_i = Conv(k_i × k_i, G_i)(X)``, as
      :class:`PSA`;
    * ``F_i = DMSAUnit(X_i)`` (§3.1-3.4, eq. 7), one unit shared by the
      scales;
    * ``Z_i = SEWeight(F_i)`` (EPSANet's, shared by the scales),
      ``att_i = softmax over i of Z_i`` (eq. 8), ``Y_i = F_i ⊙ att_i``
      (eq. 9), output ``Cat(Y_0, ..., Y_{S-1})``.

    Parameters: ``Σ_i in·C'·k_i²/G_i + U(C', attn_groups) + 2·C'·h + h + C'``
    with U the :class:`DMSAUnit` count and h = max(1, C' // se_reduction).
    Its S·attn_groups position attentions over the H'·W' output positions
    cost O((H'W')²) time; memory stays bounded
    (:func:`~mmattn.models.attention._pairwise.pairwise_attention`).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels; divisible by ``len(kernels)``.
        stride (int): Stride of every branch conv. Default: 1.
        kernels (Sequence[int]): Odd kernel size per scale.
            Default: (3, 5, 7, 9).
        groups (Sequence[int]): Conv groups per scale; each must divide
            ``in_channels`` and C'. Default: (1, 4, 8, 16) (EPSANet Small).
        attn_groups (int): Feature groups G of the dual attention unit; C'
            must be divisible by 2·G (the paper gives no value). Default: 4.
        norm (str): Norm of the unit's spatial gate, ``'IN'`` (the paper),
            ``'BN'``, ``'GN'`` or ``'none'`` (paper Table 8). Default: 'IN'.
        se_reduction (int): Reduction of the shared SEWeight. Default: 16.
        chunk_size (int, optional): Query positions per attention call;
            ``None`` for one call. Default: 2048.
        init_cfg (dict, optional): mmengine init config. By default
            EPSANet's init for the convs and the unit's own, re-applied in
            :meth:`init_weights` after a backbone's init.
    """

    _abbr_ = 'dmsa'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 kernels: Sequence[int] = (3, 5, 7, 9),
                 groups: Sequence[int] = (1, 4, 8, 16),
                 attn_groups: int = 4,
                 norm: str = 'IN',
                 se_reduction: int = 16,
                 chunk_size: Optional[int] = 2048,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(in_channels, out_channels, stride, kernels, groups,
                         se_reduction, init_cfg)
        check_positive_int('DMSA', 'attn_groups', attn_groups, MAX_CHANNELS)
        if self.branch_channels % (2 * attn_groups):
            raise ValueError(
                f'DMSA: attn_groups={attn_groups!r} is invalid; out_channels '
                f'/ len(kernels) = {self.branch_channels} must be divisible '
                f'by 2*attn_groups={2 * attn_groups}.')
        check_choice('DMSA', 'norm', norm, SPATIAL_NORMS)
        if chunk_size is not None:
            check_positive_int('DMSA', 'chunk_size', chunk_size)
        self.dual_attention = DMSAUnit(
            self.branch_channels, attn_groups, norm=norm,
            chunk_size=chunk_size)

    def refine_scales(self, feats: Tensor) -> Tensor:
        # The unit shared by the scales runs once, the scales folded into
        # the batch.
        batch, channels, height, width = feats.shape
        folded = feats.reshape(batch * self.scales, self.branch_channels,
                               height, width)
        refined = self.dual_attention(folded).reshape(feats.shape)
        return keep_memory_format(refined, feats)
