"""Dual attention unit of DMSANet (Sagar, "DMSANet: Dual Multi Scale
Attention Network", arXiv:2106.08382, 2021; the project's copy is the
anonymous double-blind submission of the same paper)."""
from typing import Optional

import torch
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.attention.da_channel_attention import DAChannelAttention
from mmattn.models.attention.da_position_attention import DAPositionAttention
from mmattn.models.utils import (MAX_CHANNELS, channel_shuffle, check_choice,
                                 check_divisible, check_positive_int,
                                 group_halves, keep_memory_format, norm_any_size)
from mmattn.registry import PLUGIN, register

#: Norms of the spatial gate (paper Table 8's variants).
SPATIAL_NORMS = ('IN', 'BN', 'GN', 'none')


def _spatial_norm(norm: str, channels: int) -> nn.Module:
    # No affine: the gate's own per-channel (W, b) is the affine map.
    if norm == 'IN':
        # GroupNorm with one channel per group is instance norm, but unlike
        # nn.InstanceNorm2d it also accepts a 1×1 map in training mode.
        return nn.GroupNorm(channels, channels, affine=False)
    if norm == 'GN':
        return nn.GroupNorm(1, channels, affine=False)
    if norm == 'BN':
        return nn.BatchNorm2d(channels, affine=False)
    return nn.Identity()


@register(PLUGIN)
class DMSAUnit(AttentionModule):
    """DMSANet's dual attention unit on a feature map (paper §3.1-3.4).

    No public code exists; this is mmattn's reading of the paper (README,
    "DMSANet: how mmattn reads the paper"). As in shuffle attention, the C
    channels are split into G groups and every group into two halves of
    c = C/(2G) channels:

    * channel half A: DANet channel attention, ``β·(X·A) + A`` with
      ``X = softmax(A Aᵀ)`` (eqs. 3-4; :class:`DAChannelAttention`, β = 0 at
      init);
    * spatial half A: the gate ``A' = σ(W·norm(A) + b)·A`` (§3.3; W, b of
      shape c×1×1, norm = instance norm by default, the Table 8 ablation's
      BN/GN/no-norm variants via ``norm``), then DANet position attention
      ``α·(D·Sᵀ) + A'`` (eqs. 5-6; :class:`DAPositionAttention` with query/
      key width max(1, c/8), α = 0 at init);
    * the halves are concatenated, the groups put back to C channels and a
      channel shuffle with 2 groups mixes them (§3.4).

    All weights are shared by the G groups, which are folded into the batch
    (as shuffle attention does; the paper's W, b of shape C/2G×1×1 say the
    same). So the unit is tiny, ``c² + 3c + 2d(c + 1) + 2`` parameters with
    d = max(1, c // 8), but it computes G position attentions of N = H·W
    positions each: O(G·N²·c) time. Memory stays bounded (no N×N matrix, see
    :func:`~mmattn.models.attention._pairwise.pairwise_attention`).

    With W = 0, b = 1 (as shuffle attention) and α = β = 0 the unit starts
    as a constant gate σ(1) on the spatial half followed by the shuffle.

    Natural position: ``after_conv3`` of a bottleneck. DMSANet itself uses it
    inside :class:`DMSA`, the replacement of the 3×3 conv.

    Args:
        in_channels (int): Channels C; divisible by ``2 * groups``.
        groups (int): Number of groups G. Default: 32.
        norm (str): Normalisation in the spatial gate: ``'IN'`` (the paper),
            ``'BN'``, ``'GN'`` (one group over the c channels) or ``'none'``.
            None has an affine: W, b act as one. Default: ``'IN'``.
        chunk_size (int, optional): Query positions per attention call;
            ``None`` for one call. Default: 2048.
        init_cfg (dict, optional): mmengine init config. By default W = 0,
            b = 1, α = β = 0 and PyTorch's default init of the position
            attention's convs, re-applied in :meth:`init_weights`.
    """

    _abbr_ = 'dmsa_unit'

    def __init__(self,
                 in_channels: int,
                 groups: int = 32,
                 norm: str = 'IN',
                 chunk_size: Optional[int] = 2048,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        check_positive_int('DMSAUnit', 'groups', groups, MAX_CHANNELS)
        check_divisible('DMSAUnit', 'in_channels', in_channels, 2 * groups,
                        '2*groups')
        check_choice('DMSAUnit', 'norm', norm, SPATIAL_NORMS)
        if chunk_size is not None:
            check_positive_int('DMSAUnit', 'chunk_size', chunk_size)
        self.groups = groups
        half = in_channels // (2 * groups)
        self.channel_attention = DAChannelAttention(half)
        self.gate_weight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.gate_bias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.gate_norm = _spatial_norm(norm, half)
        # The paper's C/8 query/key width, at least one channel.
        self.position_attention = DAPositionAttention(
            half, reduction=min(8, half), chunk_size=chunk_size)

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.gate_weight)
        nn.init.ones_(self.gate_bias)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        x_channel, x_spatial = group_halves(x, self.groups)
        gate = torch.sigmoid(
            self.gate_weight * norm_any_size(self.gate_norm, x_spatial) +
            self.gate_bias)
        out = torch.cat([
            self.channel_attention(x_channel),
            self.position_attention(x_spatial * gate)
        ], dim=1)
        out = channel_shuffle(out.reshape(x.shape), 2)
        return keep_memory_format(out, x)
