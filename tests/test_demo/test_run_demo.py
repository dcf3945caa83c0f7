"""The README's main command (tools/run_demo.py) on a tiny dataset, for
each demo config: a short console summary, everything else in the log
file, one evaluation, a readable picture, and the same numbers when run
again."""
import glob
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
#: What only the log file may hold.
LOG_ONLY = ('System environment', 'Config:', 'Iter(train)',
            'loading annotations', 'Average Precision', 'DeprecationWarning')


def _run_demo(config: str, score_threshold: str, data_root: str,
              work_dir: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'run_demo.py'),
         osp.join(DEMO_DIR, config),
         '--data-root', data_root, '--work-dir', work_dir,
         '--num-pictures', '2', '--cfg-options', 'train_cfg.max_iters=3',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'val_dataloader.num_workers=0',
         'val_dataloader.persistent_workers=False', f'{score_threshold}=0.0'],
        capture_output=True, text=True, timeout=600, cwd=work_dir,
        # Warnings the imports raise must reach the log, not the console.
        env=dict(os.environ, PYTHONWARNINGS='always::DeprecationWarning'))


@pytest.fixture(scope='module')
def demo_runs(shapes_data, tmp_path_factory):
    """Each demo once, and the RetinaNet demo a second time."""
    runs = {}
    for name, (config, threshold, _) in zip(('retinanet', 'mask-rcnn'),
                                            DEMOS):
        for attempt in ((1, 2) if name == 'retinanet' else (1, )):
            work_dir = str(tmp_path_factory.mktemp(f'{name}{attempt}'))
            result = _run_demo(config, threshold, shapes_data, work_dir)
            assert result.returncode == 0, \
                result.stdout[-3000:] + result.stderr[-3000:]
            runs[name, attempt] = (result, work_dir)
    return runs


def test_every_demo_config_is_exercised():
    assert sorted(name for name, _, _ in DEMOS) == sorted(
        name for name in os.listdir(DEMO_DIR)
        if name.endswith('.py'))


@pytest.mark.parametrize('name, tasks', [('retinanet', ('bbox', )),
                                         ('mask-rcnn', ('bbox', 'segm'))])
def test_console_is_a_summary_and_the_log_keeps_the_rest(demo_runs, name,
                                                         tasks):
    result, work_dir = demo_runs[name, 1]
    console = result.stdout + result.stderr
    for task in ('bbox', 'segm'):
        assert (f'| {task} | mAP |' in console) == (task in tasks), console
    assert console.count('| COCO AP |') == len(tasks)
    assert 'seed 0' in console
    assert 'training' in console and '3/3' in console
    assert f'picture     {work_dir}/predictions.png (left: ground truth, ' \
        'right: predictions' in console
    for text in LOG_ONLY:
        assert text not in console, text
    log_file, = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert f'log         {log_file}' in console
    log = open(log_file).read()
    for text in LOG_ONLY:
        assert text in log, text
    # Evaluated once: by the train loop at its last iteration.
    assert log.count('Evaluating bbox...') == 1


@pytest.mark.parametrize('name', ['retinanet', 'mask-rcnn'])
def test_picture_and_checkpoint(demo_runs, name):
    _, work_dir = demo_runs[name, 1]
    picture = cv2.imread(osp.join(work_dir, 'predictions.png'))
    # A caption row, then two val images of 96x96 upscaled 4x, each ground
    # truth beside prediction, with 8-pixel gaps.
    assert picture is not None
    assert picture.shape[:2] == (30 + 2 * (8 + 4 * 96), 2 * 4 * 96 + 8)
    # The caption row is white with dark text in both columns.
    captions = picture[:30]
    assert (captions < 128).any(axis=2)[:, :384].any()
    assert (captions < 128).any(axis=2)[:, 392:].any()
    # torch.load's weights_only default reads the checkpoint (tools/test.py).
    assert 'state_dict' in torch.load(osp.join(work_dir, 'iter_3.pth'))


def test_a_rerun_repeats_its_numbers(demo_runs):
    (first, first_dir), (second, second_dir) = (demo_runs['retinanet', 1],
                                                demo_runs['retinanet', 2])
    table = first.stdout[first.stdout.index('| bbox |'):].split('\n\n')[0]
    assert table in second.stdout
    weights = [torch.load(osp.join(d, 'iter_3.pth'))['state_dict']
               for d in (first_dir, second_dir)]
    assert weights[0].keys() == weights[1].keys()
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key]), key
