"""Configuration mistakes give errors that name the problem.

* a misspelled attention type (plugin, conv replacement, DCA attention),
  from a backbone config and from a whole mmdet detector config:
  ``mmattn.registry.UnknownTypeError`` naming the type and the closest
  registered names;
* a plugin position that the block type does not have (AttnBasicBlock has
  ``after_conv1``/``after_conv2`` only), and plugin ``stages`` of the wrong
  length: ``ValueError`` from AttnResNet (mmdet's own ``ResNet`` asserts
  without a message; that stays mmdet's);
* ``frozen_stages`` beyond ``num_stages``: ``ValueError``;
* a checkpoint whose keys do not fit: mmengine's ``load_checkpoint(...,
  strict=True)`` names the missing and unexpected keys; an ``init_cfg``
  ``Pretrained`` checkpoint of which nothing fits (mmengine would only warn
  and keep the random init) raises ``ValueError`` from mmattn's backbones,
  with a hint for the usual cause (a detector checkpoint without
  ``prefix='backbone.'``); a partial fit (ImageNet ResNet weights in an
  attention ResNet) loads with mmengine's warning; the EPSANet converter
  names a key that is not part of the authors' layout.
"""
import copy
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mmattn.convert import convert_epsanet_state_dict
from mmattn.registry import MODELS, UnknownTypeError

HERE = osp.dirname(osp.abspath(__file__))
DETECTOR = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')
SMALL = dict(type='AttnResNet', depth=18, base_channels=16)


def _plugin(type_name, position='after_conv2', **kwargs):
    return dict(cfg=dict(type=type_name, **kwargs), position=position,
                stages=(False, True, True, True))


@pytest.mark.parametrize('cfg, typo, suggestion', [
    (dict(SMALL, plugins=[_plugin('EMAA')]), 'EMAA', 'EMA'),
    (dict(type='AttnResNet', depth=50, conv2_cfg=dict(type='PSAA')), 'PSAA',
     'PSA'),
    (dict(type='DCAResNet', depth=18, attention=dict(type='SEE')), 'SEE',
     'SE'),
])
def test_misspelled_attention_in_backbone_config(cfg, typo, suggestion):
    with pytest.raises(UnknownTypeError) as info:
        MODELS.build(cfg)
    message = str(info.value)
    assert f"Unknown type '{typo}' at " in message
    assert f'Closest registered names: {suggestion}' in message


def test_misspelled_attention_in_detector_config():
    cfg = Config.fromfile(DETECTOR)
    cfg.model.backbone.plugins[0].cfg.type = 'EMAA'
    from mmdet.registry import MODELS as DET_MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        with pytest.raises(UnknownTypeError, match="'EMAA'.*\n.*EMA"):
            DET_MODELS.build(cfg.model)


def test_plugin_position_missing_from_basic_block():
    with pytest.raises(ValueError) as info:
        MODELS.build(dict(SMALL, plugins=[_plugin('SE', 'after_conv3')]))
    assert str(info.value) == (
        "AttnBasicBlock: plugin position 'after_conv3' does not exist; "
        "positions of this block are ('after_conv1', 'after_conv2')")


def test_plugin_position_missing_from_bottleneck():
    with pytest.raises(ValueError, match="AttnBottleneck: plugin position "
                       "'after_conv4' does not exist"):
        MODELS.build(dict(type='AttnResNet', depth=50, base_channels=16,
                          plugins=[_plugin('SE', 'after_conv4')]))


def test_mmdet_resnet_keeps_its_own_assertion():
    """Our plugin in mmdet's own ResNet at a position its Bottleneck lacks:
    mmdet asserts (no message); documented, not changed."""
    from mmdet.registry import MODELS as DET_MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        with pytest.raises(AssertionError):
            DET_MODELS.build(dict(type='ResNet', depth=50, plugins=[
                dict(cfg=dict(type='SE'), position='after_conv4')]))


def test_plugin_stages_of_the_wrong_length():
    with pytest.raises(ValueError, match=r'AttnResNet: plugins\[0\] stages='
                       r'\(False, True\) is invalid; it needs one flag per '
                       r'stage \(num_stages=4\)'):
        MODELS.build(dict(SMALL, plugins=[
            dict(cfg=dict(type='SE'), position='after_conv2',
                 stages=(False, True))]))


@pytest.mark.parametrize('num_stages, frozen_stages', [(4, 5), (3, 4),
                                                        (4, -2)])
def test_frozen_stages_beyond_num_stages(num_stages, frozen_stages):
    with pytest.raises(ValueError) as info:
        MODELS.build(dict(SMALL, num_stages=num_stages,
                          out_indices=tuple(range(num_stages)),
                          frozen_stages=frozen_stages))
    assert str(info.value) == (
        f'AttnResNet: frozen_stages={frozen_stages} is invalid; it must lie '
        f'in [-1, num_stages={num_stages}]')


def test_frozen_stages_equal_to_num_stages_is_allowed():
    model = MODELS.build(dict(SMALL, frozen_stages=4))
    assert not any(p.requires_grad for p in model.layer4.parameters())


@pytest.fixture
def detector_checkpoint(tmp_path):
    """A detector-style checkpoint of SMALL + SE: backbone keys under
    'backbone.' (what a detector's or classifier's checkpoint holds)."""
    backbone = MODELS.build(dict(SMALL, plugins=[_plugin('SE')]))
    path = str(tmp_path / 'detector.pth')
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in backbone.state_dict().items()}},
               path)
    return path, backbone


def test_strict_load_checkpoint_names_missing_and_unexpected_keys(
        detector_checkpoint):
    path, _ = detector_checkpoint
    model = MODELS.build(dict(SMALL, plugins=[_plugin('SE')]))
    with pytest.raises(RuntimeError) as info:
        load_checkpoint(model, path, strict=True)
    message = str(info.value)
    assert 'unexpected key in source state_dict: backbone.conv1.weight' in \
        message
    assert 'missing keys in source state_dict: conv1.weight' in message


def test_pretrained_init_cfg_that_fits_nothing_raises(detector_checkpoint):
    path, _ = detector_checkpoint
    model = MODELS.build(dict(SMALL, plugins=[_plugin('SE')],
                              init_cfg=dict(type='Pretrained',
                                            checkpoint=path)))
    with pytest.raises(ValueError) as info:
        model.init_weights()
    message = str(info.value)
    assert message.startswith(f'AttnResNet: init_cfg checkpoint {path!r} '
                              'has no tensor that fits the model')
    assert "'backbone.bn1.bias'" in message  # an unexpected key
    assert "add prefix='backbone.' to the init_cfg" in message


def test_pretrained_init_cfg_with_prefix_loads(detector_checkpoint):
    path, source = detector_checkpoint
    model = MODELS.build(dict(SMALL, plugins=[_plugin('SE')],
                              init_cfg=dict(type='Pretrained',
                                            checkpoint=path,
                                            prefix='backbone.')))
    model.init_weights()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_pretrained_init_cfg_with_other_shapes_raises(tmp_path):
    path = str(tmp_path / 'wide.pth')
    torch.save(MODELS.build(dict(SMALL, base_channels=32)).state_dict(),
               path)
    model = MODELS.build(dict(SMALL, init_cfg=dict(type='Pretrained',
                                                    checkpoint=path)))
    with pytest.raises(ValueError, match='the names match but no shape '
                       'does'):
        model.init_weights()


class _ListHandler(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_pretrained_plain_resnet_into_attention_resnet_warns(tmp_path):
    """The usual case (ImageNet ResNet weights, attention from its own
    init): it loads, and mmengine warns about the attention keys."""
    plain = MODELS.build(copy.deepcopy(SMALL))
    path = str(tmp_path / 'resnet.pth')
    torch.save(plain.state_dict(), path)
    model = MODELS.build(dict(SMALL, plugins=[_plugin('SE')],
                              init_cfg=dict(type='Pretrained',
                                            checkpoint=path)))
    handler = _ListHandler()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(handler)
    warning = '\n'.join(handler.messages)
    assert 'missing keys in source state_dict: layer2.0.se.fc1.weight' in \
        warning
    torch.testing.assert_close(model.conv1.weight, plain.conv1.weight)


def test_epsanet_converter_names_a_foreign_key():
    with pytest.raises(ValueError, match="key 'backbone.conv1.weight' is not "
                       "part of the EPSANet authors' layout"):
        convert_epsanet_state_dict(
            {'backbone.conv1.weight': torch.zeros(64, 3, 7, 7)})
