"""Issue 2's end-to-end path: the SE Faster R-CNN config, built from mmdet's
base, trained and evaluated with real mmdet/mmengine components."""
import json
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmattn_test_utils import (REPO_ROOT, FASTER_RCNN_CPU_OPTIONS,
                      tiny_detection_options)

CONFIG = osp.join(REPO_ROOT, 'configs', 'se',
                  'faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py')


@pytest.fixture(scope='module')
def runner(shapes_data, tmp_path_factory):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(tiny_detection_options(
        shapes_data, str(tmp_path_factory.mktemp('work'))))
    cfg.merge_from_dict(FASTER_RCNN_CPU_OPTIONS)
    return Runner.from_cfg(cfg)


def test_config_places_se_in_c3_to_c5_only(runner):
    backbone = runner.model.backbone
    for stage, layer in enumerate(
            (backbone.layer1, backbone.layer2, backbone.layer3,
             backbone.layer4)):
        has_se = [hasattr(block, 'se') for block in layer]
        assert all(has_se) if stage > 0 else not any(has_se)
    assert type(backbone.layer2[0].se).__module__ == \
        'mmattn.models.attention.se'


def test_one_training_step_reaches_every_se_parameter(runner):
    model = runner.model.train()
    batch = next(iter(runner.train_dataloader))
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    se_params = [(n, p) for n, p in model.named_parameters() if '.se.' in n]
    # 4 tensors (fc1/fc2 weight and bias) per SE in the 4+6+3 blocks of c3-c5
    assert len(se_params) == 4 * (4 + 6 + 3)
    no_grad = [n for n, p in se_params
               if p.grad is None or not torch.any(p.grad != 0)]
    assert not no_grad
    model.zero_grad()


def test_trains_and_evaluates_with_coco_metric(runner):
    runner.train()
    scalars = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    with open(scalars) as f:
        records = [json.loads(line) for line in f]
    losses = [r['loss'] for r in records if 'loss' in r]
    # 3 iterations per epoch; mmdet's AspectRatioBatchSampler may add the
    # leftover of the batch drawn by the previous test.
    assert len(losses) >= 3 and all(math.isfinite(v) for v in losses)
    evaluation = [r for r in records if 'coco/bbox_mAP' in r]
    assert evaluation, 'CocoMetric did not report bbox mAP'
    assert 0.0 <= evaluation[-1]['coco/bbox_mAP'] <= 1.0
    assert osp.exists(osp.join(runner.work_dir, 'epoch_1.pth'))
