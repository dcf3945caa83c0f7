"""Global Context block (Cao, Xu, Lin, Wei and Hu, "GCNet: Non-local
Networks Meet Squeeze-Excitation Networks and Beyond", ICCVW 2019)."""
from typing import Optional, Tuple

from mmcv.cnn.bricks.context_block import ContextBlock
from mmengine.model import BaseModule
from torch import Tensor

from mmattn.models.attention.connectable import ExciteLink, as_descriptor
from mmattn.models.utils import (check_channels, check_choice,
                                 check_feature_map, check_real)
from mmattn.registry import PLUGIN, register


@register(PLUGIN)
class GC(ContextBlock, BaseModule):
    """mmcv's ``ContextBlock`` with its attention steps exposed.

    Context modelling (paper eq. 3-4): attention pooling
    ``c = Σ_j softmax_j(W_k x_j) · x_j`` with W_k a 1×1 conv C → 1;
    transform: ``t = W_v2 ReLU(LN(W_v1 c))`` (C → C·ratio → C, LayerNorm
    over the bottleneck); fusion by broadcast addition, ``x + t``. This is
    the paper's GC block (att pooling, channel add) that GC-ResNets use with
    ratio 1/16 after every bottleneck's conv3.

    The layers, their names (``conv_mask``, ``channel_add_conv``) and their
    init (Kaiming fan-in mask conv, zero last conv, so that the block starts
    as the identity) are ContextBlock's own, so mmcv ``ContextBlock`` weights
    load unchanged. Unlike ContextBlock this is an mmengine ``BaseModule``:
    :meth:`init_weights` re-applies that init after a backbone's own.

    Connectable (DCA): :meth:`extract` is the attention-pooled context
    (B, C, 1, 1), :meth:`transform` the ``channel_add`` term (B, C, 1, 1);
    :meth:`forward` adds the term to the input.

    Args:
        in_channels (int): Channels C of the input.
        ratio (float): Bottleneck width of the transform relative to C.
            Default: 1/16.
        pooling_type (str): 'att' (the paper's attention pooling) or 'avg'
            (global average pooling, the paper's ablation). Default: 'att'.
        init_cfg (dict, optional): mmengine init config. Default: None
            (ContextBlock's init, see above).
    """

    _abbr_ = 'gc'

    def __init__(self,
                 in_channels: int,
                 ratio: float = 1 / 16,
                 pooling_type: str = 'att',
                 init_cfg: Optional[dict] = None) -> None:
        check_channels('GC', 'in_channels', in_channels)
        check_real('GC', 'ratio', ratio, 0, 1)
        if int(in_channels * ratio) < 1:
            raise ValueError(
                f'GC: ratio={ratio!r} is invalid; in_channels * ratio must be '
                f'>= 1 (in_channels={in_channels})')
        check_choice('GC', 'pooling_type', pooling_type, ('att', 'avg'))
        # ContextBlock's super().__init__() is BaseModule's (see the MRO).
        super().__init__(in_channels, ratio, pooling_type,
                         fusion_types=('channel_add', ))
        self.init_cfg = init_cfg

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            # ContextBlock.reset_parameters re-inits the mask conv and the
            # last conv only; the first conv and the LayerNorm get their
            # PyTorch defaults back, as at construction.
            self.channel_add_conv[0].reset_parameters()
            self.channel_add_conv[1].reset_parameters()
            self.reset_parameters()

    def extract(self, x: Tensor) -> Tensor:
        """Context c: (B, C, H, W) -> (B, C, 1, 1)."""
        # ContextBlock.spatial_pool flattens x with view(), which fails on
        # non-contiguous maps (channels-last, transposed, sliced).
        return self.spatial_pool(x.contiguous())

    def transform(self, context: Tensor) -> Tensor:
        """Channel-add term t: (B, C, 1, 1) -> (B, C, 1, 1)."""
        return self.channel_add_conv(context)

    def forward(self, x: Tensor) -> Tensor:
        check_feature_map('GC', x, self.in_channels)
        return x + self.transform(self.extract(x))

    def dca_links(self) -> Tuple['GCLink']:
        """DCA connects the context (see :class:`GCLink`)."""
        return (GCLink(), )


class GCLink(ExciteLink):
    """How DCA connects GC: context ``c + α·match(T̃)`` with α initialised
    to 0 and no norm, the authors' ``channel_add_term`` fusion by addition;
    the state is the term. Their matching is the plain 2-FC (no LayerNorm
    after)."""

    gain = False
    bias = False
    alpha = 0.0
    match_norm = False

    def connection_norm(self, channels):
        return None

    def fuse(self, attention, features, weights):
        return features + weights

    def state(self, context, weights, out):
        return as_descriptor(weights)
