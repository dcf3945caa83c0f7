"""Efficient Channel Attention (Wang et al., "ECA-Net: Efficient Channel
Attention for Deep Convolutional Neural Networks", CVPR 2020)."""
from typing import Optional

from torch import Tensor, nn

from mmattn.models.attention.base import ChannelGate
from mmattn.models.utils import check_odd_kernel, eca_kernel_size
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class ECA(ChannelGate):
    """Efficient Channel Attention.

    ``y = GAP(x)``, ``ω = σ(C1D_k(y))`` (paper eq. 7: one 1-D convolution
    across the channel axis, shared by all channels, no bias, no dimension
    reduction) and output ``x · ω``. The kernel size adapts to the channel
    count, ``k = ψ(C) = |log2(C)/γ + b/γ|_odd`` with γ=2, b=1 (eq. 12), so a
    module has exactly ``k`` parameters (k=5 for C=256).

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), as in the authors' ECA-ResNets.

    The three steps are separate methods so that other modules can reuse
    them: :meth:`extract` (GAP), :meth:`transform` (the gate) and
    :meth:`forward` (their product with ``x``).

    Args:
        in_channels (int): Channels C of the input.
        kernel_size (int, optional): Odd kernel size k of the 1-D
            convolution. Default: None, meaning the adaptive ``ψ(C)``.
        init_cfg (dict, optional): mmengine init config. By default the
            convolution keeps PyTorch's default initialisation (the authors'
            code does not re-initialise it), re-applied in
            :meth:`init_weights`.
    """

    _abbr_ = 'eca'

    def __init__(self,
                 in_channels: int,
                 kernel_size: Optional[int] = None,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        if kernel_size is None:
            kernel_size = eca_kernel_size(in_channels)
        check_odd_kernel('ECA', 'kernel_size', kernel_size)
        self.conv = nn.Conv1d(
            1, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()

    def extract(self, x: Tensor) -> Tensor:
        """Global average pooling: (B, C, H, W) -> (B, C)."""
        return x.mean((2, 3))

    def transform(self, context: Tensor) -> Tensor:
        """Channel weights σ(C1D_k(y)): (B, C) -> (B, C, 1, 1)."""
        weights = self.conv(context.unsqueeze(1)).sigmoid()
        return weights.reshape(context.shape[0], context.shape[1], 1, 1)

