"""Checkpoints of the DCANet authors' code (github.com/ma-xu/DCANet) to
mmattn's :class:`~mmattn.models.backbones.DCAResNet` keys.

The authors' DCA-ResNets are torchvision ResNets (``conv1``, ``bn1``,
``layerX.Y.conv1..3/bn1..3/downsample.0/1``, ``fc``) whose blocks each hold
one attention module that also owns its DCA layers (files under
``models/resnet/`` of their repository):

* SE: ``se`` (``CSELayer``); matching ``se.att_fc`` = Linear, LayerNorm,
  ReLU;
* GatherExcite (GE-θ⁻): ``ge`` (``GEBlock``); matching ``ge.att_fc`` as
  SE's;
* GC: ``rgc`` (``RContextBlock2d``); matching ``rgc.att_fc`` = 1×1 conv,
  LayerNorm, ReLU, 1×1 conv;
* CBAM: ``cbam.ChannelGate`` and ``cbam.SpatialGate``; matching
  ``cbam.ChannelGate.att_fc`` = 1×1 conv, BatchNorm, ReLU on the map;
* SK: the bottleneck itself (``conv2``/``bn2`` and ``conv2g``/``bn2g``
  branches, ``conv_fc1``/``bn_fc1``/``conv_fc2``); matchings
  ``att_fc_1/att_fc_2`` = Linear, LayerNorm, ReLU.

mmattn's matching names: SE, GE, CBAM and SK match with '1fc'
(``Linear → LayerNorm → ReLU``), GC with '2fc' (``Linear → LayerNorm →
ReLU → Linear``); the converted checkpoint loads into
``DCAResNet(depth, attention=dict(type=A), channel_matching=M)`` with that
M. The authors' connection ``Conv2d(2 → 1, 1×1)`` over the stacked
[G, T̃] is, per output, ``w₀·G + w₁·T̃ + b``: its two weights become
:class:`~mmattn.models.connect.dca.Connection`'s ``gain`` and ``alpha``
and its bias ``bias``; DCA-CBAM's spatial ``p1``, ``p2`` are ``gain`` and
``alpha``, DCA-GC's ``weight`` is ``alpha``.

What does not carry over:

* The authors build the connection (and, where the stem's 64 channels
  differ from the block's, matching) layers in the network's first block
  ``layer1.0`` too, although it never receives a previous attention, so
  they are never used (nor trained). DCAResNet does not build them: they
  are dropped, and logged.
* DCA-CBAM's matching (``ChannelGate.att_fc``, in the first block of
  stages 2-4) is a 1×1 conv + BatchNorm + ReLU applied to the previous
  feature map *before* its avg/max pooling; mmattn's is Linear + LayerNorm
  + ReLU on the pooled descriptors. The parameters have the same shapes but
  the functions differ, so those three blocks cannot be converted exactly:
  the converter refuses unless ``allow_inexact=True``, which maps the conv
  onto the Linear and the BN's affine onto the LayerNorm's, drops the BN
  statistics, and logs a warning (fine-tune before use).
* Matchings the authors' code does not have ('2fc' for SE, GE, CBAM and
  SK; '1fc' for GC) have no known checkpoint layout: NotImplementedError.
"""
import logging
import re
from collections import OrderedDict
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

from torch import Tensor

from mmattn.models.connect.dca import CHANNEL_MATCHINGS

from .layout import as_model_state

logger = logging.getLogger(__name__)

#: The network's first block: never connected, no DCA layers in mmattn.
FIRST_BLOCK = 'layer1.0'

_BN = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
_BN_STATS = ('running_mean', 'running_var', 'num_batches_tracked')
_STEM = re.compile(r'conv1\.weight|bn1\.' + _BN)
_FC = re.compile(r'fc\.(weight|bias)')
_BLOCK = re.compile(r'(layer\d+\.\d+)\.(.+)')
# A block-relative mmattn key of a DCA layer (not of the attention itself).
_DCA_LAYER = re.compile(r'(connected|conv2)\.(connect|match)\.')

#: (new block-relative key, tensor or None to discard) pairs.
_Outputs = List[Tuple[str, Optional[Tensor]]]
_Handler = Callable[[re.Match, Tensor], _Outputs]


class _Rule(NamedTuple):
    """A block-relative key pattern of the authors' layout and how it maps.

    ``exact`` is False where mmattn's layer computes a different function
    from the same-shaped parameters (DCA-CBAM's matching)."""
    pattern: str
    handler: _Handler
    exact: bool = True


def _rename(template: str,
            reshape: Optional[Callable[[Tensor], Tensor]] = None) -> _Handler:
    """Rename by a ``Match.expand`` template, optionally reshaping."""

    def handler(match: re.Match, tensor: Tensor) -> _Outputs:
        return [(match.expand(template),
                 tensor if reshape is None else reshape(tensor))]

    return handler


def _discard(template: str) -> _Handler:
    """A tensor without a counterpart (recorded under ``template``)."""

    def handler(match: re.Match, tensor: Tensor) -> _Outputs:
        return [(match.expand(template), None)]

    return handler


def _split_connection(template: str) -> _Handler:
    """The authors' ``Conv2d(2, 1, 1)`` weight (1, 2, 1, 1) over [G, T̃] ->
    ``gain`` (w₀, on G) and ``alpha`` (w₁, on T̃) under ``template``."""

    def handler(match: re.Match, tensor: Tensor) -> _Outputs:
        if tuple(tensor.shape) != (1, 2, 1, 1):
            raise ValueError(
                f'convert_dcanet_state_dict: {match[0]!r} has shape '
                f'{tuple(tensor.shape)}; the authors\' connection is a '
                'Conv2d(2, 1, kernel_size=1) with weight shape (1, 2, 1, 1)')
        prefix = match.expand(template)
        return [(f'{prefix}gain', tensor[0, 0].reshape(1).clone()),
                (f'{prefix}alpha', tensor[0, 1].reshape(1).clone())]

    return handler


def _conv1x1(tensor: Tensor) -> Tensor:
    """Linear weight (out, in) -> 1×1 conv weight (out, in, 1, 1)."""
    return tensor.reshape(*tensor.shape, 1, 1)


def _linear(tensor: Tensor) -> Tensor:
    """1×1 conv weight (out, in, 1, 1) -> Linear weight (out, in)."""
    return tensor.flatten(1)


def _vector(tensor: Tensor) -> Tensor:
    """LayerNorm([C, 1, 1]) affine (C, 1, 1) -> LayerNorm(C)'s (C,)."""
    return tensor.flatten()


_FC_INDEX = {'0': 'fc1', '2': 'fc2'}
_MLP_INDEX = {'1': '0', '3': '2'}


def _excite_connection(module: str) -> Tuple[_Rule, ...]:
    """SE's and GE's ``conv`` (connection) and ``att_fc`` (1-FC matching)."""
    return (
        _Rule(module + r'\.conv\.0\.weight',
              _split_connection('connected.connect.channel.')),
        _Rule(module + r'\.conv\.0\.bias',
              _rename('connected.connect.channel.bias')),
        _Rule(module + r'\.conv\.1\.(weight|bias)',
              _rename(r'connected.connect.channel.norm.\1')),
        _Rule(module + r'\.att_fc\.([01])\.(weight|bias)',
              _rename(r'connected.match.channel.\1.\2')),
    )


def _se_fc(match: re.Match, tensor: Tensor) -> _Outputs:
    """SE's ``fc.0/fc.2`` Linear -> mmattn SE's 1×1 convs ``fc1/fc2``."""
    name = f'connected.attention.{_FC_INDEX[match[1]]}.{match[2]}'
    return [(name, _conv1x1(tensor) if match[2] == 'weight' else tensor)]


def _cbam_mlp(match: re.Match, tensor: Tensor) -> _Outputs:
    """CBAM's ``mlp.1/mlp.3`` (``mlp.0`` is a Flatten) -> ``channel_mlp``."""
    return [(f'connected.attention.channel_mlp.{_MLP_INDEX[match[1]]}.'
             f'{match[2]}', tensor)]


def _sk_branch(layer: str, inner: str = '') -> _Handler:
    """The authors' per-branch layer of branch i (group 1, from 1) ->
    ``conv2.{layer}.branches.{i - 1}.{inner}<group 2>``."""

    def handler(match: re.Match, tensor: Tensor) -> _Outputs:
        index = int(match[1]) - 1
        return [(f'conv2.{layer}.branches.{index}.{inner}{match[2]}',
                 tensor)]

    return handler


def _sk_connection(match: re.Match, tensor: Tensor) -> _Outputs:
    """``att_conv<i>.0.weight`` -> branch i-1's ``gain`` and ``alpha``."""
    index = int(match[1]) - 1
    return _split_connection(f'conv2.connect.branches.{index}.')(match,
                                                                 tensor)


_SE_RULES = (
    _Rule(r'se\.fc\.([02])\.(weight|bias)', _se_fc),
    *_excite_connection('se'),
)

_GE_RULES = _excite_connection('ge')

_GC_RULES = (
    _Rule(r'rgc\.(conv_mask\.(weight|bias)|'
          r'channel_add_conv\.[013]\.(weight|bias))',
          _rename(r'connected.attention.\1')),
    _Rule(r'rgc\.att_fc\.([03])\.weight',
          _rename(r'connected.match.channel.\1.weight', _linear)),
    _Rule(r'rgc\.att_fc\.([03])\.bias',
          _rename(r'connected.match.channel.\1.bias')),
    _Rule(r'rgc\.att_fc\.1\.(weight|bias)',
          _rename(r'connected.match.channel.1.\1', _vector)),
    _Rule(r'rgc\.weight', _rename('connected.connect.channel.alpha')),
)

_CBAM_RULES = (
    _Rule(r'cbam\.ChannelGate\.mlp\.([13])\.(weight|bias)', _cbam_mlp),
    _Rule(r'cbam\.ChannelGate\.alpha\.0\.weight',
          _split_connection('connected.connect.channel.')),
    _Rule(r'cbam\.ChannelGate\.alpha\.1\.(weight|bias)',
          _rename(r'connected.connect.channel.norm.\1')),
    _Rule(r'cbam\.ChannelGate\.att_fc\.0\.weight',
          _rename('connected.match.channel.0.weight', _linear),
          exact=False),
    _Rule(r'cbam\.ChannelGate\.att_fc\.0\.bias',
          _rename('connected.match.channel.0.bias'), exact=False),
    _Rule(r'cbam\.ChannelGate\.att_fc\.1\.(weight|bias)',
          _rename(r'connected.match.channel.1.\1'), exact=False),
    _Rule(r'cbam\.ChannelGate\.att_fc\.1\.(' + '|'.join(_BN_STATS) + ')',
          _discard(r'connected.match.channel.1.\1'), exact=False),
    _Rule(r'cbam\.SpatialGate\.spatial\.conv\.weight',
          _rename('connected.attention.spatial_conv.weight')),
    _Rule(r'cbam\.SpatialGate\.spatial\.bn\.' + _BN,
          _rename(r'connected.attention.spatial_bn.\1')),
    _Rule(r'cbam\.SpatialGate\.p1', _rename('connected.connect.spatial.gain')),
    _Rule(r'cbam\.SpatialGate\.p2',
          _rename('connected.connect.spatial.alpha')),
    _Rule(r'cbam\.SpatialGate\.bnrelu\.0\.' + _BN,
          _rename(r'connected.connect.spatial.norm.\1')),
)

# The authors' DCA-SK bottleneck: branch 0 is conv2/bn2 (3×3), branch 1
# conv2g/bn2g (3×3, dilation 2); SK's fuse FC conv_fc1/bn_fc1, its select FC
# conv_fc2 (output laid out branch-major, as mmattn's fc2); per-branch
# connections att_conv1/2 and matchings att_fc_1/2. They precede the plain
# ResNet rules, which would keep conv2/bn2 in place.
_SK_RULES = (
    _Rule(r'conv2\.weight', _rename('conv2.attention.convs.0.weight')),
    _Rule(r'bn2\.' + _BN, _rename(r'conv2.attention.norms.0.\1')),
    _Rule(r'conv2g\.weight', _rename('conv2.attention.convs.1.weight')),
    _Rule(r'bn2g\.' + _BN, _rename(r'conv2.attention.norms.1.\1')),
    _Rule(r'conv_fc1\.weight', _rename('conv2.attention.fc1.weight')),
    _Rule(r'bn_fc1\.' + _BN, _rename(r'conv2.attention.fc_norm.\1')),
    _Rule(r'conv_fc2\.weight', _rename('conv2.attention.fc2.weight')),
    _Rule(r'att_conv([12])\.0\.weight', _sk_connection),
    _Rule(r'att_conv([12])\.0\.(bias)', _sk_branch('connect')),
    _Rule(r'att_conv([12])\.1\.(weight|bias)',
          _sk_branch('connect', 'norm.')),
    _Rule(r'att_fc_([12])\.([01]\.(?:weight|bias))', _sk_branch('match')),
)

_RESNET_RULES = (
    _Rule(r'conv[123]\.weight|bn[123]\.' + _BN + r'|downsample\.[01]\..+',
          _rename(r'\g<0>')),
)


class _Layout(NamedTuple):
    """What the authors' code has for one attention."""
    source: str  # their model file
    matching: str  # mmattn's name for their channel matching
    description: str  # their matching layers
    rules: Tuple[_Rule, ...]


_LAYOUTS: Dict[str, _Layout] = {
    'SE': _Layout('models/resnet/resnet_se_dca.py', '1fc',
                  'se.att_fc = Linear + LayerNorm + ReLU', _SE_RULES),
    'GatherExcite': _Layout('models/resnet/resnet_getheta_dca.py', '1fc',
                            'ge.att_fc = Linear + LayerNorm + ReLU',
                            _GE_RULES),
    'GC': _Layout('models/resnet/resnet_gc_dca.py', '2fc',
                  'rgc.att_fc = Conv1x1 + LayerNorm + ReLU + Conv1x1',
                  _GC_RULES),
    'CBAM': _Layout('models/resnet/resnet_cbam_dca.py', '1fc',
                    'cbam.ChannelGate.att_fc = Conv1x1 + BatchNorm + ReLU',
                    _CBAM_RULES),
    'SK': _Layout('models/resnet/resnet_sk2_dca.py', '1fc',
                  'att_fc_1/att_fc_2 = Linear + LayerNorm + ReLU', _SK_RULES),
}

#: The attentions whose DCA checkpoints can be converted.
ATTENTIONS = tuple(_LAYOUTS)


def _map_block_key(block: str, suffix: str,
                   rules: Tuple[_Rule, ...], tensor: Tensor
                   ) -> Optional[Tuple[_Rule, _Outputs]]:
    for rule in rules:
        match = re.fullmatch(rule.pattern, suffix)
        if match:
            return rule, [(f'{block}.{new}', value)
                          for new, value in rule.handler(match, tensor)]
    return None


def _listing(keys: List[str], limit: int = 12) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f' ... ({len(keys) - limit} more)'
                    if len(keys) > limit else '')


def convert_dcanet_state_dict(state_dict: Dict[str, Tensor],
                              attention: str,
                              channel_matching: Optional[str] = None,
                              classifier: bool = False,
                              with_prefix: bool = False,
                              allow_inexact: bool = False
                              ) -> 'OrderedDict[str, Tensor]':
    """Convert a DCA-ResNet state dict of the DCANet authors' code to
    mmattn's :class:`~mmattn.models.backbones.DCAResNet` keys.

    Works for any depth (Basic or Bottleneck blocks); widths are read from
    the tensors. The result loads with ``strict=True`` into
    ``DCAResNet(depth, attention=dict(type=attention),
    channel_matching=channel_matching)`` (with default attention arguments,
    which are the authors').

    The authors' connection and matching layers of the network's first
    block (``layer1.0``), which never receive a previous attention, are
    dropped and listed in an INFO log record of this module's logger.

    Args:
        state_dict (dict): The authors' ``model.state_dict()``, with or
            without the DataParallel/DistributedDataParallel ``module.``
            prefix.
        attention (str): 'SE', 'GatherExcite' (their GE-θ⁻), 'GC', 'CBAM'
            or 'SK', as in DCAResNet's ``attention=dict(type=...)``.
        channel_matching (str, optional): mmattn's matching the checkpoint
            maps to, '1fc' or '2fc'. The authors' code has one per
            attention ('2fc' for GC, '1fc' for the others), the default;
            the other raises NotImplementedError.
        classifier (bool): Keep ``fc`` as mmpretrain's ``head.fc`` and put
            the backbone under ``backbone.``: an ``ImageClassifier`` state
            dict. Otherwise ``fc`` is dropped (detection). Default: False.
        with_prefix (bool): Put the backbone keys under ``backbone.`` (a
            detector's ``load_from``). Implied by ``classifier``.
            Default: False.
        allow_inexact (bool): Convert DCA-CBAM's matching layers although
            mmattn's compute a different function (see the module
            docstring); logged as a WARNING. Default: False.

    Returns:
        OrderedDict: The converted state dict.

    Raises:
        ValueError: An unknown ``attention`` or ``channel_matching``; keys
            that are not part of the authors' layout for ``attention`` (all
            named); a connection weight of the wrong shape.
        NotImplementedError: A matching the authors' code does not have, or
            DCA-CBAM matching layers without ``allow_inexact``.
    """
    layout = _LAYOUTS.get(attention)
    if layout is None:
        raise ValueError(
            f'convert_dcanet_state_dict: attention={attention!r} is invalid; '
            f'it must be one of {ATTENTIONS}')
    matching = channel_matching or layout.matching
    if matching not in CHANNEL_MATCHINGS:
        raise ValueError(
            f'convert_dcanet_state_dict: channel_matching={matching!r} is '
            f'invalid; it must be one of {CHANNEL_MATCHINGS}')
    if matching != layout.matching:
        raise NotImplementedError(
            f'convert_dcanet_state_dict: channel_matching={matching!r} for '
            f'attention={attention!r} is not supported: the DCANet authors\' '
            f'code (github.com/ma-xu/DCANet, {layout.source}) only has '
            f'{layout.description}, which is mmattn\'s {layout.matching!r}; '
            f'the key layout of a {matching!r} DCA-{attention} checkpoint is '
            'unknown. Convert with '
            f'channel_matching={layout.matching!r}.')

    rules = layout.rules + _RESNET_RULES
    backbone: 'OrderedDict[str, Tensor]' = OrderedDict()
    head: 'OrderedDict[str, Tensor]' = OrderedDict()
    unknown: List[str] = []
    dropped: List[str] = []
    inexact: List[str] = []
    for key, tensor in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        fc = _FC.fullmatch(key)
        if fc:
            head[f'head.fc.{fc[1]}'] = tensor
            continue
        if _STEM.fullmatch(key):
            backbone[key] = tensor
            continue
        block = _BLOCK.fullmatch(key)
        mapped = block and _map_block_key(block[1], block[2], rules, tensor)
        if not mapped:
            unknown.append(key)
            continue
        rule, outputs = mapped
        for new_key, value in outputs:
            if block[1] == FIRST_BLOCK and _DCA_LAYER.match(
                    new_key[len(block[1]) + 1:]):
                if key not in dropped:
                    dropped.append(key)
                continue
            if not rule.exact and key not in inexact:
                inexact.append(key)
            if value is None:
                continue
            if new_key in backbone:
                raise ValueError(
                    f'convert_dcanet_state_dict: {key!r} maps to {new_key!r}'
                    ', which another key already gave')
            backbone[new_key] = value

    if unknown:
        raise ValueError(
            f'convert_dcanet_state_dict: {len(unknown)} key(s) are not part '
            f'of the DCANet authors\' DCA-{attention} layout '
            f'({layout.source} of github.com/ma-xu/DCANet): '
            f'{_listing(unknown)}')
    if inexact and not allow_inexact:
        raise NotImplementedError(
            'convert_dcanet_state_dict: the authors\' DCA-CBAM channel '
            'matching (ChannelGate.att_fc: 1x1 conv + BatchNorm + ReLU on the '
            'previous feature map, before pooling) has no exact counterpart '
            'in mmattn (Linear + LayerNorm + ReLU on the pooled descriptors); '
            f'keys: {_listing(inexact)}. Pass allow_inexact=True '
            '(--allow-inexact) to map them onto mmattn\'s layers anyway and '
            'fine-tune.')
    if dropped:
        logger.info(
            'convert_dcanet_state_dict: dropped %d tensor(s) of the '
            'authors\' connection/matching layers in the first block (%s), '
            'which never receives a previous attention and has no such '
            'layers in mmattn\'s DCAResNet: %s', len(dropped), FIRST_BLOCK,
            ', '.join(dropped))
    if inexact:
        logger.warning(
            'convert_dcanet_state_dict: DCA-CBAM channel matching converted '
            'INEXACTLY (conv -> Linear, BatchNorm affine -> LayerNorm affine, '
            'BatchNorm statistics dropped); the blocks %s compute a '
            'different function from the authors\' and need fine-tuning: %s',
            sorted({key.rsplit('.cbam.', 1)[0] for key in inexact}),
            ', '.join(inexact))

    return as_model_state(backbone, head, classifier, with_prefix)
