"""Parameter-free Gather-Excite, GE-θ⁻ (Hu et al., "Gather-Excite:
Exploiting Feature Context in Convolutional Neural Networks", NeurIPS 2018).
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmattn.models.attention.base import AttentionModule
from mmattn.models.attention.connectable import ExciteLink
from mmattn.models.utils import MAX_KERNEL_SIZE
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class GatherExcite(AttentionModule):
    """Gather-Excite without parameters (the paper's GE-θ⁻).

    Gather ξ_G: average pooling of each channel over windows of side
    ``extent`` e with stride e (the whole map for the default global extent).
    Excite ξ_E: nearest-neighbour upsampling of the gathered map back to the
    input size, then ``y = x ⊙ σ(interp(ξ_G(x)))`` (paper §3). With the global
    extent this is ``x · σ(GAP(x))``, the variant the paper finds best and
    the one DCA connects. The module has zero parameters.

    A finite extent pools with ``ceil_mode``, so windows at the right and
    bottom border that stick out of an odd-sized map average only the
    positions they cover, and each gathered value is then copied back to
    exactly the e×e positions it pooled (no adaptive pooling, which does not
    export to ONNX for non-unit output sizes).

    Natural position: ``after_conv3`` of a bottleneck (after bn3, before the
    residual add), where the paper inserts GE blocks like SE blocks.

    Connectable: :meth:`extract` (gather), :meth:`transform` (σ) and
    :meth:`forward` (upsampled product with ``x``).

    Args:
        in_channels (int): Channels C of the input (kept for the plugin
            contract; GE-θ⁻ has no channel-dependent weights).
        extent (int | str): Side e of the gather window, an integer in
            [1, 255], or ``'global'`` for the whole map.
            Default: ``'global'``.
        init_cfg (dict, optional): mmengine init config (nothing to
            initialise).
    """

    _abbr_ = 'gather_excite'
    _short_name_ = 'ge'  # in the analysis tools' model names: ge-r50

    def __init__(self,
                 in_channels: int,
                 extent: Union[int, str] = 'global',
                 init_cfg=None) -> None:
        super().__init__(in_channels, init_cfg)
        if extent != 'global' and not (
                isinstance(extent, int) and not isinstance(extent, bool)
                and 1 <= extent <= MAX_KERNEL_SIZE):
            raise ValueError(
                f'GatherExcite: extent={extent!r} is invalid; it must be '
                f"'global' or an integer in [1, {MAX_KERNEL_SIZE}].")
        self.extent = extent

    def extract(self, x: Tensor) -> Tensor:
        """Gather: (B, C, H, W) -> (B, C, ceil(H/e), ceil(W/e)); (B, C, 1, 1)
        for the global extent."""
        if self.extent == 'global':
            return x.mean((2, 3), keepdim=True)
        return F.avg_pool2d(
            x, self.extent, stride=self.extent, ceil_mode=True)

    def transform(self, context: Tensor) -> Tensor:
        """Excite gate σ(context), same shape as ``context``."""
        return context.sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        gate = self.transform(self.extract(x))
        if self.extent != 'global':
            gate = self._upsample(gate, x.shape[2], x.shape[3])
        return x * gate

    def dca_links(self) -> Tuple[ExciteLink]:
        """DCA connects the global GE-θ⁻'s excitation (see
        :class:`ExciteLink`); a finite extent has a map, not a vector, per
        channel, which the DCA paper does not connect."""
        if self.extent != 'global':
            raise ValueError(
                f'DCA: GatherExcite extent={self.extent!r} is invalid; DCA '
                "connects the global GE-θ⁻ only (extent='global')")
        return (ExciteLink(), )

    def _upsample(self, gate: Tensor, height: int, width: int) -> Tensor:
        # Exact nearest-neighbour copy: input row r (column c) takes the
        # gathered cell r // e (c // e), the window that pooled it; memory is
        # that of the output, also for an extent larger than the map.
        # F.interpolate would map by the ratio ceil(H/e)/H instead, which
        # misplaces borders of odd sizes.
        rows = torch.arange(height, device=gate.device) // self.extent
        cols = torch.arange(width, device=gate.device) // self.extent
        return gate.index_select(2, rows).index_select(3, cols)
