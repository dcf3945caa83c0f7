"""Checkpoints of the EPSANet authors' code (github.com/murufeng/EPSANet)
to mmattn's :class:`~mmattn.models.backbones.EPSANet` keys.

The authors' network is torchvision's ResNet layout (``bn1``, ``layer1.0.
bn2``, ``downsample.0/1``, ``fc``) with a ``PSAModule`` as ``conv2``
(branches ``conv_1..conv_S``, shared ``se.fc1/fc2``). mmattn's backbone is
mmdet's ResNet, whose state-dict keys are the same torchvision names (its
``norm1..3`` are properties over the ``bn1..3`` modules with BN norm
layers), with :class:`~mmattn.models.attention.PSA` as ``conv2``
(``convs.0..S-1``, ``se_fc1/se_fc2``); ``fc`` is mmpretrain's ``head.fc``.

Their ``PSAModule`` concatenates the weighted branches in reverse order
([k9, k7, k5, k3]), mmattn's in kernel order, so the channel blocks of what
reads the PSA output (``bn2`` and ``conv3``'s input channels) are reversed.
"""
import re
from collections import OrderedDict
from typing import Callable, Dict, Tuple, Union

from torch import Tensor

from .layout import as_model_state

_BLOCK = r'(layer\d+\.\d+)'

# (full-match pattern, new key) for every key of the authors' layout (after
# an optional DataParallel ``module.`` prefix); the new key is a
# ``Match.expand`` template or a function of the match. Only PSA keys change.
_RULES: Tuple[Tuple[str, Union[str, Callable[[re.Match], str]]], ...] = (
    (r'conv1\.weight|bn1\..+', r'\g<0>'),
    (_BLOCK + r'\.(conv[13]\.weight|bn[123]\..+|downsample\.[01]\..+)',
     r'\g<0>'),
    (_BLOCK + r'\.conv2\.conv_(\d+)\.weight',
     lambda m: f'{m[1]}.conv2.convs.{int(m[2]) - 1}.weight'),
    (_BLOCK + r'\.conv2\.se\.fc([12])\.(weight|bias)', r'\1.conv2.se_fc\2.\3'),
)
_FC = re.compile(r'fc\.(weight|bias)')
_BRANCH = re.compile(_BLOCK + r'\.conv2\.convs\.\d+\.weight')
_BN_TENSORS = ('weight', 'bias', 'running_mean', 'running_var')


def _map_key(key: str) -> str:
    for pattern, new_key in _RULES:
        match = re.fullmatch(pattern, key)
        if match:
            return new_key(match) if callable(new_key) else match.expand(
                new_key)
    raise ValueError(
        f'convert_epsanet_state_dict: key {key!r} is not part of the EPSANet '
        'authors\' layout (torchvision ResNet keys with PSAModule conv2: '
        'conv_1..conv_S, se.fc1, se.fc2)')


def _reverse_channel_blocks(tensor: Tensor, blocks: int, dim: int) -> Tensor:
    """Reverse the order of ``blocks`` equal channel blocks along ``dim``."""
    return tensor.unflatten(dim, (blocks, -1)).flip(dim).flatten(dim, dim + 1)


def convert_epsanet_state_dict(state_dict: Dict[str, Tensor],
                               classifier: bool = False,
                               with_prefix: bool = False
                               ) -> 'OrderedDict[str, Tensor]':
    """Convert an EPSANet state dict of the authors' code to mmattn keys.

    Works for any depth and variant: widths and the number of scales are
    read from the tensors.

    Args:
        state_dict (dict): The authors' ``model.state_dict()``, with or
            without DataParallel's ``module.`` prefix.
        classifier (bool): Keep ``fc`` as mmpretrain's ``head.fc`` and put
            the backbone under ``backbone.``: an ``ImageClassifier`` state
            dict. Otherwise ``fc`` is dropped (detection). Default: False.
        with_prefix (bool): Put the backbone keys under ``backbone.`` (a
            detector's ``load_from``); without it the keys fit the backbone
            itself (``init_cfg=dict(type='Pretrained', ...)``). Implied by
            ``classifier``. Default: False.

    Returns:
        OrderedDict: The converted state dict.

    Raises:
        ValueError: A key that is not part of the authors' layout.
    """
    backbone = OrderedDict()
    head = OrderedDict()
    for key, tensor in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        fc = _FC.fullmatch(key)
        if fc:
            head[f'head.fc.{fc[1]}'] = tensor
        else:
            backbone[_map_key(key)] = tensor

    scales: Dict[str, int] = {}
    for key in backbone:
        branch = _BRANCH.fullmatch(key)
        if branch:
            scales[branch[1]] = scales.get(branch[1], 0) + 1
    for block, count in scales.items():
        for name in _BN_TENSORS:
            key = f'{block}.bn2.{name}'
            backbone[key] = _reverse_channel_blocks(backbone[key], count, 0)
        key = f'{block}.conv3.weight'
        backbone[key] = _reverse_channel_blocks(backbone[key], count, 1)

    return as_model_state(backbone, head, classifier, with_prefix)
