"""Configs that need ImageNet weights say which file and how to get it
(mmattn.engine.pretrained)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmattn.engine.pretrained import (FROM_SCRATCH_OPTIONS,
                                      MissingCheckpointError,
                                      check_pretrained_weights,
                                      pretrained_checkpoints)
from mmattn_test_utils import REPO_ROOT


def _config(path: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, path))


@pytest.fixture
def in_repo_root():
    """The checkpoints are relative to the working directory."""
    old = os.getcwd()
    os.chdir(REPO_ROOT)
    yield
    os.chdir(old)


@pytest.mark.parametrize('config, checkpoint, producer, gpus, epochs, '
                         'converter', [
    ('configs/epsanet/faster-rcnn_epsanet50-s_fpn_1x_coco.py',
     'epsanet50-s_8xb32_in1k', 'configs/epsanet/epsanet50-s_8xb32_in1k.py',
     8, 120, 'epsanet_to_mmattn.py'),
    ('configs/dca/retinanet_r50-dca-gc_fpn_1x_coco.py',
     'dca-gc-resnet50_8xb32_in1k', 'configs/dca/dca-gc-resnet50_8xb32_in1k.py',
     8, 100, 'dcanet_to_mmattn.py'),
    ('configs/dmsanet/mask-rcnn_dmsanet50_fpn_1x_coco.py',
     'dmsanet50_4xb16_in1k', 'configs/dmsanet/dmsanet50_4xb16_in1k.py', 4,
     None, None),
    ('configs/sk/cascade-rcnn_r50-sk_fpn_1x_coco.py',
     'sk-resnet50_8xb32_in1k', 'configs/sk/sk-resnet50_8xb32_in1k.py', 8,
     None, None),
], ids=['epsanet', 'dca-gc', 'dmsanet', 'sk'])
def test_missing_checkpoint_message_names_file_and_ways(
        in_repo_root, config, checkpoint, producer, gpus, epochs,
        converter):
    with pytest.raises(MissingCheckpointError) as info:
        check_pretrained_weights(_config(config))
    message = str(info.value)
    path = f'checkpoints/{checkpoint}.pth'
    assert message.startswith(f'model.backbone.init_cfg loads {path}, '
                              'which does not exist')
    assert f'bash tools/dist_train.sh {producer} {gpus}' in message
    if epochs is not None:
        name = osp.basename(producer)[:-3]
        assert f'cp work_dirs/{name}/epoch_{epochs}.pth {path}' in message
    assert (converter is not None) == ('model_converters' in message)
    if converter is not None:
        assert f'tools/model_converters/{converter} ' in message
        assert f'{path} ' in message.split(converter)[1]
    assert f'--cfg-options {FROM_SCRATCH_OPTIONS}' in message
    # The producer exists and its max_epochs is what the message copies.
    assert Config.fromfile(producer).train_cfg.get('max_epochs') == \
        epochs or epochs is None


def test_present_or_remote_checkpoints_pass(tmp_path):
    cfg = _config('configs/emca/retinanet_r50-emca-eca_fpn_1x_coco.py')
    (_, init_cfg), = pretrained_checkpoints(cfg.model)
    weights = tmp_path / 'weights.pth'
    weights.write_bytes(b'')
    init_cfg.checkpoint = str(weights)
    check_pretrained_weights(cfg)
    # torchvision's ResNet-50 is mmengine's to fetch.
    check_pretrained_weights(
        _config('configs/se/faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py'))


def test_train_tool_stops_before_building_with_the_message(tmp_path):
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, 'tools/train.py',
         'configs/epsanet/retinanet_epsanet50-s_fpn_1x_coco.py',
         '--work-dir', str(work_dir)],
        capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'checkpoints/epsanet50-s_8xb32_in1k.pth, which does not exist' \
        in result.stderr
    assert 'Traceback' not in result.stderr
    # Nothing was built: no environment dump, no work dir.
    assert 'System environment' not in result.stdout + result.stderr
    assert not work_dir.exists()
