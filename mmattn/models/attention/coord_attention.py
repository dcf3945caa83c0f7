"""Coordinate attention (Hou, Zhou and Feng, "Coordinate Attention for
Efficient Mobile Network Design", CVPR 2021)."""
import torch
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import check_cfg, check_positive_int
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class CoordAttention(AttentionModule):
    """Coordinate attention: channel gates that keep one spatial axis.

    Coordinate information embedding: ``z^h = mean_W(x)`` (C×H) and
    ``z^w = mean_H(x)`` (C×W). Coordinate attention generation: the two are
    concatenated along the spatial axis and share one transform
    ``f = δ(BN(F1([z^h, z^w])))``, F1 a 1×1 conv C→mip with bias,
    mip = max(8, C // r), δ h-swish; ``f`` is split back into f^h, f^w and
    ``g^h = σ(F_h(f^h))``, ``g^w = σ(F_w(f^w))``, F_h and F_w 1×1 convs
    mip→C with bias. Output ``y_c(i, j) = x_c(i, j)·g^h_c(i)·g^w_c(j)``.

    Parameters per module: ``3·C·mip + 3·mip + 2·C`` (F1 C·mip + mip, BN
    2·mip, F_h and F_w mip·C + C each).

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add).

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Reduction ratio r. Default: 32.
        norm_cfg (dict): Norm after F1. Default: BN, as the authors. Under
            ``norm_eval=True`` its statistics stay frozen; use SyncBN or GN
            where that matters.
        act_cfg (dict): Activation δ. Default: h-swish, as the authors.
        init_cfg (dict, optional): mmengine init config. By default
            :meth:`init_weights` applies the authors' initialisation (convs
            normal(0, sqrt(2/(k·k·out))) with zero bias, norm weight 1 and
            bias 0), so that it survives a backbone's own init.
    """

    _abbr_ = 'coord_attention'
    _short_name_ = 'ca'  # in the analysis tools' model names: ca-r50

    def __init__(self,
                 in_channels: int,
                 reduction: int = 32,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='HSwish'),
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        check_positive_int('CoordAttention', 'reduction', reduction)
        check_cfg('CoordAttention', 'norm_cfg', norm_cfg)
        check_cfg('CoordAttention', 'act_cfg', act_cfg)
        mid_channels = max(8, in_channels // reduction)
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 1)
        self.bn1 = build_norm_layer(norm_cfg, mid_channels)[1]
        self.act = build_activation_layer(act_cfg)
        self.conv_h = nn.Conv2d(mid_channels, in_channels, 1)
        self.conv_w = nn.Conv2d(mid_channels, in_channels, 1)

    def reset_parameters(self) -> None:
        for conv in (self.conv1, self.conv_h, self.conv_w):
            kaiming_init(conv, mode='fan_out', nonlinearity='relu',
                         distribution='normal')
        constant_init(self.bn1, 1)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        height, width = x.shape[2:]
        # Plain means instead of AdaptiveAvgPool2d((None, 1)): same values,
        # faster on CPU and exportable to ONNX.
        pooled_h = x.mean(3, keepdim=True)
        pooled_w = x.mean(2, keepdim=True).transpose(2, 3)
        y = self.act(self.bn1(self.conv1(
            torch.cat([pooled_h, pooled_w], dim=2))))
        y_h, y_w = torch.split(y, [height, width], dim=2)
        gate_h = self.conv_h(y_h).sigmoid()
        gate_w = self.conv_w(y_w.transpose(2, 3)).sigmoid()
        return x * gate_w * gate_h

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """What this module applies to ``x``, for pictures
        (``tools/visualization/attention_maps.py``): its gates
        ``g^h_c(i)·g^w_c(j)`` averaged over the channels (B, H, W)."""
        height, width = x.shape[2:]
        pooled = torch.cat(
            [x.mean(3, keepdim=True), x.mean(2, keepdim=True).transpose(2, 3)],
            dim=2)
        y_h, y_w = torch.split(
            self.act(self.bn1(self.conv1(pooled))), [height, width], dim=2)
        gates = (self.conv_h(y_h).sigmoid() *
                 self.conv_w(y_w.transpose(2, 3)).sigmoid())
        return {'spatial': gates.mean(1)}
