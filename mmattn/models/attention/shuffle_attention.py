"""Shuffle attention (Zhang and Yang, "SA-Net: Shuffle Attention for Deep
Convolutional Neural Networks", ICASSP 2021)."""
import torch
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (MAX_CHANNELS, check_divisible,
                                 check_positive_int, group_norm_any_size,
                                 group_halves, keep_memory_format, shuffled_view)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class ShuffleAttention(AttentionModule):
    """Shuffle attention: grouped channel and spatial gates.

    The C channels are split into G groups and every group into two halves
    of c = C/(2G) channels; the weights below are shared by all groups.

    * channel half ``x_k``: ``x_k · σ(W1·GAP(x_k) + b1)``;
    * spatial half ``x_s``: ``x_s · σ(W2·GN(x_s) + b2)``, GN a GroupNorm
      with c groups (one channel each) and its own affine;

    W1, b1, W2, b2 are per-channel scales and shifts (c values each). The
    halves are concatenated, the groups put back to C channels and a
    channel shuffle with 2 groups lets information flow between groups.

    Parameters per module: ``6·C/(2G) = 3C/G``.

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), where the authors place it.

    Args:
        in_channels (int): Channels C of the input; must be divisible by
            ``2 * groups``.
        groups (int): Number of groups G. Default: 64.
        init_cfg (dict, optional): mmengine init config. By default
            :meth:`init_weights` applies the authors' initialisation (W1 = W2
            = 0, b1 = b2 = 1, GroupNorm affine 1 and 0), so that it survives a
            backbone's own init.
    """

    _abbr_ = 'shuffle_attention'
    _short_name_ = 'sa'  # in the analysis tools' model names: sa-r50

    def __init__(self, in_channels: int, groups: int = 64,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        check_positive_int('ShuffleAttention', 'groups', groups, MAX_CHANNELS)
        check_divisible('ShuffleAttention', 'in_channels', in_channels,
                        2 * groups, '2*groups')
        self.groups = groups
        half = in_channels // (2 * groups)
        # Shapes and names as in the authors' code, so their checkpoints map.
        self.cweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, half, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, half, 1, 1))
        self.gn = nn.GroupNorm(half, half)

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.cweight)
        nn.init.ones_(self.cbias)
        nn.init.zeros_(self.sweight)
        nn.init.ones_(self.sbias)
        self.gn.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        x_channel, x_spatial = group_halves(x, self.groups)

        channel_gate = torch.sigmoid(
            self.cweight * x_channel.mean((2, 3), keepdim=True) + self.cbias)
        # GN's affine followed by (W2, b2) is a single affine map: fold them
        # so that the normalised map is written once instead of three times.
        sweight = self.sweight.flatten()
        spatial_gate = group_norm_any_size(
            x_spatial, self.gn.num_groups, sweight * self.gn.weight,
            sweight * self.gn.bias + self.sbias.flatten(),
            self.gn.eps).sigmoid_()

        # One full-size gate, then one product of the two channel-shuffled
        # views: it writes the shuffled output directly, where gating the
        # halves, concatenating and shuffling would write it three times.
        gate = torch.cat([channel_gate.expand_as(x_channel), spatial_gate],
                         dim=1).reshape(x.shape)
        out = shuffled_view(x, 2) * shuffled_view(gate, 2)
        return keep_memory_format(out.reshape(x.shape), x)
