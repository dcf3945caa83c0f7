"""mmattn's registries, how its names are seen from other OpenMMLab code,
and the check that every type a config names exists.

* ``MODELS`` is a child of mmengine's root ``MODELS`` with scope ``mmattn``:
  every mmattn model resolves as ``type='mmattn.<Name>'`` from any project, and
  ``from mmattn.registry import MODELS`` lists what mmattn provides.
* Each mmattn class is also registered in the root registry. mmengine's
  lookup walks from the current scope (``mmdet``, ``mmpretrain``) up to the
  root, never sideways, so this is what makes plain names (``type='SE'``) work
  inside mmdet and mmpretrain configs, including mmdet's
  ``ResNet(plugins=...)`` (the same route mmcv's ``ContextBlock`` takes).
* A type that no registry holds is reported as :class:`UnknownTypeError`,
  naming the type, where it was found and the closest registered names, by
  :func:`check_config` (which the tools run on a whole config before building
  anything) and by mmattn's own build paths (:func:`check_type`). Upstream
  builders are left as they are: importing mmattn rebinds no function of
  mmengine, mmcv or mmdet.
"""
import difflib
import importlib
from typing import (Callable, Dict, Iterator, List, Mapping, Optional, Tuple,
                    Union)

from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope, Registry

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


def _visible_names(registries: List[Registry]) -> List[str]:
    names = set()
    for registry in registries:
        while registry is not None:
            names.update(registry.module_dict)
            registry = registry.parent
    return sorted(names)


def unknown_type_error(type_name: str,
                       registries: List[Registry],
                       where: Optional[str] = None) -> UnknownTypeError:
    """The error for ``type_name``, which none of ``registries`` (nor their
    parents) holds; ``where`` says where the config names it."""
    plain_name = type_name.split('.')[-1]
    by_lower = {name.lower(): name for name in _visible_names(registries)}
    close = difflib.get_close_matches(
        plain_name.lower(), list(by_lower), n=5, cutoff=0.6)
    scope = registries[0].scope
    lines = [f"Unknown type '{type_name}'" +
             (f' at {where}' if where else '') +
             f" (no registry of scope '{scope}' or its parents holds it)."]
    if close:
        lines.append('Closest registered names: '
                     f"{', '.join(by_lower[name] for name in close)}.")
    for kind in KINDS:
        lines.append(f'mmattn {kind}s: {", ".join(list_models(kind))}.')
    lines.append("A config using mmattn needs custom_imports = "
                 "dict(imports=['mmattn'], allow_failed_imports=False).")
    return UnknownTypeError('\n'.join(lines))


def check_type(cfg: Optional[Mapping], where: str,
               registry: Registry = MODELS) -> None:
    """Raise :class:`UnknownTypeError` when the string ``type`` of ``cfg``
    is not in ``registry`` seen from the current default scope.

    mmattn's backbones and attention modules call it (through
    :func:`mmattn.models.utils.check_cfg`) on every config argument before
    building what it describes (block plugins, conv replacements, connected
    attention, norm, conv and activation layers), so that a typo is
    reported with its place and the closest names rather than as mmcv's
    ``Cannot find None in registry``. ``cfg`` None (nothing to build)
    passes.
    """
    if cfg is None:
        return
    type_name = cfg.get('type') if isinstance(cfg, Mapping) else None
    if not isinstance(type_name, str):
        return
    scope = DefaultScope.get_current_instance()
    with registry.switch_scope_and_registry(
            scope.scope_name if scope else None) as scoped:
        if _lookup(scoped, type_name) is None:
            raise unknown_type_error(type_name, [scoped], f'{where}.type')


def _lookup(registry: Registry, type_name: str):
    try:
        return registry.get(type_name)
    except RuntimeError:  # mmengine's last resort, an import by name, failed
        return None


# The whole-config check ---

#: Dicts under these keys name attributes of ``mmcv.ops``, which mmdet
#: looks up by name (``nms=dict(type='nms')``,
#: ``roi_layer=dict(type='RoIAlign')``), not registered classes.
_OPS_KEYS = ('nms', 'roi_layer')


def _in_scope(registry: Registry, scope: str) -> Optional[Registry]:
    """The registry of ``scope`` in the tree below ``registry``, if any."""
    if registry.scope == scope:
        return registry
    for child in registry.children.values():
        found = _in_scope(child, scope)
        if found is not None:
            return found
    return None


def _scope_registries(scope: str) -> List[Registry]:
    """Every registry a config of ``scope`` builds from: mmengine's root
    registries seen from ``scope`` and the registries the scope's package
    defines for itself (e.g. mmpretrain's batch augments)."""
    from mmengine import registry as root
    try:
        package = vars(importlib.import_module(f'{scope}.registry'))
    except ImportError:
        package = {}
    registries = []
    for registry in vars(root).values():
        if isinstance(registry, Registry):
            registries.append(_in_scope(registry, scope) or registry)
    registries += [value for value in package.values()
                   if isinstance(value, Registry) and value not in registries]
    return registries


def _named_types(value, where: str,
                 scope: Optional[str]) -> Iterator[Tuple[str, str, str]]:
    """(type name, where, scope) of every dict with a string ``type``."""
    if isinstance(value, Mapping):
        scope = value.get('_scope_', scope)
        type_name = value.get('type')
        if isinstance(type_name, str):
            yield type_name, where, scope
        for key, item in value.items():
            yield from _named_types(item, f'{where}.{key}' if where else
                                    str(key), scope)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _named_types(item, f'{where}[{index}]', scope)


def _is_ops_function(type_name: str, where: str) -> bool:
    if where.rsplit('.', 1)[-1] not in _OPS_KEYS:
        return False
    from mmcv import ops
    return callable(getattr(ops, type_name, None))


def check_config(cfg: Union[Config, Mapping]) -> None:
    """Check that every ``type`` a config names exists, before anything is
    built.

    Walks the whole config (model, datasets and pipelines, samplers,
    optimizer, schedulers, hooks, evaluators, visualizer...) and resolves
    every string ``type`` in the config's ``default_scope`` (or a dict's own
    ``_scope_``) in every registry of that scope and its parents, so
    ``norm_cfg``, ``conv_cfg``, ``act_cfg``, ``init_cfg`` and attention
    plugins deep inside a backbone are checked too. The config's
    ``custom_imports`` must have been imported (``Config.fromfile`` does).

    Raises:
        UnknownTypeError: for the first unknown type, naming it, where the
            config names it (``model.backbone.norm_cfg.type``) and the
            closest registered names.
    """
    if isinstance(cfg, Config):
        cfg = cfg.to_dict()
    default_scope = cfg.get('default_scope') or 'mmengine'
    registries: Dict[str, List[Registry]] = {}
    for type_name, where, scope in _named_types(cfg, '', default_scope):
        if scope not in registries:
            registries[scope] = _scope_registries(scope)
        with DefaultScope.overwrite_default_scope(scope):
            known = any(
                _lookup(registry, type_name) is not None
                for registry in registries[scope])
        if not known and not _is_ops_function(type_name, where):
            raise unknown_type_error(type_name, registries[scope],
                                     f'{where}.type')
