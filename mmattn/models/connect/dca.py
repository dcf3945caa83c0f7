"""DCA: Deep Connected Attention (Ma, Guo, Tang, Qiao, Chen, Yang and Fu,
"DCANet: Learning Connected Attentions for Convolutional Neural Networks",
arXiv:2007.05099).

The paper models an attention block as extraction ``G = g(X)``, transform
``T = t(G)`` and fusion ``X' = X ⊛ T`` (its eq. 1-2), and connects adjacent
blocks by feeding the previous block's attention ``T̃`` into the current
transform: ``X' = X ⊛ t(f(G, α·T̃))`` (eq. 3). :class:`DCA` implements that
once, around any attention module exposing the three steps; a :class:`Link`
per attention dimension says how to call them and what the block passes on
(its *state*). The backbone threads the states from block to block
(:class:`mmattn.models.backbones.DCAResNet`).
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmattn.models.attention import CBAM, GC, SE, SK, GatherExcite
from mmattn.models.utils import (adaptive_pool_matrix, batch_norm_any_size,
                                 check_choice, check_positive_int)

CONNECTIONS = ('direct', 'weighted', 'softmax')
CHANNEL_MATCHINGS = ('1fc', '2fc')


def connect(current: Tensor, previous: Tensor, mode: str,
            eps: float = 1e-6) -> Tensor:
    """The paper's connection functions f(G, αT̃), eqs. 4-6, elementwise.

    ``current`` is G (possibly scaled by a learned gain), ``previous`` αT̃:

    * ``'direct'``: ``G + αT̃``;
    * ``'weighted'``: ``G/(G+αT̃)·G + αT̃/(G+αT̃)·αT̃``;
    * ``'softmax'``: weights ``softmax(-G, -αT̃)`` applied to (G, αT̃).

    The weighted ratios assume ``G + αT̃ != 0``, as in the paper; ``eps``,
    added away from zero, only keeps an exact zero sum finite.
    """
    if mode == 'direct':
        return current + previous
    if mode == 'weighted':
        total = current + previous
        total = total + torch.where(total >= 0, eps, -eps)
        return (current * current + previous * previous) / total
    weights = torch.stack((-current, -previous)).softmax(dim=0)
    return weights[0] * current + weights[1] * previous


def match_spatial(x: Tensor, size: Tuple[int, int]) -> Tensor:
    """Adaptive average pooling of ``x`` (B, C, H, W) to ``size`` (paper
    §3.3: previous spatial attention is average-pooled to the current size).

    Where the size divides (every ResNet stage change of a classification
    input) this is ``avg_pool2d`` with kernel = stride = the ratio, which
    exports to ONNX as ``AveragePool``. Other sizes (detection inputs: 25 →
    13 after a stride-2 stage) use area interpolation, i.e. adaptive average
    pooling with overlapping windows, which ONNX cannot express; the
    authors' integer-stride pooling fails on them instead.

    While tracing (``torch.onnx.export(dynamo=False)``) the pooling is the
    same adaptive average as products with pooling matrices
    (:func:`~mmattn.models.utils.adaptive_pool_matrix`): exportable, and
    correct for every input size, where the branches above would be recorded
    with the example input's sizes.
    """
    height, width = x.shape[-2:]
    out_height, out_width = size
    if torch.jit.is_tracing():
        pool_h = adaptive_pool_matrix(out_height, height, x)
        pool_w = adaptive_pool_matrix(out_width, width, x)
        return pool_h @ x @ pool_w.t()
    if (height, width) == (out_height, out_width):
        return x
    if height % out_height == 0 and width % out_width == 0:
        return F.avg_pool2d(x, (height // out_height, width // out_width))
    return F.interpolate(x, size=(out_height, out_width), mode='area')


class ChannelMatch(nn.Sequential):
    """Maps a previous state's C' channels to the current C (paper §3.3),
    on the last dimension.

    * ``'1fc'``: ``Linear(C', C)``, the authors' code (C'·C + C parameters).
    * ``'2fc'``: ``Linear(C', C/r) → LN → ReLU → Linear(C/r, C)``, the
      paper's lightweight variant; the hidden width C/r and the LN + ReLU
      between are those of the authors' DCA-GC code, and r relative to the
      *current* C is what the paper's 28.65M DCA-SE-ResNet-50 implies.

    With ``norm_act`` a LayerNorm(C) + ReLU follows, as in the authors'
    SE, GE, SK and CBAM (there BN) connections.
    """

    def __init__(self, in_channels: int, out_channels: int, mode: str,
                 reduction: int = 16, norm_act: bool = True) -> None:
        check_choice('ChannelMatch', 'mode', mode, CHANNEL_MATCHINGS)
        check_positive_int('ChannelMatch', 'reduction', reduction)
        if mode == '1fc':
            layers = [nn.Linear(in_channels, out_channels)]
        else:
            hidden = max(out_channels // reduction, 1)
            layers = [
                nn.Linear(in_channels, hidden),
                nn.LayerNorm(hidden),
                nn.ReLU(),
                nn.Linear(hidden, out_channels)
            ]
        if norm_act:
            layers += [nn.LayerNorm(out_channels), nn.ReLU()]
        super().__init__(*layers)


class Connection(nn.Module):
    """``f(w·G, α·T̃) + b`` with learned scalars, then optionally a norm and
    ReLU.

    With ``mode='direct'``, ``gain`` and ``bias`` this is the authors'
    ``Conv2d(2 → 1, 1×1, bias)`` over the stacked [G, T̃] (DCA-SE/-GE/-SK;
    DCA-CBAM without bias), followed by their LayerNorm(C) + ReLU (``norm``);
    DCA-GC's is the plain ``G + α·T̃``.

    Args:
        mode (str): 'direct', 'weighted' or 'softmax' (see :func:`connect`).
        gain (bool): Learn the weight w of G (initialised to 1); else w = 1.
        bias (bool): Learn b (initialised to 0).
        alpha (float): Initial α.
        norm (nn.Module, optional): Norm applied before a ReLU.
    """

    def __init__(self, mode: str, gain: bool = True, bias: bool = True,
                 alpha: float = 1.0, norm: Optional[nn.Module] = None) -> None:
        super().__init__()
        check_choice('Connection', 'mode', mode, CONNECTIONS)
        self.mode = mode
        self.initial_alpha = alpha
        self.alpha = nn.Parameter(torch.empty(1))
        self.gain = nn.Parameter(torch.empty(1)) if gain else None
        self.bias = nn.Parameter(torch.empty(1)) if bias else None
        self.norm = norm
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.alpha, self.initial_alpha)
        if self.gain is not None:
            nn.init.ones_(self.gain)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, current: Tensor, previous: Tensor) -> Tensor:
        if self.gain is not None:
            current = self.gain * current
        out = connect(current, self.alpha * previous, self.mode)
        if self.bias is not None:
            out = out + self.bias
        if self.norm is None:
            return out
        if isinstance(self.norm, _BatchNorm):
            return F.relu(batch_norm_any_size(self.norm, out))
        return F.relu(self.norm(out))


def _vector(x: Tensor) -> Tensor:
    """(B, C, 1, 1) -> one descriptor (B, 1, C)."""
    return x.flatten(1).unsqueeze(1)


def _map(x: Tensor) -> Tensor:
    """One descriptor (B, 1, C) -> (B, C, 1, 1)."""
    return x.reshape(x.shape[0], -1, 1, 1)


class Link:
    """How DCA connects one attention dimension of a connectable module.

    The attention module computes; the link calls its steps and says what
    the block passes on. A context is (B, K, C) for a channel dimension (K
    descriptors, e.g. CBAM's avg and max, SK's branches) or (B, K, H, W)
    for a spatial one. Attributes configure the DCA layers of the link:

    * ``key``: the state entry it reads and writes;
    * ``spatial``: previous maps are pooled to the current size
      (:func:`match_spatial`) and need no channel matching;
    * ``separate``: each of the K descriptors gets its own connection and
      matching (SK's branches); otherwise they share them (CBAM's avg/max);
    * ``gain``, ``bias``, ``alpha``: the :class:`Connection`'s scalars;
    * ``match_norm``: LayerNorm + ReLU after the channel matching.
    """

    key = 'channel'
    spatial = False
    separate = False
    gain = True
    bias = True
    alpha = 1.0
    match_norm = True

    def descriptors(self, attention: nn.Module) -> int:
        """K, the number of descriptors of a context."""
        return 1

    def connection_norm(self, channels: int) -> Optional[nn.Module]:
        return nn.LayerNorm(channels)

    def prepare(self, attention: nn.Module, x: Tensor) -> Tensor:
        """The features the attention works on (SK: its branch features)."""
        return x

    def extract(self, attention: nn.Module, features: Tensor) -> Tensor:
        raise NotImplementedError

    def previous(self, attention: nn.Module, state: Tensor,
                 context: Tensor) -> Tensor:
        """T̃ from the previous block's state, before channel matching."""
        return state

    def transform(self, attention: nn.Module, context: Tensor) -> Tensor:
        raise NotImplementedError

    def fuse(self, attention: nn.Module, features: Tensor,
             weights: Tensor) -> Tensor:
        return features * weights

    def state(self, context: Tensor, weights: Tensor, out: Tensor) -> Tensor:
        raise NotImplementedError


class ExciteLink(Link):
    """SE and GE-θ⁻: G = GAP(x), T = σ(...) gates x; the state is G·T (the
    paper scales the (0, 1) gate by the extraction to match scales). The
    authors connect with Conv2d(2 → 1, bias) + LayerNorm(C) + ReLU, and
    match with Linear + LayerNorm(C) + ReLU. Their 1×1 conv gets a random
    (Kaiming) init; here the connection starts as the paper's direct sum
    ``G + T̃`` (gain 1, α = 1, bias 0)."""

    def extract(self, attention, features):
        return _vector(attention.extract(features))

    def transform(self, attention, context):
        return attention.transform(_map(context))

    def state(self, context, weights, out):
        return context * _vector(weights)


class GCLink(ExciteLink):
    """GC: context ``c + α·match(T̃)`` with α initialised to 0 and no norm,
    the authors' ``channel_add_term`` fusion by addition; the state is the
    term. Their matching is the plain 2-FC (no LayerNorm after)."""

    gain = False
    bias = False
    alpha = 0.0
    match_norm = False

    def connection_norm(self, channels):
        return None

    def fuse(self, attention, features, weights):
        return features + weights

    def state(self, context, weights, out):
        return _vector(weights)


class CBAMChannelLink(Link):
    """CBAM's channel gate: contexts are the avg- and max-pooled descriptors
    (B, 2, C), which share the connection (the authors' Conv2d(2 → 1, no
    bias) + LayerNorm + ReLU) and the matching. The state is the
    channel-refined map F'; the next block extracts its descriptors."""

    bias = False

    def extract(self, attention, features):
        return attention.extract_channel(features)

    def previous(self, attention, state, context):
        return attention.extract_channel(state)

    def transform(self, attention, context):
        return attention.transform_channel(context)

    def state(self, context, weights, out):
        return out


class CBAMSpatialLink(Link):
    """CBAM's spatial gate: contexts are the channel max and mean maps
    (B, 2, H, W). The state is the full CBAM output F''; the next block
    average-pools it to its size, then extracts its maps. The authors'
    connection ``BN(2)(p1·G + p2·T̃)`` + ReLU, p1 = 1 and p2 = 0 initially;
    unlike theirs, the BN starts with weight 1 (their init zeroes it, which
    cuts the gradient to p1 and p2 and leaves the connection unused)."""

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


class SKLink(Link):
    """SK: contexts are the per-branch GAPs (B, M, C) of the branch features,
    each branch with its own connection and matching as in the authors'
    code; the state is the per-branch GAP of the selected features,
    ``a_i · GAP(U_i)``."""

    key = 'branches'
    separate = True

    def descriptors(self, attention):
        return attention.branches

    def prepare(self, attention, x):
        return attention.split(x)

    def extract(self, attention, features):
        return attention.extract(features)

    def transform(self, attention, context):
        return attention.transform(context)

    def fuse(self, attention, features, weights):
        return attention.fuse(features, weights)

    def state(self, context, weights, out):
        return weights * context


#: The attention modules DCA can connect.
CONNECTABLE = (SE, GatherExcite, GC, CBAM, SK)


def links_of(attention: nn.Module) -> Tuple[Link, ...]:
    """The connected dimensions of an attention module, in fusion order."""
    if isinstance(attention, CBAM):
        return tuple(link for link, enabled in (
            (CBAMChannelLink(), attention.with_channel),
            (CBAMSpatialLink(), attention.with_spatial)) if enabled)
    if isinstance(attention, GatherExcite) and attention.extent != 'global':
        raise ValueError(
            f'DCA: GatherExcite extent={attention.extent!r} is invalid; DCA '
            "connects the global GE-θ⁻ only (extent='global')")
    if isinstance(attention, (SE, GatherExcite)):
        return (ExciteLink(), )
    if isinstance(attention, GC):
        return (GCLink(), )
    if isinstance(attention, SK):
        return (SKLink(), )
    raise ValueError(
        f'DCA: attention={type(attention).__name__} is invalid; it must be '
        f'one of {tuple(cls.__name__ for cls in CONNECTABLE)}')


def _replicate(build: Callable[[], nn.Module],
               copies: Optional[int]) -> nn.Module:
    """One module shared by all descriptors, or one per descriptor."""
    if copies is None:
        return build()
    return nn.ModuleList(build() for _ in range(copies))


def _per_descriptor(module: nn.Module, *inputs: Tensor) -> Tensor:
    """Apply ``module`` to whole contexts, or, for a ModuleList, each of its
    modules to its own descriptor (dimension 1)."""
    if not isinstance(module, nn.ModuleList):
        return module(*inputs)
    parts = zip(*(x.split(1, dim=1) for x in inputs))
    return torch.cat([m(*part) for m, part in zip(module, parts)], dim=1)


class DCA(BaseModule):
    """Connected attention around an attention module.

    For each connected dimension of ``attention`` (see :func:`links_of`),
    with x the input and state the previous block's states:

    1. ``G = g(x)``, the attention's own extraction;
    2. ``T̃`` from the previous state, pooled to the current size (spatial)
       or matched to the current channels (:class:`ChannelMatch`, only where
       they change);
    3. ``f(G, α·T̃)`` (:class:`Connection`; ``connection`` picks eq. 4, 5
       or 6);
    4. the attention's own transform and fusion;
    5. the new state of this dimension (see the links).

    Unconnected (``previous_channels=None``, the first block of a network)
    it builds no connection or matching layer and computes exactly the
    attention's own forward, still returning its state.

    Attention modules keep their state-dict names under ``attention.``;
    DCA's own layers are ``connect.<key>`` and ``match.<key>``.

    Args:
        attention (nn.Module): An SE, GatherExcite (global), GC, CBAM or SK.
        channels (int): Channels C the attention works on.
        previous_channels (int, optional): Channels of the previous block's
            state; None for an unconnected block. Default: None.
        connection (str): 'direct', 'weighted' or 'softmax'.
            Default: 'direct' (the paper's choice).
        channel_matching (str): '1fc' or '2fc'. Default: '2fc'.
        reduction (int): r of the '2fc' matching. Default: 16.
        init_cfg (dict, optional): mmengine init config. By default the
            connection and matching layers keep their construction init
            (PyTorch's for Linear and norms; gain 1, bias 0, α per link),
            re-applied after a backbone's own init.
    """

    #: AttnBottleneck calls a ``conv2`` with this flag as
    #: ``out, state = conv2(out, state)`` (DCA around SK).
    threads_state = True

    def __init__(self,
                 attention: nn.Module,
                 channels: int,
                 previous_channels: Optional[int] = None,
                 connection: str = 'direct',
                 channel_matching: str = '2fc',
                 reduction: int = 16,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_positive_int('DCA', 'channels', channels)
        if previous_channels is not None:
            check_positive_int('DCA', 'previous_channels', previous_channels)
        check_choice('DCA', 'connection', connection, CONNECTIONS)
        check_choice('DCA', 'channel_matching', channel_matching,
                     CHANNEL_MATCHINGS)
        check_positive_int('DCA', 'reduction', reduction)
        self.attention = attention
        self.links = links_of(attention)
        self.connect = nn.ModuleDict()
        self.match = nn.ModuleDict()
        if previous_channels is None:
            return
        for link in self.links:
            copies = link.descriptors(attention) if link.separate else None
            self.connect[link.key] = _replicate(
                lambda: Connection(
                    connection, gain=link.gain, bias=link.bias,
                    alpha=link.alpha, norm=link.connection_norm(channels)),
                copies)
            if not link.spatial and previous_channels != channels:
                self.match[link.key] = _replicate(
                    lambda: ChannelMatch(
                        previous_channels, channels, channel_matching,
                        reduction, norm_act=link.match_norm), copies)

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is None:
            for module in (*self.connect.modules(), *self.match.modules()):
                if hasattr(module, 'reset_parameters'):
                    module.reset_parameters()

    def forward(self, x: Tensor,
                state: Optional[dict]) -> Tuple[Tensor, dict]:
        new_state = dict(state or {})
        for link in self.links:
            features = link.prepare(self.attention, x)
            context = link.extract(self.attention, features)
            combined = context
            if link.key in self.connect:
                if not state or link.key not in state:
                    raise KeyError(
                        f'DCA: the state lacks {link.key!r}; a connected '
                        'block needs the previous block\'s state')
                previous = link.previous(self.attention, state[link.key],
                                         context)
                if link.key in self.match:
                    previous = _per_descriptor(self.match[link.key],
                                               previous)
                combined = _per_descriptor(self.connect[link.key], context,
                                           previous)
            weights = link.transform(self.attention, combined)
            x = link.fuse(self.attention, features, weights)
            new_state[link.key] = link.state(context, weights, x)
        return x, new_state
