"""Checkpoints that load with ``torch.load(path)`` under torch >= 2.6.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``: it
unpickles tensors, containers and primitive types only. mmengine 0.10.7
saves, next to the weights, optimizer and scheduler states (all plain), the
state of its ``MessageHub``, whose ``log_scalars`` are ``HistoryBuffer``
objects holding numpy arrays and references to ``HistoryBuffer`` methods,
and whose ``runtime_info`` holds numpy scalars (``eta``). Such a checkpoint
fails to load with weights_only (``Unsupported global: GLOBAL
mmengine.logging.history_buffer.HistoryBuffer``), and since mmengine's own
loader calls ``torch.load(filename, map_location)`` without arguments,
``mmengine.runner.load_checkpoint``, ``load_from`` and ``resume`` fail on
mmengine's own checkpoints (mmengine issue #1655). The method references
need ``getattr`` to unpickle, so allowlisting them
(``torch.serialization.add_safe_globals``) would defeat weights_only.

:class:`WeightsOnlyCheckpointHook` saves the message hub as plain data
(history buffers as dicts of tensors, numpy scalars as Python numbers) and
restores ``HistoryBuffer`` objects when a checkpoint is loaded, before the
runner resumes its message hub. ``tools/train.py`` adds it to every run.
Checkpoints saved without it (plain mmengine) need full unpickling, which
mmattn's loaders (:mod:`mmattn.engine.loading`) refuse unless the user opts
in for that run (``--unsafe-load-checkpoint``, only for files you trust).
"""
from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS

#: Key marking a history buffer saved as plain data.
_BUFFER_KEY = '__history_buffer__'


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python numbers
    and tensors, recursively through dicts (kept ``OrderedDict`` or made
    ``dict``), lists and tuples (named tuples become plain ones), the
    containers ``weights_only`` accepts."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        items = ((k, _plain(v)) for k, v in value.items())
        return OrderedDict(items) if isinstance(value, OrderedDict) else \
            dict(items)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def message_hub_to_plain(state: dict) -> dict:
    """A ``MessageHub.state_dict()`` that ``torch.load`` reads with
    ``weights_only=True``: each ``HistoryBuffer`` becomes
    ``{'__history_buffer__': True, 'log_history': Tensor,
    'count_history': Tensor, 'max_length': int}``."""
    state = dict(state)
    scalars = {}
    for key, buffer in state.get('log_scalars', {}).items():
        if isinstance(buffer, HistoryBuffer):
            log_history, count_history = buffer.data
            buffer = {
                _BUFFER_KEY: True,
                'log_history': torch.from_numpy(np.array(log_history)),
                'count_history': torch.from_numpy(np.array(count_history)),
                'max_length': int(buffer.max_length),
            }
        scalars[key] = buffer
    state['log_scalars'] = scalars
    state['runtime_info'] = _plain(state.get('runtime_info', {}))
    return state


def message_hub_from_plain(state: dict) -> dict:
    """Inverse of :func:`message_hub_to_plain` (other entries unchanged)."""
    state = dict(state)
    scalars = {}
    for key, buffer in state.get('log_scalars', {}).items():
        if isinstance(buffer, dict) and buffer.get(_BUFFER_KEY):
            buffer = HistoryBuffer(buffer['log_history'].tolist(),
                                   buffer['count_history'].tolist(),
                                   buffer['max_length'])
        scalars[key] = buffer
    state['log_scalars'] = scalars
    return state


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Save mmengine checkpoints that ``torch.load(path)`` reads with its
    torch >= 2.6 default ``weights_only=True``, and resume from them.

    See the module docstring for what mmengine saves and why it fails.
    Add it with ``custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]``
    (``tools/train.py`` does so for every config).
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_to_plain(
                checkpoint['message_hub'])
        if 'meta' in checkpoint:
            checkpoint['meta'] = _plain(checkpoint['meta'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_from_plain(
                checkpoint['message_hub'])
