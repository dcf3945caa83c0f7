"""DCA: Deep Connected Attention (Ma, Guo, Tang, Qiao, Chen, Yang and Fu,
"DCANet: Learning Connected Attentions for Convolutional Neural Networks",
arXiv:2007.05099).

The paper models an attention block as extraction ``G = g(X)``, transform
``T = t(G)`` and fusion ``X' = X ⊛ T`` (its eq. 1-2), and connects adjacent
blocks by feeding the previous block's attention ``T̃`` into the current
transform: ``X' = X ⊛ t(f(G, α·T̃))`` (eq. 3). :class:`DCA` implements that
once, around any attention module that declares its steps: its
``dca_links()`` return one :class:`~mmattn.models.attention.connectable.Link`
per attention dimension, saying how to call the steps and what the block
passes on (its *state*). The backbone hands each block its DCA when it builds
it (:class:`mmattn.models.backbones.DCAResNet`).
"""
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmattn.models.attention.connectable import Link
from mmattn.models.utils import (batch_norm_any_size, check_choice,
                                 check_positive_int, keep_memory_format)
from mmattn.registry import CONV_REPLACEMENT, MODELS, list_models

from .base import AttentionState, ConnectedAttention

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

    def shares(self, current: Tensor, previous: Tensor) -> Dict[str, float]:
        """The previous attention's share in this connection (the DCA
        paper's Fig. 5): ``weight_ratio = |α| / (|w| + |α|)`` from the
        learned scalars, and ``activation_ratio = mean|α·T̃| / (mean|w·G| +
        mean|α·T̃|)``, what reaches the transform for these inputs."""
        gain = self.gain.abs().item() if self.gain is not None else 1.0
        alpha = self.alpha.abs().item()
        now = gain * current.abs().mean().item()
        before = alpha * previous.abs().mean().item()
        return dict(weight_ratio=alpha / max(gain + alpha, 1e-12),
                    activation_ratio=before / max(now + before, 1e-12))


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


def connectable() -> List[str]:
    """Names of the registered modules DCA can connect (those declaring
    ``dca_links``)."""
    return [name for name in list_models()
            if hasattr(MODELS.get(name), 'dca_links')]


class DCA(ConnectedAttention):
    """Connected attention around an attention module.

    For each connected dimension of ``attention`` (its ``dca_links()``),
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
    DCA's own layers are ``connect.<key>`` and ``match.<key>``. Around a
    plugin it runs on a block's residual branch; around a conv replacement
    (SK) it is the block's conv2.

    Args:
        attention (nn.Module): A module declaring ``dca_links()``: SE,
            GatherExcite (global), GC, CBAM or SK.
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
        if not hasattr(attention, 'dca_links'):
            raise ValueError(
                f'DCA: attention={type(attention).__name__} is invalid; it '
                f'must be one of {tuple(connectable())}')
        self.attention = attention
        self.links = attention.dca_links()
        self.position = ('conv2' if type(attention).__name__ in list_models(
            CONV_REPLACEMENT) else 'residual')
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

    def _run_link(self, link: Link, x: Tensor, state: AttentionState
                  ) -> Tuple[Tensor, Tensor, Optional[Tensor], Tensor]:
        """Steps 1-4 for one link: (output, G, matched T̃ or None when
        unconnected, weights)."""
        features = link.prepare(self.attention, x)
        context = link.extract(self.attention, features)
        previous, combined = None, context
        if link.key in self.connect:
            previous = link.previous(self.attention,
                                     state.read(link.key, 'DCA'), context)
            if link.key in self.match:
                previous = _per_descriptor(self.match[link.key], previous)
            combined = _per_descriptor(self.connect[link.key], context,
                                       previous)
        weights = link.transform(self.attention, combined)
        return (link.fuse(self.attention, features, weights), context,
                previous, weights)

    def forward(self, x: Tensor,
                state: AttentionState) -> Tuple[Tensor, AttentionState]:
        new_entries, inputs = {}, x
        for link in self.links:
            x, context, _, weights = self._run_link(link, x, state)
            new_entries[link.key] = link.state(context, weights, x)
        # SK fuses branch features stacked in 5-D, which loses the input's
        # memory format.
        return keep_memory_format(x, inputs), state.update(**new_entries)

    def attention_maps(self, x: Tensor, state: AttentionState) -> dict:
        """What this module applies to ``x``, for pictures
        (``tools/visualization/attention_maps.py``): the connected gates of
        an attention that has pictures of its own, 'channel' (B, C) and
        'spatial' (B, H, W), and in 'dca' one :meth:`Connection.shares` per
        connection (none when unconnected)."""
        maps = {'dca': []}
        for link in self.links:
            x, context, previous, weights = self._run_link(link, x, state)
            if hasattr(self.attention, 'attention_maps'):
                maps.update({'spatial': weights[:, 0]} if link.spatial else
                            {'channel': weights.flatten(1)})
            if previous is None:
                continue
            connections = self.connect[link.key]
            if link.separate:
                pairs = zip(context.split(1, dim=1),
                            previous.split(1, dim=1))
                for index, (connection, (now, before)) in enumerate(
                        zip(connections, pairs)):
                    maps['dca'].append(dict(link=f'{link.key}[{index}]',
                                            **connection.shares(now, before)))
            else:
                maps['dca'].append(dict(
                    link=link.key, **connections.shares(context, previous)))
        return maps
