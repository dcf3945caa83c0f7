"""The attention modules' own maps, as each module declares them.

A module with pictures has a method ``attention_maps(*inputs) -> dict``
that computes, from the inputs its forward pass received, what it applies:

* ``'spatial'``: a (B, H, W) gate in (0, 1) (CBAM's spatial gate,
  TripletAttention's H-W gate, CoordAttention's gates averaged over the
  channels, EMA's cross-spatial weights);
* ``'channel'``: (B, C) channel scales (SE, ECA, SRM, CBAM's channel gate,
  EMCA's multi-scale weights — the EMCA paper's Fig. 6 —, the connected
  gates inside DCA);
* ``'dca'``: a list of dicts, one per connection of a DCA module, with the
  previous attention's share (the DCA paper's Fig. 5; see
  :meth:`mmattn.models.connect.dca.Connection.shares`).

:class:`AttentionCapture` hooks every such module (a forward hook on the
module itself, nothing private) and calls the method on the hooked inputs,
without gradients; nothing in the model changes.
"""
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

import torch
from torch import nn


@dataclass
class AttentionRecord:
    """One captured map.

    Attributes:
        module (str): Path of the attention module in the model.
        source (str): The module's class name ('CBAM', 'EMCA', 'DCA' ...).
        kind (str): 'spatial', 'channel' or 'dca'.
        value (Tensor | dict): (B, H, W), (B, C) on the CPU, or for 'dca' a
            dict with ``link``, ``weight_ratio``, ``activation_ratio``.
    """
    module: str
    source: str
    kind: str
    value: Any


class AttentionCapture:
    """Context manager recording the maps of ``model``'s modules that declare
    ``attention_maps`` during the forward passes run inside it."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.records: List[AttentionRecord] = []
        self._handles = []
        self._computing = False

    def __enter__(self) -> 'AttentionCapture':
        for name, module in self.model.named_modules():
            if callable(getattr(module, 'attention_maps', None)):
                self._handles.append(module.register_forward_hook(
                    self._hook(name), with_kwargs=True))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name: str) -> Callable:

        def hook(module, args, kwargs, output):
            if self._computing:  # a module's maps calling another module
                return
            self._computing = True
            try:
                with torch.no_grad():
                    maps = module.attention_maps(*args, **kwargs)
            finally:
                self._computing = False
            source = type(module).__name__
            for kind, value in maps.items():
                values = value if kind == 'dca' else [value.float().cpu()]
                self.records += [AttentionRecord(name, source, kind, item)
                                 for item in values]

        return hook


def capture_attention(model: nn.Module,
                      run: Callable[[], Any]) -> List[AttentionRecord]:
    """Run ``run()`` (a forward pass of ``model``) without gradients and
    return the maps recorded."""
    with torch.no_grad(), AttentionCapture(model) as capture:
        run()
    return capture.records


def dca_connections(records: List[AttentionRecord]) -> List[dict]:
    """DCA records numbered as the paper's connections: connection i joins
    the i-th connected block to its predecessor (1-based; links of one
    block, e.g. CBAM's channel and spatial, share the number)."""
    out, numbers = [], {}
    for record in records:
        if record.kind != 'dca':
            continue
        number = numbers.setdefault(record.module, len(numbers) + 1)
        out.append(dict(connection=number, module=record.module,
                        **record.value))
    return out


def select_evenly(items: list, count: Optional[int]) -> list:
    """At most ``count`` items, evenly spaced, always keeping the last."""
    if count is None or len(items) <= count:
        return list(items)
    if count == 1:
        return [items[-1]]
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]
