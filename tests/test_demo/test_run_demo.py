"""The README's main command (tools/run_demo.py) on a tiny dataset."""
import os.path as osp
import subprocess
import sys

import cv2

from mmattn_test_utils import REPO_ROOT


def test_demo_trains_evaluates_and_draws(shapes_data, tmp_path):
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'run_demo.py'),
         '--data-root', shapes_data, '--work-dir', str(work_dir),
         '--num-pictures', '2', '--cfg-options', 'train_cfg.max_iters=3',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False',
         # an untrained model must still emit boxes for CocoMetric's table
         'model.test_cfg.score_thr=0.0'],
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert '| COCO AP |' in result.stdout
    picture = cv2.imread(str(work_dir / 'predictions.png'))
    # Two val images of 96x96, stacked, each drawn with GT beside prediction.
    assert picture is not None and picture.shape[0] == 2 * 96
    assert osp.exists(work_dir / 'iter_3.pth')
