"""How an attention module declares its steps to connected attention.

The DCA paper (Ma et al., "DCANet: Learning Connected Attentions for
Convolutional Neural Networks", arXiv:2007.05099) models an attention block
as extraction ``G = g(X)``, transform ``T = t(G)`` and fusion ``X' = X ⊛ T``
(eqs. 1-2) and connects adjacent blocks by feeding the previous block's
attention into the transform (eq. 3). A module that DCA can connect
declares, in its own file, one :class:`Link` per attention dimension
through a ``dca_links()`` method; :class:`~mmattn.models.connect.DCA` calls
the steps and builds the connection layers the link describes.
"""
from typing import Optional

from torch import Tensor, nn


def as_descriptor(x: Tensor) -> Tensor:
    """(B, C, 1, 1) -> one descriptor (B, 1, C)."""
    return x.flatten(1).unsqueeze(1)


def as_channel_map(x: Tensor) -> Tensor:
    """One descriptor (B, 1, C) -> (B, C, 1, 1)."""
    return x.reshape(x.shape[0], -1, 1, 1)


class Link:
    """One connected attention dimension of a module: its steps, what the
    block passes on (its *state*) and how DCA connects it.

    A context is (B, K, C) for a channel dimension (K descriptors, e.g.
    CBAM's avg and max, SK's branches) or (B, K, H, W) for a spatial one.
    Attributes configure DCA's layers for the link:

    * ``key``: the state entry it reads and writes;
    * ``spatial``: previous maps are pooled to the current size and need no
      channel matching;
    * ``separate``: each of the K descriptors gets its own connection and
      matching (SK's branches); otherwise they share them (CBAM's avg/max);
    * ``gain``, ``bias``, ``alpha``: the connection's learned scalars (w of
      G, b, initial α of T̃);
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
        """The norm between the connection and its ReLU, None for neither."""
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
    """A channel excitation (SE, GE-θ⁻): G = GAP(x), T = σ(...) gates x; the
    state is G·T (the paper scales the (0, 1) gate by the extraction to
    match scales). The authors connect with Conv2d(2 → 1, bias) +
    LayerNorm(C) + ReLU, and match with Linear + LayerNorm(C) + ReLU. Their
    1×1 conv gets a random (Kaiming) init; here the connection starts as the
    paper's direct sum ``G + T̃`` (gain 1, α = 1, bias 0)."""

    def extract(self, attention, features):
        return as_descriptor(attention.extract(features))

    def transform(self, attention, context):
        return attention.transform(as_channel_map(context))

    def state(self, context, weights, out):
        return context * as_descriptor(weights)
