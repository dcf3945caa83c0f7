"""The layout every converter writes: a bare backbone state dict, or one
nested as mmengine models hold it."""
from collections import OrderedDict
from typing import Dict

from torch import Tensor


def as_model_state(backbone: Dict[str, Tensor], head: Dict[str, Tensor],
                   classifier: bool,
                   with_prefix: bool) -> 'OrderedDict[str, Tensor]':
    """``backbone`` as it is (a detector's ``init_cfg`` Pretrained), or under
    ``backbone.`` with ``with_prefix`` (a detector's ``load_from``) or
    ``classifier`` (an mmpretrain ImageClassifier, which also gets ``head``,
    the ``head.fc`` tensors)."""
    if not (classifier or with_prefix):
        return OrderedDict(backbone)
    converted = OrderedDict(
        (f'backbone.{key}', tensor) for key, tensor in backbone.items())
    if classifier:
        converted.update(head)
    return converted
