"""Efficient Multi-Scale Attention (Ouyang et al., "Efficient Multi-Scale
Attention Module with Cross-Spatial Learning", ICASSP 2023)."""
import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmattn.models.utils import (check_divisible, check_positive_int,
                                 norm_any_size)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class EMA(BaseModule):
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
        super().__init__(init_cfg=init_cfg)
        check_positive_int('EMA', 'factor', factor)
        check_divisible('EMA', 'in_channels', in_channels, factor, 'factor')
        self.groups = factor
        group_channels = in_channels // factor
        self.conv1x1 = nn.Conv2d(group_channels, group_channels, 1)
        self.conv3x3 = nn.Conv2d(
            group_channels, group_channels, 3, padding=1)
        self.gn = nn.GroupNorm(group_channels, group_channels)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            self.conv1x1.reset_parameters()
            self.conv3x3.reset_parameters()
            self.gn.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        groups = self.groups
        g = x.reshape(batch * groups, channels // groups, height, width)

        # Plain means instead of AdaptiveAvgPool2d((None, 1)): same values,
        # faster on CPU and exportable to ONNX.
        pooled_h = g.mean(3, keepdim=True)
        pooled_w = g.mean(2, keepdim=True).transpose(2, 3)
        # One conv call for both directions: a 1×1 conv is position-wise, so
        # concatenating along the spatial axis shares its weights exactly.
        hw = self.conv1x1(torch.cat([pooled_h, pooled_w], dim=2))
        gate_h, gate_w = torch.split(hw, [height, width], dim=2)
        x1 = norm_any_size(
            self.gn, g * gate_h.sigmoid() * gate_w.transpose(2, 3).sigmoid())
        x2 = self.conv3x3(g)

        a1 = x1.mean((2, 3)).softmax(dim=-1).unsqueeze(1)
        a2 = x2.mean((2, 3)).softmax(dim=-1).unsqueeze(1)
        weights = (torch.matmul(a1, x2.flatten(2)) +
                   torch.matmul(a2, x1.flatten(2)))
        weights = weights.reshape(batch * groups, 1, height, width)
        return (g * weights.sigmoid()).reshape(batch, channels, height, width)

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
