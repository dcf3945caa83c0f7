"""Triplet attention (Misra, Nalamada, Arasanipalai and Hou, "Rotate to
Attend: Convolutional Triplet Attention Module", WACV 2021)."""
import torch
from mmcv.cnn import build_norm_layer
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (check_bool, check_cfg, check_odd_kernel,
                                 norm_any_size)
from mmattn.registry import PLUGIN, register


def _z_pool(x: Tensor, dim: int) -> Tensor:
    """Z-pool: max and mean over ``dim``, stacked as two channels (dim 1)."""
    return torch.stack([x.amax(dim), x.mean(dim)], dim=1)


@register(PLUGIN)
class TripletAttention(AttentionModule):
    """Triplet attention: three gates, each on a pair of the (C, H, W) axes.

    Each branch looks at the input rotated so that one axis becomes the
    "channel" axis, Z-pools over it (``[max, mean]``, 2 maps), applies a
    k×k conv (2→1, no bias), BatchNorm and a sigmoid, multiplies the
    rotated input by that gate and rotates back:

    * C-W branch (``cw``): pool over H, gate on the C×W plane;
    * H-C branch (``hc``): pool over W, gate on the H×C plane;
    * H-W branch (``hw``): pool over C, gate on the H×W plane (a CBAM-style
      spatial gate).

    Output: the average of the three branch outputs,
    ``y = x·(σ_cw + σ_hc + σ_hw)/3`` (``(σ_cw + σ_hc)/2`` with
    ``no_spatial``). The gates are broadcast against x instead of rotating x
    itself: the same values without the authors' three copies of the input.
    Each gate's conv keeps the authors' orientation ((C, W) and (H, C)), so
    their weights load unchanged.

    Parameters per module: ``3·(2·k² + 2)`` (``2·(2·k² + 2)`` with
    ``no_spatial``); 300 for k = 7.

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), where the authors place it.

    Args:
        in_channels (int): Channels C of the input (the gates do not depend
            on it; kept for the plugin contract).
        kernel_size (int): Odd gate conv size k. Default: 7.
        no_spatial (bool): Drop the H-W branch (the authors' option).
            Default: False.
        norm_cfg (dict): Norm after each gate conv. Default: BN with the
            authors' momentum 0.01 (frozen under ``norm_eval=True``).
        init_cfg (dict, optional): mmengine init config. By default
            :meth:`init_weights` applies the authors' detection-backbone
            initialisation (gate convs Kaiming normal, fan_out; norm weight 1,
            bias 0), so that it survives a backbone's own init.
    """

    _abbr_ = 'triplet_attention'
    _short_name_ = 'triplet'  # in the analysis tools' names: triplet-r50

    def __init__(self,
                 in_channels: int,
                 kernel_size: int = 7,
                 no_spatial: bool = False,
                 norm_cfg: dict = dict(type='BN', momentum=0.01),
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        check_odd_kernel('TripletAttention', 'kernel_size', kernel_size)
        check_bool('TripletAttention', 'no_spatial', no_spatial)
        check_cfg('TripletAttention', 'norm_cfg', norm_cfg)
        self.no_spatial = no_spatial
        self.branch_names = ('cw', 'hc') if no_spatial else ('cw', 'hc',
                                                             'hw')
        for name in self.branch_names:
            self.add_module(
                name,
                nn.Sequential(
                    nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2,
                              bias=False),
                    build_norm_layer(norm_cfg, 1)[1]))

    def reset_parameters(self) -> None:
        for name in self.branch_names:
            conv, norm = getattr(self, name)
            kaiming_init(conv, mode='fan_out', distribution='normal')
            constant_init(norm, 1)

    @staticmethod
    def _gate(branch: nn.Sequential, pooled: Tensor) -> Tensor:
        conv, norm = branch
        # One value per channel (the H-W gate on a batch of one 1×1 map)
        # has no batch statistics, and GroupNorm refuses single values.
        return norm_any_size(norm, conv(pooled)).sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        gates = [
            # pooled (B, 2, C, W); gate (B, 1, C, W) -> (B, C, 1, W)
            self._gate(self.cw, _z_pool(x, 2)).transpose(1, 2),
            # pooled (B, 2, C, H) -> (B, 2, H, C); gate -> (B, C, H, 1)
            self._gate(self.hc, _z_pool(x, 3).transpose(2, 3)).permute(
                0, 3, 2, 1),
        ]
        if not self.no_spatial:
            # pooled (B, 2, H, W); gate (B, 1, H, W)
            gates.append(self._gate(self.hw, _z_pool(x, 1)))
        # Average while the gates are still small: only the sums and the
        # final product touch full-size tensors, and the sums accumulate in
        # the first full-size one.
        scale = 1 / len(gates)
        total = gates[0] * scale + gates[1] * scale
        for gate in gates[2:]:
            total.add_(gate, alpha=scale)
        return x * total

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """What this module applies to ``x``, for pictures
        (``tools/visualization/attention_maps.py``): the H-W branch's
        spatial gate (B, H, W) (none with ``no_spatial``)."""
        if self.no_spatial:
            return {}
        return {'spatial': self._gate(self.hw, _z_pool(x, 1))[:, 0]}
