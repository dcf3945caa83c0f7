"""Every config under ``configs/`` (except ``_base_/`` and ``demo/``) loads,
imports mmattn, builds its model with its own library's registry (mmdet or
mmpretrain, from the config's ``default_scope``) and runs one inference
forward on a small CPU input. Detection backbones whose layout differs from
torchvision's ResNet-50 start from the ImageNet checkpoint of a
classification config of this repository, whose backbone state dict they
must match. Config basenames are unique, and ``model-index.yml`` lists
every config through the folders' metafiles.

Detectors whose model config equals an earlier one's apart from the
backbone share the built detector (neck and heads): only the backbone is
built again and swapped in, which keeps ~100 configs within minutes on CPU.
"""
import copy
import functools
import glob
import os
import os.path as osp
import re
from typing import Dict, List, Tuple

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmattn_test_utils import REPO_ROOT

CONFIG_DIR = osp.join(REPO_ROOT, 'configs')
#: Fragments, the demo (tests/test_demo) and benchmark suite files
#: (tests/test_suite): not model configs of the zoo.
NOT_TESTED = ('_base_', 'demo', 'suites')
#: Backbones whose state dict is not torchvision's ResNet-50 (+ plugins).
CUSTOM_LAYOUTS = ('EPSANet', 'DMSANet', 'DCAResNet', 'EMCAResNet')
#: Method folders whose attention contains BatchNorm: each needs a config
#: that trains it (SyncBN, norm_eval=False).
BN_FOLDERS = ('cbam', 'coord_attention', 'sk', 'dmsanet', 'dca', 'emca')


def _all_config_paths() -> List[str]:
    """Every .py file under configs/, relative to the repository root."""
    paths = glob.glob(osp.join(CONFIG_DIR, '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, REPO_ROOT) for p in paths)


def _tested_config_paths() -> List[str]:
    return [
        p for p in _all_config_paths()
        if osp.relpath(p, 'configs').split(os.sep)[0] not in NOT_TESTED
    ]


CONFIGS = _tested_config_paths()


@pytest.fixture(scope='module', autouse=True)
def _registries_and_one_thread():
    import mmdet.utils
    import mmpretrain.utils

    import mmattn  # noqa: F401
    mmdet.utils.register_all_modules(init_default_scope=False)
    mmpretrain.utils.register_all_modules(init_default_scope=False)
    # One thread: on a shared 2-core machine, tiny forwards with two
    # OpenMP threads run up to 10x slower than with one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Config:
    """The loaded config (shared: callers copy what they change)."""
    return Config.fromfile(osp.join(REPO_ROOT, path))


def _shapes(module: torch.nn.Module) -> Dict[str, Tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _has_mmattn_module(module: torch.nn.Module) -> bool:
    return any(
        type(m).__module__.startswith('mmattn.') for m in module.modules())


# --------------------------------------------------------------------------
# building, with sharing

#: detector model config without its backbone -> detector built from it
_DETECTORS: Dict[str, torch.nn.Module] = {}
#: classification config path -> backbone state-dict shapes
_CLS_BACKBONE_SHAPES: Dict[str, Dict[str, Tuple[int, ...]]] = {}


def _build_detector(model_cfg) -> torch.nn.Module:
    from mmdet.registry import MODELS
    model_cfg = copy.deepcopy(model_cfg)
    backbone = model_cfg.pop('backbone')
    key = repr(model_cfg.to_dict())
    with DefaultScope.overwrite_default_scope('mmdet'):
        if key in _DETECTORS:
            detector = _DETECTORS[key]
            detector.backbone = MODELS.build(backbone)
        else:
            model_cfg.backbone = backbone
            detector = MODELS.build(model_cfg)
            _DETECTORS[key] = detector
    return detector.eval()


def _build_classifier(model_cfg) -> torch.nn.Module:
    from mmpretrain.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(copy.deepcopy(model_cfg)).eval()


def _cls_backbone_shapes(path: str) -> Dict[str, Tuple[int, ...]]:
    if path not in _CLS_BACKBONE_SHAPES:
        from mmpretrain.registry import MODELS
        backbone = copy.deepcopy(_load(path).model.backbone)
        backbone.init_cfg = None
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            _CLS_BACKBONE_SHAPES[path] = _shapes(MODELS.build(backbone))
    return _CLS_BACKBONE_SHAPES[path]


def _classification_config(basename: str) -> str:
    """Path of the config named ``basename`` (.py) under configs/."""
    found = [p for p in _all_config_paths()
             if osp.basename(p) == basename + '.py']
    assert len(found) == 1, f'no (unique) config {basename}.py: {found}'
    return found[0]


# --------------------------------------------------------------------------
# per config


def _check_pretrained(path: str, cfg: Config, backbone: torch.nn.Module):
    """Plugin-on-ResNet backbones start from torchvision's ResNet-50;
    others from the ImageNet checkpoint of a config of ours whose backbone
    has exactly the detector backbone's parameters and buffers."""
    bb = cfg.model.backbone
    init_cfg = bb.get('init_cfg')
    assert init_cfg is not None and init_cfg.type == 'Pretrained', path
    if bb.type in CUSTOM_LAYOUTS or bb.get('conv2_cfg') is not None:
        assert init_cfg.get('prefix') == 'backbone.', path
        checkpoint = init_cfg.checkpoint
        assert checkpoint.startswith('checkpoints/'), checkpoint
        assert checkpoint.endswith('.pth'), checkpoint
        cls_path = _classification_config(
            osp.basename(checkpoint)[:-len('.pth')])
        assert _load(cls_path).default_scope == 'mmpretrain', cls_path
        assert _shapes(backbone) == _cls_backbone_shapes(cls_path), (
            f'{path}: its backbone does not match the backbone of '
            f'{cls_path}, whose checkpoint it loads')
    else:
        assert bb.type in ('ResNet', 'AttnResNet'), path
        assert bb.depth == 50, path
        assert init_cfg.checkpoint == 'torchvision://resnet50', path


def _run_detector(path: str, cfg: Config):
    from mmdet.testing import demo_mm_inputs
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # nothing downloaded or loaded
    if 'rpn' in model_cfg.test_cfg:
        # Test-time only, for speed and coverage: few proposals, and every
        # RoI kept, so that the box (and mask) heads of randomly initialised
        # detectors produce detections.
        model_cfg.test_cfg.rpn.max_per_img = 20
        model_cfg.test_cfg.rcnn.update(score_thr=0.0, max_per_img=5)
    model = _build_detector(model_cfg)
    assert _has_mmattn_module(model.backbone), path
    _check_pretrained(path, cfg, model.backbone)

    packed = demo_mm_inputs(
        batch_size=1, image_shapes=[(3, 64, 64)], num_items=[1],
        num_classes=80, with_mask=True)
    with torch.no_grad():
        results = model(**model.data_preprocessor(packed, False),
                        mode='predict')
    assert len(results) == 1
    pred = results[0].pred_instances
    assert pred.bboxes.ndim == 2 and pred.bboxes.shape[-1] == 4
    if 'rpn' in model_cfg.test_cfg:
        assert len(pred) > 0, path
    if 'mask_head' in cfg.model.get('roi_head', {}):
        assert pred.masks.shape[0] == len(pred), path


def _run_classifier(path: str, cfg: Config):
    backbone = cfg.model.backbone
    assert tuple(backbone.out_indices) == (3, ), path
    assert backbone.norm_eval is False, path  # trained from scratch
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model = _build_classifier(model_cfg)
    assert _has_mmattn_module(model.backbone), path
    _CLS_BACKBONE_SHAPES.setdefault(path, _shapes(model.backbone))
    with torch.no_grad():
        logits = model(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape == (1, cfg.model.head.num_classes)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(
    p, 'configs'))
def test_config_builds_and_runs(path):
    cfg = _load(path)
    assert 'mmattn' in cfg.custom_imports.imports, path
    assert cfg.custom_imports.get('allow_failed_imports') is False, path
    if cfg.default_scope == 'mmdet':
        _run_detector(path, cfg)
    elif cfg.default_scope == 'mmpretrain':
        _run_classifier(path, cfg)
    else:
        pytest.fail(f'{path}: default_scope {cfg.default_scope!r} is '
                    "neither 'mmdet' nor 'mmpretrain'")


# --------------------------------------------------------------------------
# the collection as a whole


def test_config_basenames_are_unique():
    # `mim train mmattn <basename>` needs every basename to be unique.
    seen: Dict[str, str] = {}
    for path in _all_config_paths():
        name = osp.basename(path)
        assert name not in seen, f'{path} and {seen[name]} share a name'
        seen[name] = path


def test_folders_with_batchnorm_attention_have_a_syncbn_config():
    for folder in BN_FOLDERS:
        trained = []
        for path in sorted(glob.glob(osp.join(CONFIG_DIR, folder, '*.py'))):
            cfg = _load(osp.relpath(path, REPO_ROOT))
            bb = cfg.model.backbone
            if (cfg.default_scope == 'mmdet' and bb.norm_eval is False
                    and bb.norm_cfg.type == 'SyncBN'
                    and cfg.get('sync_bn') == 'torch'):
                trained.append(path)
        assert trained, f'configs/{folder}/ has no SyncBN config'


def test_model_index_lists_every_config_once():
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    listed, names = [], set()
    for metafile in index['Import']:
        assert osp.isfile(osp.join(REPO_ROOT, metafile)), metafile
        with open(osp.join(REPO_ROOT, metafile)) as f:
            meta = yaml.safe_load(f)
        collections = {c['Name'] for c in meta['Collections']}
        for collection in meta['Collections']:
            assert osp.isfile(osp.join(REPO_ROOT, collection['README']))
            assert collection['Paper']['URL'].startswith('https://')
        for model in meta['Models']:
            config = model['Config']
            assert osp.isfile(osp.join(REPO_ROOT, config)), config
            assert model['In Collection'] in collections, model['Name']
            assert model['Name'] == osp.basename(config)[:-len('.py')]
            assert model['Name'] not in names, model['Name']
            names.add(model['Name'])
            listed.append(config)
    assert sorted(listed) == CONFIGS


def _local_checkpoints(cfg: Config) -> List[str]:
    """The model's ``Pretrained`` checkpoints that are files (not URLs)."""
    from mmattn.engine.pretrained import pretrained_checkpoints
    return [init_cfg['checkpoint'] for _, init_cfg in
            pretrained_checkpoints(cfg.model.to_dict())
            if '://' not in init_cfg['checkpoint']]


def test_readme_lists_which_configs_need_which_checkpoint(tmp_path,
                                                          monkeypatch):
    """Each row of the README's table: the configs its pattern matches
    are exactly those that load the checkpoint, the producing config is
    the one the error message names, and training any of them without the
    file stops with that message."""
    from mmattn.engine.pretrained import (MissingCheckpointError,
                                          check_pretrained_weights,
                                          producing_config)
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        readme = f.read()
    section = readme.split('### Configs that need ImageNet weights')[1]
    rows = re.findall(r'^\| `(checkpoints/[^`]+)` \| `([^`]+)` \((\d+)\) '
                      r'\| `([^`]+)` \|', section, re.M)
    needed: Dict[str, List[str]] = {}
    for path in CONFIGS:
        cfg = _load(path)
        if cfg.default_scope == 'mmdet':
            for checkpoint in _local_checkpoints(cfg):
                needed.setdefault(checkpoint, []).append(path)
    assert sorted(row[0] for row in rows) == sorted(needed)
    monkeypatch.chdir(tmp_path)  # no checkpoints/ here
    for checkpoint, pattern, count, producer in rows:
        matched = sorted(osp.relpath(p, REPO_ROOT) for p in glob.glob(
            osp.join(REPO_ROOT, pattern)))
        assert matched == sorted(needed[checkpoint]), pattern
        assert int(count) == len(matched)
        assert producing_config(checkpoint) == osp.join(REPO_ROOT, producer)
        with pytest.raises(MissingCheckpointError, match=checkpoint):
            check_pretrained_weights(_load(matched[0]))
