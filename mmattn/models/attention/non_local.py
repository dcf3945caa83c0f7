"""Non-local block (Wang et al., "Non-local Neural Networks", CVPR 2018)."""
import math
from typing import Optional

from mmcv.cnn import build_norm_layer
from torch import Tensor, nn

from mmattn.models.attention._pairwise import attend_positions
from mmattn.models.attention.base import AttentionModule
from mmattn.models.utils import (check_bool, check_cfg, check_positive_int,
                                 norm_any_size)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class NonLocal(AttentionModule):
    """Embedded-Gaussian non-local block.

    ``y_i = Σ_j softmax_j(θ(x_i)ᵀ φ(x_j)) g(x_j)`` (paper eqs. 1-3, the
    embedded-Gaussian instantiation; a softmax over all positions j) and
    ``z = BN(W_z y) + x`` (eq. 6). θ, φ, g are 1×1 convolutions C → C/2 with
    bias, W_z a 1×1 convolution C/2 → C without bias (the BN after it makes
    one redundant). Parameters: ``3·(C·Ci + Ci) + Ci·C + 2·C`` with
    ``Ci = C / reduction`` (BN's running statistics are buffers).

    Why mmattn has its own next to mmcv's ``NonLocal2d``: this one never
    builds the N×N affinity (it runs through
    :func:`~mmattn.models.attention._pairwise.pairwise_attention`, so its
    memory stays bounded at detection resolution), and its zero-initialised
    BN γ lives in :meth:`init_weights`, so it survives a backbone's init and
    the block starts as the identity as the authors intend.

    The paper's softmax has no 1/sqrt(Ci) scaling; ``scaled=True`` adds it.
    The BN follows the backbone's ``norm_eval``: with ``norm_eval=True`` its
    statistics freeze too (use ``norm_eval=False`` or a GN ``norm_cfg``).

    Natural position: ``after_conv3`` of a bottleneck (the paper adds blocks
    to res3/res4; at stage 1 of a detector it is O(N²) in time).

    Args:
        in_channels (int): Channels C of the input.
        reduction (int): Ci = C / reduction. Default: 2 (the paper).
        scaled (bool): Divide the dot products by sqrt(Ci). Default: False.
        norm_cfg (dict): Norm after W_z. Default: BN (the paper).
        chunk_size (int, optional): Query positions per attention call;
            ``None`` for one call. Default: 2048.
        init_cfg (dict, optional): mmengine init config. By default the
            authors' init: convs normal(0, 0.01) with zero bias, norm γ = 0
            and β = 0, applied in :meth:`init_weights`.
    """

    _abbr_ = 'non_local'
    _short_name_ = 'nl'  # in the analysis tools' model names: nl-r50

    def __init__(self,
                 in_channels: int,
                 reduction: int = 2,
                 scaled: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 chunk_size: Optional[int] = 2048,
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        self.check_reduction(reduction)
        check_bool('NonLocal', 'scaled', scaled)
        check_cfg('NonLocal', 'norm_cfg', norm_cfg)
        if chunk_size is not None:
            check_positive_int('NonLocal', 'chunk_size', chunk_size)
        inter_channels = in_channels // reduction
        self.scale = 1 / math.sqrt(inter_channels) if scaled else 1.0
        self.chunk_size = chunk_size
        self.theta = nn.Conv2d(in_channels, inter_channels, 1)
        self.phi = nn.Conv2d(in_channels, inter_channels, 1)
        self.g = nn.Conv2d(in_channels, inter_channels, 1)
        self.out_conv = nn.Conv2d(inter_channels, in_channels, 1, bias=False)
        self.norm = build_norm_layer(norm_cfg, in_channels)[1]

    def reset_parameters(self) -> None:
        for conv in (self.theta, self.phi, self.g, self.out_conv):
            nn.init.normal_(conv.weight, std=0.01)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        y = attend_positions(x, self.theta, self.phi, self.g, self.scale,
                             self.chunk_size)
        return x + norm_any_size(self.norm, self.out_conv(y))
