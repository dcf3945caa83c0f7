"""Efficient Multi-Scale Attention (Ouyang et al., "Efficient Multi-Scale
Attention Module with Cross-Spatial Learning", ICASSP 2023)."""
import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (check_divisible, check_positive_int,
                                 keep_memory_format, norm_any_size)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class EMA(AttentionModule):
    """Efficient multi-scale attention with cross-spatial learning.

    The C channels are split into G = ``factor`` groups of Cg = C/G channels
    that are folded into the batch axis, so every weight below is shared by
    all groups. For one group g (Cg×H×W):

    * 1×1 branch: directional average pools (paper eqs. 1-2)
      ``z^H = mean_W(g)``, ``z^W = mean_H(g)``, one shared 1×1 conv over
      their concatenation, ``x1 = GN(g · σ(z^H') · σ(z^W'))`` with a
      GroupNorm of Cg groups (one channel each);
    * 3×3 branch: ``x2 = Conv3×3(g)``;
    * cross-spatial learning: ``a1 = softmax(GAP(x1))``,
      ``a2 = softmax(GAP(x2))`` (eq. 3 then a softmax over the Cg channels),
      ``w = a1·x2 + a2·x1`` (matrix products over channels, giving one
      H×W map);
    * output ``g · σ(w)``, groups unfolded back to C channels.

    Every channel of x1 is normalised on its own, so ``GAP(x1)`` equals the
    GroupNorm bias whatever the input and a1 is a learned constant. This is
    what the authors' code computes and is kept as is.

    x2 enters only through ``a1·x2`` and ``GAP(x2)``, both linear in the
    conv, so the forward computes them without x2: ``a1·x2`` as one 3×3
    conv whose single output channel has the weights contracted by a1, and
    ``GAP(x2)`` from sums of g (see :meth:`_conv3x3_means`). Same function
    and parameters; the 9·Cg² multiply-adds per position of the 3×3 conv
    become 9·Cg, and x2 is neither computed nor kept for the backward pass.

    Parameters per module: ``10·Cg² + 4·Cg`` (3×3 conv 9Cg²+Cg, 1×1 conv
    Cg²+Cg, GroupNorm 2Cg).

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), as for CBAM and coordinate attention.

    Args:
        in_channels (int): Channels C of the input; must be divisible by
            ``factor``.
        factor (int): Number of groups G. Default: 32 (the paper's EMA_32).
        init_cfg (dict, optional): mmengine init config. By default the
            layers keep PyTorch's default initialisation (the authors' code
            sets none), re-applied in :meth:`init_weights` so that a
            backbone's Kaiming init does not overwrite it.
    """

    _abbr_ = 'ema'
    #: The paper's EMA_16 (Table 3) in the analysis tools' model names.
    _presets_ = {'ema16': dict(factor=16)}

    def __init__(self, in_channels: int, factor: int = 32,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        check_positive_int('EMA', 'factor', factor)
        check_divisible('EMA', 'in_channels', in_channels, factor, 'factor')
        self.groups = factor
        group_channels = in_channels // factor
        self.conv1x1 = nn.Conv2d(group_channels, group_channels, 1)
        self.conv3x3 = nn.Conv2d(
            group_channels, group_channels, 3, padding=1)
        self.gn = nn.GroupNorm(group_channels, group_channels)

    def reset_parameters(self) -> None:
        self.conv1x1.reset_parameters()
        self.conv3x3.reset_parameters()
        self.gn.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        batch, channels, height, width = x.shape
        groups = self.groups
        group_channels = channels // groups
        g = x.reshape(batch * groups, group_channels, height, width)

        # Directional sums (eqs. 1-2 as means), then the shared 1×1 conv on
        # both at once as one product: it is position-wise, so concatenating
        # the directions along the spatial axis shares its weights exactly.
        row_sums, column_sums = g.sum(3), g.sum(2)
        pooled = torch.cat([row_sums / width, column_sums / height], dim=2)
        hw = (torch.matmul(self.conv1x1.weight.flatten(1), pooled) +
              self.conv1x1.bias[:, None]).sigmoid()
        gate_h, gate_w = hw.split([height, width], dim=2)
        # One full-size gate, then one product with g: two broadcasts over
        # short rows cost more than the outer product.
        gate = gate_h[..., None] * gate_w[:, :, None]
        x1 = norm_any_size(self.gn, g * gate)

        # GAP(x1) is the GroupNorm bias: each channel is normalised on its
        # own, so a1 is the same learned constant for every input.
        a1 = self.gn.bias.softmax(dim=0)
        a2 = self._conv3x3_means(g, row_sums, column_sums).softmax(dim=-1)
        weights = torch.baddbmm(
            self._contracted_conv3x3(g, a1).flatten(1).unsqueeze(1),
            a2.unsqueeze(1), x1.flatten(2))
        out = g * weights.reshape(batch * groups, 1, height,
                                  width).sigmoid()
        return keep_memory_format(
            out.reshape(batch, channels, height, width), x)

    def _contracted_conv3x3(self, g: Tensor, a1: Tensor) -> Tensor:
        """a1·x2 of x2 = Conv3×3(g): (B·G, Cg, H, W) -> (B·G, H, W),
        without x2.

        Contracting the conv's Cg outputs with a1 leaves a conv with one
        output channel (9·Cg multiply-adds per position instead of 9·Cg²).
        oneDNN runs single-output convs badly, so it runs as one product
        giving the 9 taps' channel sums at every position, then the sum of
        the 9 maps, each padded so that it lands shifted by its tap offset
        (zero padding 1), cropped to H×W. Separate tap maps (not views of
        one tensor) keep the backward pass from writing a full-size zero
        gradient per tap.
        """
        conv = self.conv3x3
        batch_groups, group_channels, height, width = g.shape
        tap_weights = torch.tensordot(a1, conv.weight, 1).reshape(
            group_channels, 9)
        # bmm over the expanded weight: a broadcasting matmul would fold
        # the batch into one product and copy g to do so.
        taps = torch.bmm(
            tap_weights.t().expand(batch_groups, 9, group_channels),
            g.flatten(2)).reshape(batch_groups, 9, height, width).unbind(1)
        padded = sum(
            F.pad(tap, (2 - column, column, 2 - row, row))
            for (row, column), tap in zip(itertools.product(range(3),
                                                            repeat=2), taps))
        return padded[:, 1:height + 1, 1:width + 1] + a1 @ conv.bias

    def _conv3x3_means(self, g: Tensor, row_sums: Tensor,
                       column_sums: Tensor) -> Tensor:
        """GAP(x2) of x2 = Conv3×3(g), (B·G, Cg), without x2.

        The mean of a conv's output is the conv's weights applied to sums of
        its input: tap (k, l) of a 3×3 conv with zero padding 1 sees every
        input row but the last (k = 0) or the first (k = 2), and likewise
        columns, so its input sum is the total less one border row and one
        border column, plus their corner (inclusion-exclusion; exact for
        1-pixel maps too).
        """
        height, width = g.shape[2:]
        total = row_sums.sum(2)
        zeros = torch.zeros_like(total)
        # Per tap offset, the input row (column) the tap never sees.
        left_out_rows = torch.stack(
            [row_sums[..., -1], zeros, row_sums[..., 0]], dim=-1)
        left_out_columns = torch.stack(
            [column_sums[..., -1], zeros, column_sums[..., 0]], dim=-1)
        corners = g.new_zeros(*g.shape[:2], 3, 3)
        corners[..., ::2, ::2] = g[:, :, [-1, 0]][..., [-1, 0]]
        tap_sums = (total[..., None, None] - left_out_rows[..., :, None] -
                    left_out_columns[..., None, :] + corners)
        conv = self.conv3x3
        return (torch.einsum('ockl,nckl->no', conv.weight, tap_sums) /
                (height * width) + conv.bias)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """What this module applies to ``x``, for pictures
        (``tools/visualization/attention_maps.py``): the cross-spatial
        weights σ(w) (B, H, W), averaged over the groups. The output is
        ``g·σ(w)`` with one σ(w) per group and position, so σ(w) is
        ``Σ_c y·g / Σ_c g²`` over the group's channels; where g is zero
        σ(w) has no effect and is not averaged (0.5 where no group has
        any)."""
        batch, channels, height, width = x.shape
        g = x.reshape(batch, self.groups, channels // self.groups, height,
                      width)
        y = self.forward(x).reshape(g.shape)
        energy = (g * g).sum(2)
        weights = (y * g).sum(2) / energy.clamp_min(1e-12)
        weights = torch.where(energy > 1e-12, weights, float('nan'))
        return {'spatial': weights.nanmean(1).nan_to_num(0.5)}
