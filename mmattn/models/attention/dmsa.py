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

    No public code exists; this is mmattn's reading of the paper (see
    MODULE_SPECS §5): EPSANet's pyramid split attention with DMSANet's dual
    attention unit between the multi-scale convs and the scale softmax.
    With S = ``len(kernels)`` scales and C' = ``out_channels / S``:

    * multi-scale split (§3.5, as PSA): ``X_i = Conv(k_i × k_i, G_i)(X)``,
      every branch over the whole input (as the EPSANet code, see
      :class:`PSA`), C' channels each, stride on every branch;
    * ``F_i = DMSAUnit(X_i)`` (§3.1-3.4, eq. 7): channel attention on one
      half of each of the ``attn_groups`` feature groups, IN-gated position
      attention on the other, concatenated and shuffled;
    * ``Z_i = SEWeight(F_i)``: GAP → 1×1 conv C'→h (bias) → ReLU → 1×1 conv
      h→C' (bias) → sigmoid, h = max(1, C' // se_reduction). The paper's
      eq. 8 softmaxes a Z_i it does not define; it is the EPSANet equation it
      copies, whose Z_i is this SEWeight output;
    * ``att_i = softmax over i of Z_i`` per channel (eq. 8),
      ``Y_i = F_i ⊙ att_i`` (eq. 9), output ``Cat(Y_0, ..., Y_{S-1})``.

    One DMSAUnit and one SEWeight are shared by the S scales, which are
    folded into the batch: EPSANet shares its SEWeight the same way, and the
    paper's point is a lightweight module (a unit per scale would multiply
    its parameters by S without any hint of it in the paper).

    Parameters: ``Σ_i in·C'·k_i²/G_i + U(C', attn_groups) + 2·C'·h + h + C'``
    with U the :class:`DMSAUnit` count ``c² + 3c + 2d(c + 1) + 2``,
    c = C'/(2·attn_groups), d = max(1, c // 8).

    Cost: S·attn_groups position attentions over the H'·W' output
    positions, O(N²) in time (memory stays bounded, see
    :func:`~mmattn.models.attention._pairwise.pairwise_attention`). At
    detection resolution stage 1 dominates the whole backbone.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels; divisible by ``len(kernels)``.
        stride (int): Stride of every branch conv. Default: 1.
        kernels (Sequence[int]): Odd kernel size per scale.
            Default: (3, 5, 7, 9).
        groups (Sequence[int]): Conv groups per scale; each must divide
            ``in_channels`` and C'. Default: (1, 4, 8, 16) (EPSANet Small).
        attn_groups (int): Feature groups G of the dual attention unit; C'
            must be divisible by 2·G. The paper gives no value. The default
            4 gives c = 2, 4, 8, 16 channels per half in ResNet-50 stages 1-4
            (C' = 16 ... 128), the same as shuffle attention's G = 64 on its
            256 ... 2048 channels, and works down to C' = 8. Default: 4.
        norm (str): Norm of the unit's spatial gate, ``'IN'`` (the paper),
            ``'BN'``, ``'GN'`` or ``'none'`` (paper Table 8). Default: 'IN'.
        se_reduction (int): Reduction of the shared SEWeight. Default: 16.
        chunk_size (int, optional): Query positions per attention call;
            ``None`` for one call. Default: 2048.
        init_cfg (dict, optional): mmengine init config. By default the
            branch and SEWeight convs get EPSANet's init, weight ~
            normal(0, sqrt(2 / (k·k·out))) and PyTorch's default bias, and
            the unit its own (see :class:`DMSAUnit`); :meth:`init_weights`
            re-applies them so that a backbone's init does not overwrite
            them.
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
