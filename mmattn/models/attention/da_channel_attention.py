"""DANet channel attention module (Fu et al., "Dual Attention Network for
Scene Segmentation", CVPR 2019)."""
import torch
from torch import Tensor, nn

from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import keep_memory_format
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class DAChannelAttention(AttentionModule):
    """DANet channel attention module (CAM).

    With A reshaped to (C, N): the channel affinity is ``E = A Aᵀ`` (C×C),
    ``X = softmax(E)`` row-wise (paper eq. 3) and the output is
    ``E_j = β Σ_i x_ji A_i + A_j`` (eq. 4) with the scalar β initialised to 0,
    so the module starts as the identity. Its only parameter is β.

    Paper vs code: the authors' released code applies the softmax to
    ``max_i(E) − E`` rather than to E. The row maximum is a per-row constant,
    so that is ``softmax(−E)``: each channel attends most to the channels
    *least* similar to it, the opposite of eq. 3. mmattn follows the code
    (the behaviour behind the published results).

    Natural position: ``after_conv3`` of a bottleneck. The C×C affinity is
    cheap (O(C²·N) time, O(C²) memory) at any resolution.

    Args:
        in_channels (int): Channels C of the input (the module has no
            channel-dependent parameters; kept for the plugin contract).
        init_cfg (dict, optional): mmengine init config. By default β is 0,
            re-applied in :meth:`init_weights` so that a backbone's init does
            not overwrite it.
    """

    _abbr_ = 'da_channel_attention'
    _short_name_ = 'cam'  # in the analysis tools' model names: cam-r50

    def __init__(self, in_channels: int, init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.beta = nn.Parameter(torch.zeros(1))

    def reset_parameters(self) -> None:
        nn.init.zeros_(self.beta)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        feats = x.flatten(2)
        energy = feats @ feats.transpose(1, 2)
        attn = torch.softmax(
            energy.amax(dim=-1, keepdim=True) - energy, dim=-1)
        out = (attn @ feats).reshape(x.shape)
        return keep_memory_format(self.beta * out + x, x)
