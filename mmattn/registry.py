"""mmattn's registries and how its names are seen from other OpenMMLab code.

* ``MODELS`` is a child of mmengine's root ``MODELS`` with scope ``mmattn``:
  every mmattn model resolves as ``type='mmattn.<Name>'`` from any project, and
  ``from mmattn.registry import MODELS`` lists what mmattn provides.
* Each mmattn class is also registered in the root registry. mmengine's
  lookup walks from the current scope (``mmdet``, ``mmpretrain``) up to the
  root, never sideways, so this is what makes plain names (``type='SE'``) work
  inside mmdet and mmpretrain configs, including mmdet's
  ``ResNet(plugins=...)`` (the same route mmcv's ``ContextBlock`` takes).
* An unknown type in a model config raises :class:`UnknownTypeError`, naming
  the type and the closest registered names, instead of mmcv's
  ``Cannot find None in registry``.
"""
import difflib
import functools
import sys
from typing import Callable, Dict, List, Optional

from mmcv.cnn.bricks import plugin as mmcv_plugin
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import Registry
from mmengine.registry import build_functions as mmengine_build_functions

MODELS = Registry(
    'model', parent=ROOT_MODELS, scope='mmattn', locations=['mmattn.models'])

#: Kinds of mmattn model, as listed by :func:`list_models`.
PLUGIN = 'plugin'  # shape-preserving attention, placed at a block position
CONV_REPLACEMENT = 'conv_replacement'  # replaces a block's 3x3 conv
BACKBONE = 'backbone'
KINDS = (PLUGIN, CONV_REPLACEMENT, BACKBONE)

_kind_of: Dict[str, str] = {}


def register(kind: str) -> Callable[[type], type]:
    """Class decorator registering an mmattn model of the given kind.

    The class is registered under its class name in mmattn's registry and in
    mmengine's root registry (see the module docstring for why both).
    """
    if kind not in KINDS:
        raise ValueError(f'register: kind must be one of {KINDS}, got {kind!r}')

    def decorator(cls: type) -> type:
        MODELS.register_module(module=cls)
        ROOT_MODELS.register_module(module=cls)
        _kind_of[cls.__name__] = kind
        return cls

    return decorator


def list_models(kind: Optional[str] = None) -> List[str]:
    """Names of the registered mmattn models, optionally of one kind."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f'list_models: kind must be one of {KINDS} or None, '
                         f'got {kind!r}')
    return sorted(name for name, k in _kind_of.items()
                  if kind is None or k == kind)


class UnknownTypeError(KeyError):
    """A config names a type that no visible registry holds."""

    def __str__(self) -> str:
        return self.args[0]


def _visible_names(registry: Registry) -> List[str]:
    names = set()
    while registry is not None:
        names.update(registry.module_dict)
        registry = registry.parent
    return sorted(names)


def unknown_type_error(type_name: str, registry: Registry) -> UnknownTypeError:
    """Build the error raised when ``type_name`` is not in ``registry``."""
    plain_name = type_name.split('.')[-1]
    candidates = _visible_names(registry)
    by_lower = {name.lower(): name for name in candidates}
    close = difflib.get_close_matches(
        plain_name.lower(), list(by_lower), n=5, cutoff=0.6)
    suggestions = [by_lower[name] for name in close]
    lines = [f"Unknown model type '{type_name}' in the registry "
             f"'{registry.scope}::{registry.name}' (and its parents)."]
    if suggestions:
        lines.append(f"Closest registered names: {', '.join(suggestions)}.")
    for kind in KINDS:
        lines.append(f'mmattn {kind}s: {", ".join(list_models(kind))}.')
    lines.append("A config using mmattn needs custom_imports = "
                 "dict(imports=['mmattn'], allow_failed_imports=False).")
    return UnknownTypeError('\n'.join(lines))


def _check_type_known(cfg, registry: Registry,
                      default_args: Optional[dict] = None) -> None:
    if not isinstance(cfg, dict):
        return  # the wrapped builder reports malformed configs itself
    type_name = cfg.get('type', (default_args or {}).get('type'))
    if not isinstance(type_name, str):
        return
    with registry.switch_scope_and_registry(cfg.get('_scope_')) as scoped:
        if scoped.get(type_name) is None:
            raise unknown_type_error(type_name, scoped)


def _with_type_check(build: Callable) -> Callable:

    @functools.wraps(build)
    def build_from_cfg(cfg, registry, default_args=None):
        _check_type_known(cfg, registry, default_args)
        return build(cfg, registry, default_args)

    build_from_cfg.__wrapped_by_mmattn__ = True
    return build_from_cfg


def _with_plugin_type_check(build: Callable) -> Callable:

    @functools.wraps(build)
    def build_plugin_layer(cfg, postfix='', **kwargs):
        _check_type_known(cfg, ROOT_MODELS)
        return build(cfg, postfix, **kwargs)

    build_plugin_layer.__wrapped_by_mmattn__ = True
    return build_plugin_layer


def _install_unknown_type_errors() -> None:
    """Make mmengine's and mmcv's model builders name unknown types clearly.

    mmengine's ``build_model_from_cfg`` (the root ``MODELS`` build function)
    calls ``build_from_cfg`` through its module; mmcv's ``build_plugin_layer``
    is imported by name into modules such as mmdet's ``resnet``, so every
    module already holding it gets the checked version too.
    """
    original_build = mmengine_build_functions.build_from_cfg
    if getattr(original_build, '__wrapped_by_mmattn__', False):
        return
    mmengine_build_functions.build_from_cfg = _with_type_check(original_build)

    original_plugin = mmcv_plugin.build_plugin_layer
    checked_plugin = _with_plugin_type_check(original_plugin)
    for module in list(sys.modules.values()):
        if getattr(module, 'build_plugin_layer', None) is original_plugin:
            module.build_plugin_layer = checked_plugin


_install_unknown_type_errors()
