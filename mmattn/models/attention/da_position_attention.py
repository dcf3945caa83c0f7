"""DANet position attention module (Fu et al., "Dual Attention Network for
Scene Segmentation", CVPR 2019)."""
from typing import Optional

import torch
from torch import Tensor, nn

from mmattn.models.attention._pairwise import attend_positions
from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import check_positive_int, keep_memory_format
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class DAPositionAttention(AttentionModule):
    """DANet position attention module (PAM).

    Three 1×1 convolutions (with bias) map A to B, C (C/r channels) and
    D (C channels); ``s_ji = softmax_i(B_j · C_i)`` over all N = H·W
    positions (paper eq. 1, no 1/sqrt(d) scaling), and the output is
    ``E_j = α Σ_i s_ji D_i + A_j`` (eq. 2) with the scalar α initialised to 0,
    so the module starts as the identity. Parameters:
    ``2·(C·C/r + C/r) + C² + C + 1``.

    The N×N map is never built: the attention goes through
    :func:`~mmattn.models.attention._pairwise.pairwise_attention`
    (scaled-dot-product attention, queries in chunks), so memory stays
    bounded at detection resolution; the cost is still O(N²·C) time.

    Natural position: ``after_conv3`` of a bottleneck (DANet puts it on the
    backbone's last feature map; in a detector, keep it to the low-resolution
    stages).

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Query/key width is C/r. Default: 8 (the paper).
        chunk_size (int, optional): Query positions per attention call;
            ``None`` for one call (fine on GPUs, whose SDPA kernels are
            memory-efficient by themselves). Default: 2048.
        init_cfg (dict, optional): mmengine init config. By default the convs
            keep PyTorch's default initialisation (as in the authors' code)
            and α is 0, both re-applied in :meth:`init_weights` so that a
            backbone's init does not overwrite them.
    """

    _abbr_ = 'da_position_attention'
    _short_name_ = 'pam'  # in the analysis tools' model names: pam-r50

    def __init__(self,
                 in_channels: int,
                 reduction: int = 8,
                 chunk_size: Optional[int] = 2048,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.check_reduction(reduction)
        if chunk_size is not None:
            check_positive_int('DAPositionAttention', 'chunk_size',
                               chunk_size)
        key_channels = in_channels // reduction
        self.chunk_size = chunk_size
        self.query_conv = nn.Conv2d(in_channels, key_channels, 1)
        self.key_conv = nn.Conv2d(in_channels, key_channels, 1)
        self.value_conv = nn.Conv2d(in_channels, in_channels, 1)
        self.alpha = nn.Parameter(torch.zeros(1))

    def reset_parameters(self) -> None:
        for conv in (self.query_conv, self.key_conv, self.value_conv):
            conv.reset_parameters()
        nn.init.zeros_(self.alpha)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        out = attend_positions(x, self.query_conv, self.key_conv,
                               self.value_conv, 1.0, self.chunk_size)
        return keep_memory_format(self.alpha * out + x, x)
