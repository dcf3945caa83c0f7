"""mmdet's GCNet checkpoints to mmattn's GC keys.

mmdet's GCNet configs (``configs/gcnet/`` of mmdet; Cao et al., GCNet,
ICCVW 2019) put mmcv's ``ContextBlock`` into mmdet's ResNet bottlenecks as
a plugin, e.g.
``plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 4),
stages=(False, True, True, True), position='after_conv3')]``. mmdet names
a plugin layer after the module's ``_abbr_`` plus the plugin's ``postfix``,
so those checkpoints hold the block's weights under
``backbone.layerX.Y.context_block<postfix>.*``. mmattn's ``GC`` *is* that
``ContextBlock`` (a subclass with the same layers, names and init), but
abbreviated ``gc``: the same plugin with ``type='GC'``, in mmdet's
``ResNet`` or in ``AttnResNet``, keeps the weights under
``backbone.layerX.Y.gc<postfix>.*``.

The key mapping is therefore one path segment::

    <...>.context_block<postfix>.<rest>  ->  <...>.gc<postfix>.<rest>

(``conv_mask``, ``channel_add_conv.0`` / ``.1`` (LayerNorm) / ``.3``
unchanged). Every other key (stem, stages, neck, heads) is kept, so a whole
mmdet GCNet detector checkpoint loads strictly into the same detector whose
plugins are ``GC`` with the same ``ratio`` and ``pooling_type``.

mmattn's GC fuses by addition only (``fusion_types=('channel_add',)``, the
paper's GC block and every mmdet GCNet config); a checkpoint with
``channel_mul_conv`` weights cannot be converted and is refused.
"""
import re
from collections import OrderedDict
from typing import Dict

from torch import Tensor

#: A ``context_block<postfix>`` path segment (mmdet's plugin layer name).
_SEGMENT = re.compile(r'(^|\.)context_block([^.]*)\.')


def convert_mmdet_gcnet_state_dict(
        state_dict: Dict[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Rename ``context_block<postfix>`` to ``gc<postfix>`` in every key of
    an mmdet GCNet state dict (see the module docstring).

    Raises:
        ValueError: no key has a ``context_block`` segment (not a GCNet
            checkpoint), or a ContextBlock uses ``channel_mul`` fusion.
    """
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    renamed = 0
    for key, value in state_dict.items():
        new_key, count = _SEGMENT.subn(r'\1gc\2.', key)
        if count and '.channel_mul_conv.' in key:
            raise ValueError(
                f"mmdet GCNet key {key!r}: a ContextBlock with 'channel_mul' "
                "fusion; mmattn's GC fuses by addition only "
                "(fusion_types=('channel_add',))")
        renamed += bool(count)
        converted[new_key] = value
    if not renamed:
        raise ValueError(
            'no key has a context_block segment: not a checkpoint of an '
            'mmdet GCNet (ResNet with ContextBlock plugins)')
    return converted
