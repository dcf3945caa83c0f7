"""mmdet GCNet checkpoints (ResNet + mmcv ContextBlock plugins) load into
mmattn's GC plugins after the converter's key mapping
(``context_block*`` -> ``gc*``), with equal outputs."""
import functools
import os.path as osp
from runpy import run_path

import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint

from mmattn.cli import USER_ERRORS, run_main
from mmattn.convert import convert_mmdet_gcnet_state_dict
from mmattn.registry import MODELS
from mmattn_test_utils import REPO_ROOT, randomise

TOOL = osp.join(REPO_ROOT, 'tools', 'model_converters',
                'mmdet_gcnet_to_mmattn.py')


def _gc_plugins(type_name):
    # mmdet's configs/gcnet (r4: ratio 1/4, c3-c5), at half the base width.
    return [dict(cfg=dict(type=type_name, ratio=1. / 4),
                 stages=(False, True, True, True), position='after_conv3')]


def _mmdet_resnet(plugin_type):
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = DET_MODELS.build(dict(
            type='ResNet', depth=50, base_channels=32, norm_eval=False,
            plugins=_gc_plugins(plugin_type)))
    model.eval()  # mmdet's ResNet.train() returns None
    return model


def _mmdet_gcnet():
    model = _mmdet_resnet('ContextBlock')
    # ContextBlock starts as the identity (zero last conv): random weights
    # make every converted tensor matter.
    randomise(model, std=0.05)
    return model


@pytest.fixture
def gcnet_checkpoint(tmp_path):
    """An mmdet detector-style checkpoint of the GCNet backbone."""
    model = _mmdet_gcnet()
    path = str(tmp_path / 'mask_rcnn_r50_fpn_r4_gcb_c3-c5.pth')
    torch.save({'meta': {'epoch': 12},
                'state_dict': {f'backbone.{k}': v
                               for k, v in model.state_dict().items()}},
               path)
    return path, model


def _attn_gcnet():
    model = MODELS.build(dict(type='AttnResNet', depth=50, base_channels=32,
                              norm_eval=False, plugins=_gc_plugins('GC')))
    model.eval()
    return model


#: The converted weights' targets: mmattn's AttnResNet, and mmdet's GCNet
#: config itself with type='GC' in place of ContextBlock.
TARGETS = {'AttnResNet': _attn_gcnet,
           'mmdet ResNet': functools.partial(_mmdet_resnet, 'GC')}


def test_mapping_renames_the_context_block_segment_only():
    state = {'backbone.layer2.0.context_block.conv_mask.weight': 1,
             'backbone.layer3.5.context_block2.channel_add_conv.1.weight': 2,
             'backbone.layer1.0.conv1.weight': 3,
             'neck.lateral_convs.0.conv.weight': 4}
    assert list(convert_mmdet_gcnet_state_dict(state)) == [
        'backbone.layer2.0.gc.conv_mask.weight',
        'backbone.layer3.5.gc2.channel_add_conv.1.weight',
        'backbone.layer1.0.conv1.weight', 'neck.lateral_convs.0.conv.weight']


@pytest.mark.parametrize('target', TARGETS)
def test_converted_checkpoint_loads_strictly_with_equal_outputs(
        target, gcnet_checkpoint, tmp_path):
    src, mmdet_model = gcnet_checkpoint
    dst = str(tmp_path / 'converted.pth')
    assert run_main(run_path(TOOL)['main'], [src, dst]) == 0

    model = TARGETS[target]()
    load_checkpoint(model, dst, strict=True,
                    revise_keys=[(r'^backbone\.', '')])
    # 13 blocks in c3-c5, 8 tensors each (mask conv, 2 convs, LayerNorm).
    assert sum('.gc.' in k for k in model.state_dict()) == \
        sum('.context_block.' in k for k in mmdet_model.state_dict()) == 104
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = mmdet_model(x), model(x)
    assert len(got) == len(expected) == 4
    for out, ref in zip(got, expected):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    # The blocks are not identities: dropping them changes the output.
    assert not torch.allclose(expected[-1], _without_gc(mmdet_model)(x)[-1])


def _without_gc(model):
    for module in model.modules():
        if hasattr(module, 'context_block'):
            module.context_block.forward = lambda x: x
    return model


def test_unconverted_checkpoint_does_not_load(gcnet_checkpoint):
    src, _ = gcnet_checkpoint
    with pytest.raises(RuntimeError, match='context_block'):
        load_checkpoint(_attn_gcnet(), src, strict=True,
                        revise_keys=[(r'^backbone\.', '')])


def test_channel_mul_fusion_and_other_checkpoints_are_refused(capsys,
                                                              tmp_path):
    with pytest.raises(ValueError, match="'channel_mul' fusion"):
        convert_mmdet_gcnet_state_dict({
            'layer2.0.context_block.channel_mul_conv.0.weight': 1})
    src = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': {'layer1.0.conv1.weight': torch.zeros(1)}},
               src)
    assert run_main(run_path(TOOL)['main'], [src, src + '.out'],
                    USER_ERRORS + (ValueError, )) == 2
    assert capsys.readouterr().err.endswith(
        'error: no key has a context_block segment: not a checkpoint of an '
        'mmdet GCNet (ResNet with ContextBlock plugins)\n')
