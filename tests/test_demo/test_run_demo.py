"""The README's main command (tools/run_demo.py) on a tiny dataset, for
each demo config."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import pytest
import torch

from mmattn_test_utils import REPO_ROOT

DEMO_DIR = osp.join(REPO_ROOT, 'configs', 'demo')
# (config, the option that lets an untrained model emit every box, so that
# CocoMetric has something to score, the tasks whose AP table is printed)
DEMOS = [
    ('retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py', 'model.test_cfg.score_thr',
     ('bbox', )),
    ('mask-rcnn_r18-ema-c3-c5_fpn_1000i_shapes.py',
     'model.test_cfg.rcnn.score_thr', ('bbox', 'segm')),
]


def test_every_demo_config_is_exercised():
    assert sorted(name for name, _, _ in DEMOS) == sorted(
        name for name in os.listdir(DEMO_DIR)
        if name.endswith('.py'))


@pytest.mark.parametrize('config, score_threshold, tasks', DEMOS,
                         ids=[name.split('_')[0] for name, _, _ in DEMOS])
def test_demo_trains_evaluates_and_draws(shapes_data, tmp_path, config,
                                         score_threshold, tasks):
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'run_demo.py'),
         osp.join(DEMO_DIR, config),
         '--data-root', shapes_data, '--work-dir', str(work_dir),
         '--num-pictures', '2', '--cfg-options', 'train_cfg.max_iters=3',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False', f'{score_threshold}=0.0'],
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for task in ('bbox', 'segm'):
        assert (f'| {task} | mAP |' in result.stdout) == (task in tasks), \
            result.stdout[-3000:]
    assert result.stdout.count('| COCO AP |') == len(tasks)
    picture = cv2.imread(str(work_dir / 'predictions.png'))
    # Two val images of 96x96, stacked, each drawn with GT beside prediction.
    assert picture is not None and picture.shape[:2] == (2 * 96, 2 * 96)
    # torch.load's weights_only default reads the checkpoint (tools/test.py).
    assert 'state_dict' in torch.load(work_dir / 'iter_3.pth')
