"""Models the analysis tools measure, by short name, dict or config file.

A *model spec* is what a tool's command line names:

* a backbone name (see :func:`backbone_cfg`): ``r50``, ``se-r50``,
  ``ema(factor=16)-r50``, ``epsanet50-s``, ``dmsanet50``, ``dca-se-r50``,
  ``emca-eca-r50`` ...;
* a detector built from mmdet's COCO config with that backbone:
  ``faster-rcnn:epsanet50-s``, ``mask-rcnn:r50``, ``retinanet:se-r50``;
* a backbone config written as a dict,
  ``"dict(type='EMCAResNet', depth=50, excitation='ECA')"``, read as a
  literal (:func:`literal_dict`), never run;
* a config file (mmdet or mmpretrain; ``mmdet::faster_rcnn/...`` names one of
  mmdet's), whose ``model`` is used.

Attention short names come from the registry (:func:`attention_names`):
each registered plugin and conv replacement answers to its ``_short_name_``
(default: its ``_abbr_``) and to the presets its class declares in
``_presets_`` (``ema16``: EMA with 16 groups).

:func:`resolve` turns a spec into a :class:`ModelSpec`; :func:`build` builds
it as an ImageNet classifier (mmpretrain ``ImageClassifier``: backbone,
global average pooling, linear head), as a detection backbone (all four
stages out, stage 1 frozen, BN in eval mode: mmdet's R-50-FPN settings) or
as the detector. Models are built without ``init_weights()``: PyTorch's
default initialisation, no pretrained download, and (unlike mmdet's
zero-init of the last BN of each block) residual branches that are not zero.
"""
import ast
import copy
import os.path as osp
import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from torch import nn

#: Detector short names -> mmdet config (relative to mmdet's configs).
DETECTORS = {
    'faster-rcnn': 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'mask-rcnn': 'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'retinanet': 'retinanet/retinanet_r50_fpn_1x_coco.py',
}

#: Backbone settings of mmdet's R-50-FPN detectors, applied to every
#: detection backbone built here.
DETECTION_BACKBONE = dict(
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    frozen_stages=1,
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=True,
    style='pytorch',
    init_cfg=None)

KINDS = ('classifier', 'backbone', 'detector')


@dataclass
class ModelSpec:
    """A model the tools can build.

    Attributes:
        name (str): Label in tables.
        kind (str): 'classifier', 'backbone' or 'detector'.
        cfg (dict): The backbone config (classifier, backbone) or the whole
            model config (detector; classifier from a config file).
        depth (int, optional): ResNet depth, for the plain-ResNet baseline.
        num_classes (int): Classes of a classifier head built here.
        cifar_stem (bool): Replace the 7×7/2 stem conv and max-pool by one
            3×3/1 conv (CIFAR ResNets, as mmpretrain's ``ResNet_CIFAR``).
        from_config (bool): ``cfg`` is a whole model config from a file.
    """
    name: str
    kind: str
    cfg: dict
    depth: Optional[int] = None
    num_classes: int = 1000
    cifar_stem: bool = False
    from_config: bool = False


def attention_names() -> Dict[str, Tuple[str, dict]]:
    """Short name -> (registered type, preset arguments) of every mmattn
    plugin and conv replacement, from the registry and the classes' own
    ``_short_name_`` / ``_abbr_`` and ``_presets_``."""
    from mmattn.registry import CONV_REPLACEMENT, MODELS, PLUGIN, list_models
    names: Dict[str, Tuple[str, dict]] = {}
    for kind in (PLUGIN, CONV_REPLACEMENT):
        for type_name in list_models(kind):
            cls = MODELS.get(type_name)
            short = getattr(cls, '_short_name_', None) or getattr(
                cls, '_abbr_', type_name.lower())
            for name, preset in {short: {}, **getattr(cls, '_presets_',
                                                      {})}.items():
                if name in names:
                    raise ValueError(
                        f'short name {name!r} is declared by both '
                        f'{names[name][0]} and {type_name}')
                names[name] = (type_name, dict(preset))
    return names


_ATTENTION = re.compile(r'(?P<name>[a-z0-9_]+)(?P<args>\(.*\))?',
                        re.IGNORECASE | re.DOTALL)


def attention_cfg(text: str) -> dict:
    """``<short name>[(key=value, ...)]`` -> the module's config, e.g.
    ``ema16`` -> ``dict(type='EMA', factor=16)``, ``se(reduction=8)`` ->
    ``dict(type='SE', reduction=8)``."""
    match = _ATTENTION.fullmatch(text.strip())
    names = attention_names()
    name = match and match.group('name').lower()
    if name not in names:
        raise ValueError(f'unknown attention {text!r}; expected one of '
                         f'{sorted(names)}, optionally with arguments: '
                         'name(key=value, ...)')
    type_name, preset = names[name]
    arguments = literal_dict('dict' + match.group('args')) \
        if match.group('args') else {}
    return dict(type=type_name, **{**preset, **arguments})


def _plugin_backbone(plugin: dict, depth: int) -> dict:
    position = 'after_conv3' if depth >= 50 else 'after_conv2'
    return dict(
        type='AttnResNet',
        depth=depth,
        plugins=[
            dict(cfg=plugin, stages=(True, True, True, True),
                 position=position)
        ])


def backbone_cfg(name: str) -> dict:
    """The backbone config of a short name; ``<att>`` is an attention short
    name with optional arguments (:func:`attention_cfg`).

    * ``r<depth>``: plain ResNet (:class:`AttnResNet` without attention,
      mmdet's ResNet);
    * ``<att>-r<depth>``: a plugin in every block, after conv3 of a
      bottleneck (after conv2 of a BasicBlock);
    * ``sk-r<depth>``: SK convs instead of the 3×3 convs, the DCA paper's
      SK-ResNet (ungrouped branches, d = C/16, no bn2 after SK);
    * ``epsanet<depth>-s`` / ``-l``: EPSANet Small / Large;
    * ``dmsanet<depth>``;
    * ``dca-<att>[-1fc|-2fc]-r<depth>``: DCAResNet around that attention
      (default channel matching '2fc', the project's default);
    * ``emca-<att>-r<depth>``: EMCAResNet with that excitation (paper
      settings: modules on the first block of each stage, coverage = all
      blocks of the previous stage).
    """
    text = name.strip()
    match = re.fullmatch(r'epsanet(\d+)-([sl])', text, re.IGNORECASE)
    if match:
        return dict(type='EPSANet', depth=int(match.group(1)),
                    variant='small' if match.group(2) in 'sS' else 'large')
    match = re.fullmatch(r'dmsanet(\d+)', text, re.IGNORECASE)
    if match:
        return dict(type='DMSANet', depth=int(match.group(1)))
    match = re.fullmatch(r'(?:(.*)-)?r(\d+)', text, re.IGNORECASE | re.DOTALL)
    if match is None:
        raise ValueError(
            f'unknown model name {name!r}; expected r<depth>, '
            '<attention>-r<depth>, sk-r<depth>, epsanet<depth>-s|l, '
            'dmsanet<depth>, dca-<attention>[-1fc|-2fc]-r<depth>, '
            'emca-<attention>-r<depth>, <detector>:<backbone> with detector '
            f'in {sorted(DETECTORS)}, a dict(...) backbone config or a '
            f'config file; attentions: {sorted(attention_names())}, '
            'optionally with arguments: name(key=value, ...)')
    head, depth = match.group(1), int(match.group(2))
    if head is None:
        return dict(type='AttnResNet', depth=depth)
    if head.lower() == 'sk':
        return dict(type='AttnResNet', depth=depth,
                    conv2_cfg=dict(type='SK', groups=1, min_channels=1),
                    conv2_norm=False)
    prefix, _, rest = head.partition('-')
    if prefix.lower() == 'dca' and rest:
        matching = re.search(r'-(1fc|2fc)$', rest, re.IGNORECASE)
        attention = rest[:matching.start()] if matching else rest
        cfg = dict(type='DCAResNet', depth=depth,
                   attention=attention_cfg(attention))
        if matching:
            cfg['channel_matching'] = matching.group(1).lower()
        return cfg
    if prefix.lower() == 'emca' and rest:
        excitation = attention_cfg(rest)
        cfg = dict(type='EMCAResNet', depth=depth,
                   excitation=excitation.pop('type'))
        if excitation:
            cfg['excitation_cfg'] = excitation
        return cfg
    plugin = attention_cfg(head)
    from mmattn.registry import PLUGIN, list_models
    if plugin['type'] not in list_models(PLUGIN):
        raise ValueError(
            f"{name!r}: {plugin['type']} replaces a block's 3×3 conv and is "
            'no plugin; name its backbone (sk-r50, epsanet50-s, dmsanet50) '
            'or write a dict(...) backbone config')
    return _plugin_backbone(plugin, depth)


def literal_dict(text: str) -> dict:
    """A ``dict(key=value, ...)`` or ``{...}`` literal from the command line,
    read as data: numbers, strings, True/False/None, lists, tuples and
    nested dicts; nothing is evaluated (a call other than ``dict(...)`` or a
    name is refused)."""
    try:
        node = ast.parse(text.strip(), mode='eval').body
    except SyntaxError as exc:
        raise ValueError(f'{text!r} is not a dict literal ({exc.msg})') \
            from None
    value = _literal(node, text)
    if not isinstance(value, dict):
        raise ValueError(f'{text!r} is not a dict literal')
    return value


def _literal(node: ast.AST, text: str):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args and \
            all(keyword.arg for keyword in node.keywords):
        return {keyword.arg: _literal(keyword.value, text)
                for keyword in node.keywords}
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(key, text): _literal(value, text)
                for key, value in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, text) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(
            f'{text!r}: {ast.unparse(node)!r} is not a literal; a model '
            'spec dict holds numbers, strings, True/False/None, lists, '
            'tuples and dict(key=value, ...)') from None


def config_path(path: str) -> str:
    """A config file path; ``mmdet::x`` / ``mmpretrain::x`` name the
    package's own configs."""
    if '::' in path:
        package, relative = path.split('::', 1)
        from mmengine.utils import get_installed_path
        return osp.join(get_installed_path(package), '.mim', 'configs',
                        relative)
    return path


def load_config(path: str) -> Config:
    return Config.fromfile(config_path(path))


def _to_dict(cfg) -> dict:
    if isinstance(cfg, ConfigDict):
        return cfg.to_dict()
    return copy.deepcopy(cfg)


def detector_cfg(detector: str, backbone: dict) -> dict:
    """The model config of mmdet's COCO ``detector`` with ``backbone``."""
    if detector not in DETECTORS:
        raise ValueError(f'unknown detector {detector!r}; expected one of '
                         f'{sorted(DETECTORS)}')
    model = _to_dict(load_config('mmdet::' + DETECTORS[detector]).model)
    model['backbone'] = {**backbone, **DETECTION_BACKBONE}
    depth = _depth_of(backbone)
    if depth is not None and depth < 50 and 'neck' in model:
        # BasicBlock ResNets: 64·2^i stage channels instead of 256·2^i.
        model['neck']['in_channels'] = [64, 128, 256, 512]
    return model


def _depth_of(backbone: dict) -> Optional[int]:
    depth = backbone.get('depth') if isinstance(backbone, dict) else None
    return depth if isinstance(depth, int) else None


def resolve(spec: str, kind: Optional[str] = None) -> ModelSpec:
    """Turn a command-line model spec into a :class:`ModelSpec`.

    ``kind`` ('classifier' or 'backbone') says how a backbone spec is built;
    detector specs and config files know their own kind.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    text = spec.strip()
    if text.endswith('.py'):
        cfg = load_config(text)
        model = _to_dict(cfg.model)
        model_type = str(model.get('type', ''))
        is_detector = ('rpn_head' in model or 'roi_head' in model
                       or 'bbox_head' in model
                       or cfg.get('default_scope') == 'mmdet')
        if 'backbone' in model and 'init_cfg' in model['backbone']:
            model['backbone']['init_cfg'] = None
        name = osp.splitext(osp.basename(text))[0]
        if is_detector:
            return ModelSpec(name, 'detector', model,
                             depth=_depth_of(model.get('backbone')),
                             from_config=True)
        if 'Classifier' in model_type:
            return ModelSpec(name, 'classifier', model,
                             depth=_depth_of(model.get('backbone')),
                             from_config=True)
        raise ValueError(f'{spec}: cannot tell whether its model '
                         f'({model_type}) is a detector or a classifier')
    if text.startswith(('dict(', '{')):
        backbone = literal_dict(text)
        name = backbone.get('type', 'backbone')
        if 'depth' in backbone:
            name = f"{name}-{backbone['depth']}"
        return ModelSpec(name, kind or 'classifier', backbone,
                         depth=_depth_of(backbone))
    detector = re.fullmatch(r'([a-z-]+):(.+)', text,
                            re.IGNORECASE | re.DOTALL)
    if detector:
        detector, backbone_name = detector.groups()
        backbone = backbone_cfg(backbone_name)
        return ModelSpec(text, 'detector',
                         detector_cfg(detector.lower(), backbone),
                         depth=_depth_of(backbone))
    backbone = backbone_cfg(text)
    return ModelSpec(text, kind or 'classifier', backbone,
                     depth=_depth_of(backbone))


def baseline_of(spec: ModelSpec) -> Optional[ModelSpec]:
    """The plain ResNet of the same depth, built the same way (same kind,
    same detector or config with mmdet's ResNet as backbone)."""
    if spec.depth is None:
        return None
    plain = dict(type='AttnResNet', depth=spec.depth)
    if spec.kind == 'detector':
        if not spec.from_config and ':' in spec.name:
            return resolve(spec.name.split(':')[0] + f':r{spec.depth}')
        model = copy.deepcopy(spec.cfg)
        old = model['backbone']
        keep = {k: old[k] for k in DETECTION_BACKBONE if k in old}
        model['backbone'] = dict(type='ResNet', depth=spec.depth, **keep)
        model['backbone']['init_cfg'] = None
        return ModelSpec(f'{spec.name} (ResNet-{spec.depth})', 'detector',
                         model, depth=spec.depth, from_config=True)
    if spec.from_config:
        model = copy.deepcopy(spec.cfg)
        model['backbone'] = {
            **plain,
            **{k: v for k, v in model['backbone'].items()
               if k in ('out_indices', 'num_stages', 'style')}
        }
        return ModelSpec(f'{spec.name} (ResNet-{spec.depth})', spec.kind,
                         model, depth=spec.depth, from_config=True)
    return ModelSpec(f'r{spec.depth}', spec.kind, plain, depth=spec.depth,
                     num_classes=spec.num_classes, cifar_stem=spec.cifar_stem)


def same_model(a: ModelSpec, b: ModelSpec) -> bool:
    return (a.kind == b.kind and a.cfg == b.cfg
            and a.num_classes == b.num_classes
            and a.cifar_stem == b.cifar_stem)


def _final_channels(backbone: dict) -> int:
    depth = backbone.get('depth', 50)
    base = backbone.get('base_channels', 64)
    return base * 8 * (4 if depth >= 50 else 1)


def _apply_cifar_stem(backbone: nn.Module) -> None:
    backbone.conv1 = nn.Conv2d(3, backbone.stem_channels, 3, 1, 1,
                               bias=False)
    backbone.maxpool = nn.Identity()


def build(spec: ModelSpec, device='cpu') -> nn.Module:
    """Build ``spec`` on ``device`` (``'meta'`` builds shapes only), in eval
    mode and without ``init_weights()``."""
    import mmattn  # noqa: F401  (registers the modules)
    with torch.device(device):
        if spec.kind == 'detector':
            from mmdet.registry import MODELS as DET_MODELS
            from mmengine.registry import DefaultScope
            with _scope('mmdet', DefaultScope):
                model = DET_MODELS.build(ConfigDict(copy.deepcopy(spec.cfg)))
        elif spec.kind == 'classifier':
            from mmengine.registry import DefaultScope
            from mmpretrain.registry import MODELS as CLS_MODELS
            if spec.from_config:
                cfg = copy.deepcopy(spec.cfg)
            else:
                backbone = {**spec.cfg, 'out_indices': (3, )}
                cfg = dict(
                    type='ImageClassifier',
                    backbone=backbone,
                    neck=dict(type='GlobalAveragePooling'),
                    head=dict(
                        type='LinearClsHead',
                        num_classes=spec.num_classes,
                        in_channels=_final_channels(backbone)))
            with _scope('mmpretrain', DefaultScope):
                model = CLS_MODELS.build(ConfigDict(cfg))
            if spec.cifar_stem:
                _apply_cifar_stem(model.backbone)
        else:
            from mmdet.registry import MODELS as DET_MODELS
            from mmengine.registry import DefaultScope
            with _scope('mmdet', DefaultScope):
                model = DET_MODELS.build({**spec.cfg, **DETECTION_BACKBONE})
            if spec.cifar_stem:
                _apply_cifar_stem(model)
    return model.eval()


def _scope(scope: str, default_scope_cls):
    """Make ``scope`` the default scope while building (mmdet's and
    mmpretrain's registries resolve their own types through it)."""
    return default_scope_cls.overwrite_default_scope(scope)


def model_forward(spec: ModelSpec, model: nn.Module, inputs: torch.Tensor):
    """The tensor forward of a classifier or backbone (detectors: the
    backbone and neck, see :mod:`mmattn.analysis.complexity` for heads)."""
    if spec.kind == 'classifier':
        return model(inputs, mode='tensor')
    if spec.kind == 'backbone':
        return model(inputs)
    return model.extract_feat(inputs)
