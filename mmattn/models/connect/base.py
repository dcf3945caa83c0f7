"""What connected attention (DCA, EMCA) shares: the state passed from block
to block and the protocol of everything in a block that reads or writes it.
"""
from typing import Dict, Iterator, Mapping, Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor


class AttentionState(Mapping[str, Tensor]):
    """Tensors that connected attention passes from block to block, by key
    (a read-only mapping).

    DCA writes each connected dimension's attention under the dimension's
    key (``'channel'``, ``'spatial'``, ``'branches'``) and reads its
    predecessor's; EMCA writes the squeezed output of a block under the
    block's name (``'stem'``, ``'layer1.0'``, ...) and reads those of its
    coverage region. A state is never changed in place: :meth:`update`
    returns a new one, so that a checkpointed block (``with_cp``) that is
    run again for the backward pass sees the state it was given.
    """

    __slots__ = ('entries', )

    def __init__(self, entries: Optional[Dict[str, Tensor]] = None) -> None:
        self.entries = dict(entries or {})

    def __getitem__(self, key: str) -> Tensor:
        return self.read(key, 'AttentionState')

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, key: str, reader: str) -> Tensor:
        """The entry ``key``; a KeyError naming ``reader`` and what the state
        holds when it is missing (a block wired to read what no earlier
        block writes)."""
        if key not in self.entries:
            raise KeyError(
                f'{reader}: the attention state lacks {key!r} (it holds '
                f'{sorted(self.entries)}); an earlier block must write it')
        return self.entries[key]

    def update(self, **entries: Tensor) -> 'AttentionState':
        """A new state with ``entries`` added or replaced."""
        return AttentionState({**self.entries, **entries})


class ConnectedAttention(BaseModule):
    """Base of everything in a block that carries attention state.

    It is called as ``x, state = module(x, state)`` and runs at its
    ``position`` in the block:

    * ``'input'``: on the block's input, before anything else (EMCA records
      the preceding block's output there);
    * ``'conv2'``: in place of the bottleneck's 3×3 conv (DCA around SK);
    * ``'residual'``: on the residual branch, after its last plugin and
      before the residual add (DCA around SE/GE/GC/CBAM, EMCA).

    A backbone hands each block its connected attention when it builds the
    block (:meth:`~mmattn.models.backbones.AttnResNet.connected_attention`).
    """

    positions = ('input', 'conv2', 'residual')
    position: str = 'residual'

    def forward(self, x: Tensor,
                state: AttentionState) -> Tuple[Tensor, AttentionState]:
        raise NotImplementedError
