"""What a benchmark suite runs: models (a list of configs, or a matrix of
detector configs × backbone variants), seeds, a schedule and a dataset.

A suite file is an mmengine config (Python) with either

* ``configs = dict(name='path/to/config.py', ...)`` and ``baseline`` (one
  of the names): each config is a model; or
* ``detectors = dict(name='path.py', ...)``, ``backbones = dict(name=dict(
  ...), ...)`` and ``baseline`` (one of the backbone names): each
  detector × backbone cell is a model ``'<detector>:<backbone>'`` whose
  ``model.backbone`` is the detector's with the backbone dict merged in
  (mmengine's merge: ``plugins=None`` drops the plugins, ``_delete_=True``
  replaces the whole backbone); each detector's baseline is its cell with
  the baseline backbone;

and optionally ``seeds`` (default ``[0, 1, 2]``), ``max_iters`` or
``max_epochs`` (the run length; schedules follow it,
:mod:`mmattn.engine.schedule`), ``dataset`` (a ``coco_dataset`` dict,
:mod:`mmattn.engine.dataset`) and ``cfg_options`` (``{key: value}`` applied
to every run). Paths are relative to the suite file. The command line of
``tools/benchmark_suite.py`` overrides all of them.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmattn.cli import UserError

DEFAULT_SEEDS = (0, 1, 2)


class SuiteError(UserError):
    """A suite description that cannot be run (printed alone by the tool,
    exit code 2)."""


@dataclass
class Model:
    """One leaderboard row: a config, optionally with a backbone variant.

    Attributes:
        name (str): Its name in the leaderboard and the results store.
        config (str): Absolute path of the config file.
        backbone (dict, optional): Merged into ``model.backbone``.
        baseline (str, optional): The model it is compared with (its own
            name for a baseline).
    """
    name: str
    config: str
    backbone: Optional[dict] = None
    baseline: Optional[str] = None


@dataclass
class Suite:
    """Models × seeds, trained and tested alike."""
    models: List[Model]
    seeds: List[int] = field(default_factory=lambda: list(DEFAULT_SEEDS))
    max_iters: Optional[int] = None
    max_epochs: Optional[int] = None
    dataset: Optional[dict] = None
    cfg_options: Dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.models:
            raise SuiteError('a suite needs at least one model')
        names = [m.name for m in self.models]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise SuiteError(f'model names must be unique; repeated: '
                             f'{repeated}')
        for model in self.models:
            if model.baseline is not None and model.baseline not in names:
                raise SuiteError(f'{model.name}: its baseline '
                                 f'{model.baseline!r} is not a model of the '
                                 f'suite ({names})')
            if not osp.isfile(model.config):
                raise SuiteError(f'{model.name}: config {model.config} does '
                                 'not exist')
        if not self.seeds or len(set(self.seeds)) != len(self.seeds) or \
                not all(isinstance(s, int) and not isinstance(s, bool)
                        for s in self.seeds):
            raise SuiteError(f'seeds must be distinct integers, got '
                             f'{self.seeds!r}')
        if self.max_iters is not None and self.max_epochs is not None:
            raise SuiteError('give max_iters or max_epochs, not both')
        for key in ('max_iters', 'max_epochs'):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int)
                                      or value < 1):
                raise SuiteError(f'{key} must be a positive int, got '
                                 f'{value!r}')

    def runs(self) -> List[tuple]:
        """(model, seed) of every run, seed-major: every model has run with
        seed 0 before any runs with seed 1, so that a suite cut short still
        compares all models."""
        return [(model, seed) for seed in self.seeds for model in self.models]

    def variant_options(self, model: Model, seed: int) -> dict:
        """What distinguishes the run: the backbone variant and the seed."""
        options = dict(randomness=dict(seed=seed))
        if model.backbone is not None:
            options['model'] = dict(backbone=model.backbone)
        return options

    def run_options(self) -> dict:
        """What every run sets, after :meth:`variant_options`: the suite's
        ``cfg_options`` and the run length."""
        options = dict(self.cfg_options)
        if self.max_iters is not None:
            options['train_cfg.max_iters'] = self.max_iters
        if self.max_epochs is not None:
            options['train_cfg.max_epochs'] = self.max_epochs
        return options


def _path(base_dir: str, path: str) -> str:
    return osp.abspath(osp.join(base_dir, osp.expanduser(path)))


def models_from_configs(configs: Dict[str, str], baseline: Optional[str],
                        base_dir: str = '.') -> List[Model]:
    """One model per config; ``baseline`` names one of them."""
    if baseline is not None and baseline not in configs:
        raise SuiteError(f'baseline {baseline!r} is not one of the configs '
                         f'{list(configs)}')
    return [Model(name, _path(base_dir, path), None, baseline)
            for name, path in configs.items()]


def models_from_matrix(detectors: Dict[str, str], backbones: Dict[str, dict],
                       baseline: Optional[str],
                       base_dir: str = '.') -> List[Model]:
    """One model per detector × backbone; each detector's baseline is its
    cell with the ``baseline`` backbone."""
    if baseline is not None and baseline not in backbones:
        raise SuiteError(f'baseline {baseline!r} is not one of the backbones '
                         f'{list(backbones)}')
    for name, backbone in backbones.items():
        if not isinstance(backbone, dict):
            raise SuiteError(f'backbone {name!r} must be a dict merged into '
                             f'model.backbone, got {backbone!r}')
    return [
        Model(f'{detector}:{name}', _path(base_dir, path), dict(backbone),
              f'{detector}:{baseline}' if baseline is not None else None)
        for detector, path in detectors.items()
        for name, backbone in backbones.items()
    ]


def config_names(paths: Sequence[str]) -> Dict[str, str]:
    """``{basename without .py: path}`` of config files."""
    names = {osp.splitext(osp.basename(p))[0]: p for p in paths}
    if len(names) != len(paths):
        raise SuiteError(f'config file names must be unique: {list(paths)}')
    return names


def load_suite(path: str, **overrides) -> Suite:
    """The suite described by the file ``path`` (see the module
    docstring); ``overrides`` (``seeds``, ``max_iters``, ``max_epochs``,
    ``dataset``, ``cfg_options``) replace its settings when not None."""
    if not osp.isfile(path):
        raise SuiteError(f'suite file {path} does not exist')
    spec = Config.fromfile(path).to_dict()
    base_dir = osp.dirname(osp.abspath(path))
    has_configs, has_matrix = 'configs' in spec, 'detectors' in spec
    if has_configs == has_matrix:
        raise SuiteError(f'{path}: give either configs=dict(...) or '
                         'detectors=dict(...) with backbones=dict(...)')
    if has_configs:
        models = models_from_configs(spec['configs'], spec.get('baseline'),
                                     base_dir)
    else:
        if 'backbones' not in spec:
            raise SuiteError(f'{path}: detectors=dict(...) needs '
                             'backbones=dict(...)')
        models = models_from_matrix(spec['detectors'], spec['backbones'],
                                    spec.get('baseline'), base_dir)
    settings = dict(
        seeds=list(spec.get('seeds', DEFAULT_SEEDS)),
        max_iters=spec.get('max_iters'),
        max_epochs=spec.get('max_epochs'),
        dataset=spec.get('dataset'),
        cfg_options=dict(spec.get('cfg_options') or {}))
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if overrides.get('max_iters') is not None:
        settings['max_epochs'] = None
    if overrides.get('max_epochs') is not None:
        settings['max_iters'] = None
    return Suite(models, **settings)
