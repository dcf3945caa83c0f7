"""Convolutional Block Attention Module (Woo et al., "CBAM: Convolutional
Block Attention Module", ECCV 2018)."""
from typing import Tuple

import torch
from mmengine.model import constant_init, kaiming_init
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.attention.connectable import Link
from mmattn.models.utils import (batch_norm_any_size, check_bool,
                                 check_odd_kernel, match_spatial)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class CBAM(AttentionModule):
    """Convolutional Block Attention Module: a channel gate, then a spatial
    gate.

    Channel gate (paper eq. 2): ``M_c = σ(MLP(AvgPool(F)) + MLP(MaxPool(F)))``
    with one MLP (C → C/r → C, ReLU between, both layers with bias as in the
    authors' code) shared by the two pooled descriptors; ``F' = F · M_c``.
    Spatial gate (eq. 3): ``M_s = σ(f^{k×k}([AvgPool_c(F'); MaxPool_c(F')]))``
    pooling across channels, ``F'' = F' · M_s``; as in the authors' code the
    k×k convolution has no bias and is followed by BatchNorm (absent from the
    paper's equation), and the max map comes first (the order matters only
    for loading their weights). A module adds ``2·C·⌊C/r⌋ + ⌊C/r⌋ + C``
    parameters for the channel gate and ``2k² + 2`` for the spatial gate.

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), as in the paper's CBAM-ResNets.

    Connectable (DCA): each gate is an extraction and a transform,
    :meth:`extract_channel` / :meth:`transform_channel` and
    :meth:`extract_spatial` / :meth:`transform_spatial`; :meth:`forward` fuses
    them with the input in order. DCA passes on the channel-refined map
    ``F'`` as channel state and the full output ``F''`` as spatial state.

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Reduction ratio r of the channel MLP. Default: 16.
        spatial_kernel_size (int): Odd kernel size k of the spatial
            convolution. Default: 7.
        channel (bool): Build and apply the channel gate. Default: True.
        spatial (bool): Build and apply the spatial gate. Default: True.
        init_cfg (dict, optional): mmengine init config. By default the
            authors' initialisation: MLP weights PyTorch's default and biases
            zero, spatial convolution Kaiming normal (fan_out), spatial BN
            weight and bias zero, so the spatial gate starts at exactly 0.5;
            :meth:`init_weights` re-applies it after a backbone's own init.
    """

    _abbr_ = 'cbam'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 spatial_kernel_size: int = 7,
                 channel: bool = True,
                 spatial: bool = True,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.check_reduction(reduction)
        check_odd_kernel('CBAM', 'spatial_kernel_size', spatial_kernel_size)
        check_bool('CBAM', 'channel', channel)
        check_bool('CBAM', 'spatial', spatial)
        if not (channel or spatial):
            raise ValueError('CBAM: channel=False is invalid; with '
                             'spatial=False too, no gate would be applied.')
        self.with_channel = channel
        self.with_spatial = spatial
        if channel:
            hidden = in_channels // reduction
            self.channel_mlp = nn.Sequential(
                nn.Linear(in_channels, hidden), nn.ReLU(),
                nn.Linear(hidden, in_channels))
        if spatial:
            self.spatial_conv = nn.Conv2d(
                2,
                1,
                spatial_kernel_size,
                padding=spatial_kernel_size // 2,
                bias=False)
            # The authors' BN settings (momentum 0.01).
            self.spatial_bn = nn.BatchNorm2d(1, momentum=0.01)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.with_channel:
            for layer in (self.channel_mlp[0], self.channel_mlp[2]):
                layer.reset_parameters()
                nn.init.zeros_(layer.bias)
        if self.with_spatial:
            kaiming_init(self.spatial_conv, mode='fan_out')
            constant_init(self.spatial_bn, 0)

    def extract_channel(self, x: Tensor) -> Tensor:
        """Average- and max-pooled descriptors: (B, C, H, W) -> (B, 2, C)."""
        return torch.stack((x.mean((2, 3)), x.amax((2, 3))), dim=1)

    def transform_channel(self, context: Tensor) -> Tensor:
        """Channel gate from the pooled descriptors: (B, 2, C) ->
        (B, C, 1, 1)."""
        logits = self.channel_mlp(context).sum(1)
        return logits.sigmoid().reshape(*logits.shape, 1, 1)

    def extract_spatial(self, x: Tensor) -> Tensor:
        """Channel max and mean maps: (B, C, H, W) -> (B, 2, H, W)."""
        return torch.cat((x.amax(1, keepdim=True), x.mean(1, keepdim=True)),
                         dim=1)

    def transform_spatial(self, context: Tensor) -> Tensor:
        """Spatial gate from the pooled maps: (B, 2, H, W) -> (B, 1, H, W)."""
        logits = batch_norm_any_size(self.spatial_bn,
                                     self.spatial_conv(context))
        return logits.sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        if self.with_channel:
            x = x * self.transform_channel(self.extract_channel(x))
        if self.with_spatial:
            x = x * self.transform_spatial(self.extract_spatial(x))
        return x

    def dca_links(self) -> Tuple[Link, ...]:
        """DCA connects each enabled gate, channel first (see
        :class:`CBAMChannelLink`, :class:`CBAMSpatialLink`)."""
        return tuple(link for link, enabled in (
            (CBAMChannelLink(), self.with_channel),
            (CBAMSpatialLink(), self.with_spatial)) if enabled)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """What this module applies to ``x``, for pictures
        (``tools/visualization/attention_maps.py``): the enabled gates,
        channel (B, C) and spatial (B, H, W), the latter on the
        channel-refined map as in :meth:`forward`."""
        maps = {}
        if self.with_channel:
            gate = self.transform_channel(self.extract_channel(x))
            maps['channel'] = gate.flatten(1)
            x = x * gate
        if self.with_spatial:
            gate = self.transform_spatial(self.extract_spatial(x))
            maps['spatial'] = gate[:, 0]
        return maps


class CBAMChannelLink(Link):
    """How DCA connects CBAM's channel gate: contexts are the avg- and
    max-pooled descriptors (B, 2, C), which share the connection (the
    authors' Conv2d(2 → 1, no bias) + LayerNorm + ReLU) and the matching.
    The state is what the next block extracts from the channel-refined map
    F' = x·M_c, its avg- and max-pooled descriptors (B, 2, C). The gate M_c
    is positive and constant over H×W, so they are this block's pooled x
    times M_c, and F' is never read again."""

    bias = False

    def extract(self, attention, features):
        return attention.extract_channel(features)

    def transform(self, attention, context):
        return attention.transform_channel(context)

    def state(self, context, weights, out):
        return context * weights.flatten(1).unsqueeze(1)


class CBAMSpatialLink(Link):
    """How DCA connects CBAM's spatial gate: contexts are the channel max
    and mean maps (B, 2, H, W). The state is the full CBAM output F''; the
    next block average-pools it to its size (paper §3.3), then extracts its
    maps. The authors' connection ``BN(2)(p1·G + p2·T̃)`` + ReLU, p1 = 1 and
    p2 = 0 initially; unlike theirs, the BN starts with weight 1 (their init
    zeroes it, which cuts the gradient to p1 and p2 and leaves the
    connection unused)."""

    key = 'spatial'
    spatial = True
    bias = False
    alpha = 0.0

    def connection_norm(self, channels):
        return nn.BatchNorm2d(2)

    def extract(self, attention, features):
        return attention.extract_spatial(features)

    def previous(self, attention, state, context):
        return attention.extract_spatial(
            match_spatial(state, context.shape[-2:]))

    def transform(self, attention, context):
        return attention.transform_spatial(context)

    def state(self, context, weights, out):
        return out
