import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmattn.registry import (BACKBONE, MODELS, PLUGIN, UnknownTypeError,
                             check_config, list_models, register)
from mmattn_test_utils import REPO_ROOT


def _mmdet_build(cfg):
    from mmdet.registry import MODELS as MMDET_MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MMDET_MODELS.build(cfg)


def test_list_models_by_kind():
    plugins = list_models(PLUGIN)
    assert 'SE' in plugins
    assert set(plugins) <= set(list_models())
    assert set(list_models(BACKBONE)).isdisjoint(plugins)
    with pytest.raises(ValueError, match="kind must be one of"):
        list_models('attention')


def test_registry_importable_and_lists_modules_for_other_projects():
    code = ('from mmattn.registry import MODELS; '
            'print(sorted(MODELS.module_dict))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout
    assert 'SE' in out


def test_scoped_and_plain_names_build_the_same_class():
    plain = _mmdet_build(dict(type='SE', in_channels=64))
    scoped = _mmdet_build(dict(type='mmattn.SE', in_channels=64))
    assert type(plain) is type(scoped) is MODELS.get('SE')


def _detector_config(**backbone):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'se',
                                   'faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py'))
    cfg.model.backbone.update(backbone)
    return cfg


def _first_line_and_closest(error):
    lines = str(error).splitlines()
    return lines[0], lines[1]


def test_check_config_names_a_misspelled_plugin_in_mmdet_resnet():
    cfg = _detector_config(plugins=[dict(
        cfg=dict(type='SEE'), stages=(False, True, True, True),
        position='after_conv3')])
    with pytest.raises(UnknownTypeError) as info:
        check_config(cfg)
    first, closest = _first_line_and_closest(info.value)
    assert first.startswith("Unknown type 'SEE' at "
                            'model.backbone.plugins[0].cfg.type')
    assert closest.startswith('Closest registered names: SE')
    assert 'Cannot find None' not in str(info.value)


@pytest.mark.parametrize('where, misspelled, closest', [
    ('norm_cfg', dict(type='SyncBNN', requires_grad=True), 'SyncBN'),
    ('dcn', dict(type='DCNv22', deform_groups=1), 'DCNv2'),
])
def test_check_config_names_misspelled_layer_types(where, misspelled,
                                                   closest):
    cfg = _detector_config(**{where: misspelled})
    with pytest.raises(UnknownTypeError) as info:
        check_config(cfg)
    first, names = _first_line_and_closest(info.value)
    assert f"'{misspelled['type']}' at model.backbone.{where}.type" in first
    assert closest in names


def test_check_config_names_misspelled_types_outside_the_model():
    cfg = _detector_config()
    cfg.train_dataloader.dataset.pipeline[1].type = 'LoadAnnotationz'
    with pytest.raises(UnknownTypeError, match=r"'LoadAnnotationz' at "
                       r'train_dataloader\.dataset\.pipeline\[1\]\.type'):
        check_config(cfg)
    cfg = _detector_config()
    cfg.default_hooks.checkpoint.type = 'CheckpointHok'
    with pytest.raises(UnknownTypeError, match='CheckpointHook'):
        check_config(cfg)


def test_check_config_follows_a_dicts_own_scope():
    cfg = _detector_config()
    cfg.model.backbone = dict(type='mmpretrain.ResNet', depth=50)
    check_config(cfg)
    cfg.model.backbone = dict(_scope_='mmpretrain', type='ResNeSt', depth=50)
    check_config(cfg)
    cfg.model.backbone = dict(_scope_='mmpretrain', type='ResNeSTT')
    with pytest.raises(UnknownTypeError, match="scope 'mmpretrain'"):
        check_config(cfg)


CONFIGS = sorted(path for path in glob.glob(
    osp.join(REPO_ROOT, 'configs', '*', '*.py')) if '_base_' not in path)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_every_config_of_the_repository_passes_the_check(path):
    check_config(Config.fromfile(path))


def test_mmattn_build_paths_name_unknown_types():
    with pytest.raises(UnknownTypeError,
                       match=r"'PSAA' at AttnResNet\.conv2_cfg\.type"):
        MODELS.build(dict(type='AttnResNet', depth=50,
                          conv2_cfg=dict(type='PSAA')))
    with pytest.raises(UnknownTypeError,
                       match=r"'SyncBNN' at AttnResNet\.norm_cfg\.type"):
        MODELS.build(dict(type='AttnResNet', depth=18,
                          norm_cfg=dict(type='SyncBNN')))
    with pytest.raises(UnknownTypeError,
                       match=r"'SyncBNN' at CoordAttention\.norm_cfg\.type"):
        MODELS.build(dict(type='CoordAttention', in_channels=64,
                          norm_cfg=dict(type='SyncBNN')))
    with pytest.raises(UnknownTypeError,
                       match=r"'ReLUU' at SE\.act_cfg\.type"):
        MODELS.build(dict(type='SE', in_channels=64,
                          act_cfg=dict(type='ReLUU')))


UPSTREAM_IDENTITIES = r'''
import json, sys, types
import mmcv.cnn, mmcv.ops, mmengine.registry, mmengine.runner  # noqa: F401
import mmdet.models, mmpretrain.models  # noqa: F401

def snapshot():
    seen = {}
    for name, module in list(sys.modules.items()):
        if not name.split('.')[0] in ('mmengine', 'mmcv', 'mmdet',
                                      'mmpretrain'):
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, (types.FunctionType, type)):
                seen[f'{name}.{attr}'] = id(value)
    return seen

before = snapshot()
import mmattn  # noqa: F401
after = snapshot()
changed = sorted(k for k in before if after.get(k) != before[k])
print(json.dumps(dict(count=len(before), changed=changed)))
'''


def test_import_mmattn_rebinds_no_upstream_function():
    out = subprocess.run([sys.executable, '-c', UPSTREAM_IDENTITIES],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result['count'] > 1000  # sanity: the snapshot saw upstream
    assert result['changed'] == []


def test_register_rejects_unknown_kind():
    with pytest.raises(ValueError, match='kind must be one of'):
        register('attention')


COLLECT_NAMES = r'''
import json
import mmcv.cnn, mmcv.ops  # noqa: F401
from mmdet.utils import register_all_modules as mmdet_register
from mmpretrain.utils import register_all_modules as mmpretrain_register
from mmengine.registry import MODELS
mmdet_register(init_default_scope=False)
mmpretrain_register(init_default_scope=False)
names = {}
def walk(registry):
    for name in registry.module_dict:
        names.setdefault(name, []).append(registry.scope)
    for child in registry.children.values():
        walk(child)
walk(MODELS)
print(json.dumps(names))
'''


def test_no_mmattn_name_collides_with_openmmlab_names():
    """Names registered by mmengine, mmcv, mmdet and mmpretrain, collected
    in a process that never imports mmattn."""
    out = subprocess.run([sys.executable, '-c', COLLECT_NAMES],
                         capture_output=True, text=True, check=True).stdout
    others = json.loads(out.strip().splitlines()[-1])
    assert len(others) > 300  # sanity: the collection really ran
    clashes = {name: others[name] for name in list_models() if name in others}
    assert not clashes, f'mmattn names already used elsewhere: {clashes}'
