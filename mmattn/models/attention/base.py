"""What mmattn's attention modules share: the channels they are built for,
checked when they are built and when they are called, and the
extract-transform steps of the modules that gate channels."""
from typing import Dict, Optional

from mmengine.model import BaseModule
from torch import Tensor

from mmattn.models.utils import (check_at_most, check_channels,
                                 check_feature_map)


class AttentionModule(BaseModule):
    """Base of mmattn's attention modules (plugins and conv replacements).

    Holds ``in_channels``, checked at construction (an integer in the
    allowed range, named in the error with the module's class name), and
    :meth:`check_input`, which each ``forward`` calls first: a 4-D float
    input with ``in_channels`` channels, or a ValueError naming the module,
    the expected and the received shape. A module's own initialisation is
    its :meth:`reset_parameters`, which :meth:`init_weights` re-applies
    after a parent's.
    """

    def __init__(self, in_channels: int,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_channels(type(self).__name__, 'in_channels', in_channels)
        self.in_channels = in_channels

    def check_input(self, x: Tensor) -> None:
        check_feature_map(type(self).__name__, x, self.in_channels)

    def check_reduction(self, reduction: int) -> None:
        """Check a reduction ratio r of the channels (a hidden width C/r):
        an integer from 1 to ``in_channels``."""
        check_at_most(type(self).__name__, 'reduction', reduction,
                      self.in_channels, 'in_channels')

    def init_weights(self) -> None:
        """mmengine's init (the init_cfg, then the children's), then,
        without an init_cfg, the module's own :meth:`reset_parameters`
        again: a parent's init_cfg (a backbone's Kaiming init of every
        conv) has overwritten it."""
        super().init_weights()
        if self.init_cfg is None:
            self.reset_parameters()

    def reset_parameters(self) -> None:
        """The module's own initialisation (none beyond its layers'
        PyTorch defaults, unless a module says otherwise)."""


class ChannelGate(AttentionModule):
    """A module that gates channels in two steps: :meth:`extract` a context
    from x, :meth:`transform` it into channel weights (B, C, 1, 1); the
    output is x times the weights (SE, ECA, SRM). DCA and EMCA call the
    steps themselves; the pictures show the weights."""

    def extract(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def transform(self, context: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        return x * self.transform(self.extract(x))

    def attention_maps(self, x: Tensor) -> Dict[str, Tensor]:
        """What this module applies to ``x``, for pictures
        (``tools/visualization/attention_maps.py``): the channel scales
        (B, C)."""
        return {'channel': self.transform(self.extract(x)).flatten(1)}
