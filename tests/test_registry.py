import json
import subprocess
import sys

import pytest
import torch
from mmengine.registry import DefaultScope

from mmattn.registry import (BACKBONE, MODELS, PLUGIN, UnknownTypeError,
                             list_models, register)


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


def test_misspelled_plugin_in_mmdet_resnet_names_type_and_suggestions():
    cfg = dict(type='ResNet', depth=50,
               plugins=[dict(cfg=dict(type='SEE'), stages=(False, True, True,
                                                           True),
                             position='after_conv3')])
    with pytest.raises(UnknownTypeError) as info:
        _mmdet_build(cfg)
    message = str(info.value)
    assert "'SEE'" in message and 'SE' in message.split('Closest')[1]
    assert 'Cannot find None' not in message


def test_misspelled_backbone_names_type_and_suggestions():
    with pytest.raises(UnknownTypeError) as info:
        _mmdet_build(dict(type='ResNett', depth=50))
    message = str(info.value)
    assert "'ResNett'" in message
    assert 'ResNet' in message.split('Closest registered names:')[1]
    assert "custom_imports" in message


def test_unknown_type_error_is_a_key_error_for_existing_handlers():
    assert issubclass(UnknownTypeError, KeyError)


def test_known_types_still_build_through_the_checked_builders():
    backbone = _mmdet_build(dict(type='ResNet', depth=18))
    backbone.eval()  # mmdet's ResNet.train() returns None
    assert backbone(torch.randn(1, 3, 32, 32))[0].shape[1] == 64


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
