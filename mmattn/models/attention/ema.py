"""Efficient Multi-Scale Attention (Ouyang et al., "Efficient Multi-Scale
Attention Module with Cross-Spatial Learning", ICASSP 2023)."""
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

        # Directional means (eqs. 1-2), then the shared 1×1 conv on both at
        # once as one product: it is position-wise, so concatenating the
        # directions along the spatial axis shares its weights exactly.
        pooled = torch.cat([g.mean(3), g.mean(2)], dim=2)
        hw = (torch.matmul(self.conv1x1.weight.flatten(1), pooled) +
              self.conv1x1.bias[:, None]).sigmoid()
        gate_h, gate_w = hw.split([height, width], dim=2)
        # One full-size gate, then one product with g: two broadcasts over
        # short rows cost more than the outer product.
        gate = gate_h[..., None] * gate_w[:, :, None]
        x1 = norm_any_size(self.gn, g * gate)
        x2 = self._conv3x3(x, g)

        # GAP(x1) is the GroupNorm bias: each channel is normalised on its
        # own, so a1 is the same learned constant for every input.
        a1 = self.gn.bias.softmax(dim=0)
        a2 = x2.mean((2, 3)).softmax(dim=-1).unsqueeze(1)
        weights = torch.baddbmm(
            torch.matmul(a1, x2.flatten(2)).unsqueeze(1), a2, x1.flatten(2))
        out = g * weights.reshape(batch * groups, 1, height,
                                  width).sigmoid()
        return keep_memory_format(
            out.reshape(batch, channels, height, width), x)

    def _conv3x3(self, x: Tensor, g: Tensor) -> Tensor:
        """The 3×3 conv shared by the groups, on g (B·G, Cg, H, W). With few
        channels per group (Cg < 16) oneDNN runs it several times faster
        as one grouped conv over x with the weight repeated per group."""
        conv = self.conv3x3
        if x.device.type != 'cpu' or g.shape[1] >= 16:
            return conv(g)
        groups = self.groups
        out = F.conv2d(x, conv.weight.repeat(groups, 1, 1, 1),
                       conv.bias.repeat(groups), padding=1, groups=groups)
        return out.reshape(g.shape)

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
