"""The attention modules' own maps, captured with forward hooks.

Nothing in the models is changed: hooks read tensors each module computes
anyway, on its convolutions (always called as modules) or on its own input
and output, and the last steps (a norm in evaluation mode, a sigmoid) are
applied here with the module's own parameters.

* **spatial** maps (B, H, W), values in (0, 1):
  CBAM's spatial gate σ(BN(conv(...))) (hook on ``spatial_conv``, also
  inside DCA-CBAM); TripletAttention's H-W gate (hook on its conv
  ``hw[0]``); CoordAttention's gates σ(F_h)·σ(F_w) averaged over channels
  (hooks on ``conv_h`` / ``conv_w``); EMA's cross-spatial weights σ(w),
  averaged over the groups, recovered exactly from the module's input g and
  output g·σ(w) (per group and position, Σ_c y·g / Σ_c g²).
* **channel** scales (B, C): the sigmoid gates of SE (hook on ``gate``), ECA
  (``conv``) and SRM (``bn``) — on their own, or as the excitation of an
  EMCA module (the EMCA paper's Fig. 6) or inside DCA.
* **dca** contributions, one per connection (the DCA paper's Fig. 5): for
  each :class:`~mmattn.models.connect.dca.Connection`, combining the current
  extraction ``G`` and the previous state ``T̃`` as ``f(w·G, α·T̃)``:
  ``weight_ratio = |α| / (|w| + |α|)`` (the paper's definition, from the
  learned scalars) and ``activation_ratio = mean|α·T̃| / (mean|w·G| +
  mean|α·T̃|)`` (what actually reaches the transform, from the hook's
  inputs), the share of the previous attention.
"""
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmattn.models.attention import (CBAM, ECA, EMA, SE, SRM, CoordAttention,
                                     TripletAttention)
from mmattn.models.connect import EMCA
from mmattn.models.connect.dca import DCA, Connection


@dataclass
class AttentionRecord:
    """One captured map.

    Attributes:
        module (str): Path of the attention module in the model.
        source (str): 'CBAM', 'TripletAttention', 'CoordAttention', 'EMA',
            'SE', 'ECA', 'SRM' (prefixed 'EMCA-' or 'DCA-' inside those),
            or 'DCA'.
        kind (str): 'spatial', 'channel' or 'dca'.
        value (Tensor | dict): (B, H, W), (B, C), or for 'dca' a dict with
            ``link``, ``weight_ratio``, ``activation_ratio``.
    """
    module: str
    source: str
    kind: str
    value: Any
    extra: dict = field(default_factory=dict)


class AttentionCapture:
    """Context manager recording the attention maps of ``model``'s supported
    modules during the forward passes run inside it."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.records: List[AttentionRecord] = []
        self._handles = []
        self._scratch: Dict[str, Dict[str, Tensor]] = {}

    # ------------------------------------------------------------------
    def __enter__(self) -> 'AttentionCapture':
        owners = self._owners()
        for name, module in self.model.named_modules():
            if isinstance(module, CBAM) and module.with_spatial:
                self._hook(module.spatial_conv, self._normed_gate(
                    name, 'CBAM', module.spatial_bn))
            elif isinstance(module, TripletAttention) and \
                    not module.no_spatial:
                self._hook(module.hw[0], self._normed_gate(
                    name, 'TripletAttention', module.hw[1]))
            elif isinstance(module, CoordAttention):
                self._hook(module.conv_h, self._keep(name, 'h'))
                self._hook(module.conv_w, self._keep(name, 'w'))
                self._hook(module, self._coord(name))
            elif isinstance(module, EMA):
                self._handles.append(module.register_forward_pre_hook(
                    self._keep_input(name)))
                self._hook(module, self._ema(name, module.groups))
            elif isinstance(module, (SE, ECA, SRM)):
                source = type(module).__name__
                owner = owners.get(name)
                if owner:
                    source = f'{owner}-{source}'
                if isinstance(module, SE):
                    self._hook(module.gate,
                               self._channel_gate(name, source, None))
                elif isinstance(module, ECA):
                    self._hook(module.conv,
                               self._channel_gate(name, source, None,
                                                  sigmoid=True))
                else:
                    self._hook(module.cfc, self._channel_gate(
                        name, source, module.bn, sigmoid=True))
            elif isinstance(module, DCA):
                for key, connection in module.connect.items():
                    connections = (list(connection) if isinstance(
                        connection, nn.ModuleList) else [connection])
                    for index, item in enumerate(connections):
                        self._hook(item, self._dca(name, key, index))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # ------------------------------------------------------------------
    def _owners(self) -> Dict[str, str]:
        """Paths of excitation modules inside EMCA / DCA -> 'EMCA'/'DCA'."""
        owners = {}
        for name, module in self.model.named_modules():
            if isinstance(module, (EMCA, DCA)):
                label = 'EMCA' if isinstance(module, EMCA) else 'DCA'
                for child, _ in module.named_modules():
                    if child:
                        owners[f'{name}.{child}'] = label
        return owners

    def _hook(self, module: nn.Module, fn: Callable) -> None:
        self._handles.append(module.register_forward_hook(fn))

    def _add(self, module: str, source: str, kind: str, value) -> None:
        self.records.append(AttentionRecord(module, source, kind, value))

    def _keep(self, name: str, key: str) -> Callable:

        def hook(module, inputs, output):
            self._scratch.setdefault(name, {})[key] = output.detach()

        return hook

    def _keep_input(self, name: str) -> Callable:

        def hook(module, inputs):
            self._scratch.setdefault(name, {})['input'] = inputs[0].detach()

        return hook

    def _normed_gate(self, name: str, source: str,
                     norm: nn.Module) -> Callable:
        """σ(norm(conv output)): a spatial gate from its conv's output."""

        def hook(module, inputs, output):
            gate = _apply_norm(norm, output.detach()).sigmoid()
            self._add(name, source, 'spatial', gate[:, 0].float().cpu())

        return hook

    def _coord(self, name: str) -> Callable:

        def hook(module, inputs, output):
            parts = self._scratch.pop(name, {})
            if 'h' in parts and 'w' in parts:
                gate = parts['h'].sigmoid() * parts['w'].sigmoid()
                self._add(name, 'CoordAttention', 'spatial',
                          gate.mean(1).float().cpu())

        return hook

    def _ema(self, name: str, groups: int) -> Callable:

        def hook(module, inputs, output):
            x = self._scratch.pop(name, {}).get('input')
            if x is None:
                return
            batch, channels, height, width = x.shape
            g = x.reshape(batch, groups, channels // groups, height, width)
            y = output.detach().reshape(g.shape)
            # y = g·σ(w) with σ(w) shared by a group's channels.
            energy = (g * g).sum(2)
            weights = (y * g).sum(2) / energy.clamp_min(1e-12)
            weights = torch.where(energy > 1e-12, weights,
                                  torch.full_like(weights, float('nan')))
            self._add(name, 'EMA', 'spatial',
                      weights.nanmean(1).nan_to_num(0.5).float().cpu())

        return hook

    def _channel_gate(self, name: str, source: str,
                      norm: Optional[nn.Module],
                      sigmoid: bool = False) -> Callable:

        def hook(module, inputs, output):
            gate = output.detach()
            if norm is not None:
                gate = _apply_norm(norm, gate.reshape(gate.shape[0], -1, 1,
                                                      1))
            if sigmoid:
                gate = gate.sigmoid()
            self._add(name, source, 'channel',
                      gate.reshape(gate.shape[0], -1).float().cpu())

        return hook

    def _dca(self, name: str, key: str, index: int) -> Callable:

        def hook(module: Connection, inputs, output):
            current, previous = inputs[0].detach(), inputs[1].detach()
            gain = (module.gain.detach().abs().item()
                    if module.gain is not None else 1.0)
            alpha = module.alpha.detach().abs().item()
            now = gain * current.abs().mean().item()
            before = alpha * previous.abs().mean().item()
            self._add(
                name, 'DCA', 'dca',
                dict(link=key if index == 0 and key != 'branches' else
                     f'{key}[{index}]',
                     weight_ratio=alpha / max(gain + alpha, 1e-12),
                     activation_ratio=before / max(now + before, 1e-12)))

        return hook

    # ------------------------------------------------------------------
    def of_kind(self, kind: str) -> List[AttentionRecord]:
        return [r for r in self.records if r.kind == kind]


def _apply_norm(norm: nn.Module, x: Tensor) -> Tensor:
    """``norm(x)`` as the model computes it in evaluation mode (BatchNorm
    with its running statistics, whatever the size of x)."""
    if isinstance(norm, _BatchNorm) and norm.running_mean is not None \
            and not norm.training:
        return F.batch_norm(x, norm.running_mean, norm.running_var,
                            norm.weight, norm.bias, False, 0.0, norm.eps)
    with torch.no_grad():
        return norm(x)


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
