"""tools/benchmark_suite.py end to end: 2 backbones × 2 seeds (and one
broken variant) of the demo RetinaNet, a few iterations on the tiny shapes
dataset, interrupted by SIGTERM in the middle of a training and run again.
"""
import csv
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mmattn.suite import ResultStore
from mmattn_test_utils import REPO_ROOT

ITERATIONS = 8
SEEDS = (0, 1)
DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                'retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py')
TOOL = osp.join(REPO_ROOT, 'tools', 'benchmark_suite.py')
# Speed settings for a CPU test; score_thr 0 lets barely trained models
# produce boxes, so that CocoMetric has AP to report.
QUICK = {
    'train_dataloader.batch_size': 2, 'train_dataloader.num_workers': 0,
    'train_dataloader.persistent_workers': False,
    'val_dataloader.num_workers': 0,
    'val_dataloader.persistent_workers': False,
    'test_dataloader.num_workers': 0,
    'test_dataloader.persistent_workers': False,
    'model.test_cfg.score_thr': 0.0, 'default_hooks.logger.interval': 1,
}
GOOD = ('retinanet:r18', 'retinanet:ema')


def _iteration(number: int) -> str:
    """mmengine's log of a training iteration (right-aligned number)."""
    return f'Iter(train) [{number:>{len(str(ITERATIONS))}}/{ITERATIONS}]'
BROKEN = 'retinanet:broken'


def _suite_file(tmp_path, data_root: str) -> str:
    path = tmp_path / 'suite.py'
    broken = [dict(cfg=dict(type='NoSuchAttention'),
                   stages=(False, True, True, True), position='after_conv2')]
    path.write_text(
        f'detectors = dict(retinanet={DEMO!r})\n'
        f'backbones = dict(r18=dict(plugins=None), ema=dict(), '
        f'broken=dict(plugins={broken!r}))\n'
        "baseline = 'r18'\n"
        f'seeds = {list(SEEDS)!r}\n'
        f'max_iters = {ITERATIONS}\n'
        f'dataset = dict(img_dir={data_root + "/train"!r}, '
        f'val_img_dir={data_root + "/val"!r}, '
        f'train_ann={data_root + "/annotations/train.json"!r}, '
        f'val_ann={data_root + "/annotations/val.json"!r})\n'
        f'cfg_options = {QUICK!r}\n')
    return str(path)


def _start(suite: str, work_dir: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, TOOL, suite, '--work-dir', work_dir],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=REPO_ROOT, env=dict(os.environ, OMP_NUM_THREADS='1'))


def _train_log(work_dir: str, model: str, seed: int) -> str:
    return osp.join(work_dir, 'runs', model.replace(':', '_'),
                    f'seed_{seed}', 'train.log')


@pytest.fixture(scope='module')
def suite_run(shapes_data, tmp_path_factory):
    """The suite run once, stopped by SIGTERM while the first model trains
    with the second seed, then run again to the end."""
    tmp_path = tmp_path_factory.mktemp('suite')
    suite = _suite_file(tmp_path, shapes_data)
    work_dir = str(tmp_path / 'work')
    interrupted_log = _train_log(work_dir, GOOD[0], SEEDS[1])
    process = _start(suite, work_dir)
    deadline = time.time() + 900
    while time.time() < deadline and process.poll() is None:
        if osp.exists(interrupted_log) and \
                _iteration(2) in open(interrupted_log).read():
            process.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    first_output = process.communicate(timeout=600)[0]
    with ResultStore(osp.join(work_dir, 'results.sqlite')) as store:
        first = {(r['model'], r['seed']): r for r in store.runs()}
    second = subprocess.run(
        [sys.executable, TOOL, suite, '--work-dir', work_dir],
        capture_output=True, text=True, timeout=900, cwd=REPO_ROOT,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    with ResultStore(osp.join(work_dir, 'results.sqlite')) as store:
        final = {(r['model'], r['seed']): r for r in store.runs()}
    return dict(work_dir=work_dir, first=first, final=final,
                first_code=process.returncode, first_output=first_output,
                second=second, interrupted_log=interrupted_log)


def test_sigterm_stops_the_suite_and_leaves_the_run_to_resume(suite_run):
    assert suite_run['first_code'] == 130, suite_run['first_output'][-3000:]
    assert 'the same command resumes the suite' in suite_run['first_output']
    first = suite_run['first']
    assert first[(GOOD[0], SEEDS[1])]['status'] == 'running'
    for model in GOOD:
        assert first[(model, SEEDS[0])]['status'] == 'done'
    # The training saved a checkpoint on the signal, before its end.
    train_dir = osp.dirname(suite_run['interrupted_log'])
    assert glob.glob(osp.join(train_dir, 'train', 'iter_*.pth'))


def test_second_run_skips_finished_runs_and_resumes_the_interrupted_one(
        suite_run):
    second, first, final = (suite_run['second'], suite_run['first'],
                            suite_run['final'])
    # The broken variant fails again, so the tool exits 1.
    assert second.returncode == 1, second.stdout[-3000:] + \
        second.stderr[-3000:]
    for model in GOOD:
        for seed in SEEDS:
            assert final[(model, seed)]['status'] == 'done'
        # Done before: not started again, trained once.
        assert final[(model, SEEDS[0])]['started'] == \
            first[(model, SEEDS[0])]['started']
        log = open(_train_log(suite_run['work_dir'], model, SEEDS[0])).read()
        assert log.count('\n$ ') == 1
    log = open(suite_run['interrupted_log']).read()
    # Two attempts, the second with --resume; iteration 1 ran only once.
    attempts = [line for line in log.splitlines() if line.startswith('$ ')]
    assert len(attempts) == 2 and attempts[1].endswith('--resume')
    assert log.count(_iteration(1)) == 1
    assert _iteration(ITERATIONS) in log


def test_a_failing_run_is_recorded_and_the_others_go_on(suite_run):
    for seed in SEEDS:
        broken = suite_run['final'][(BROKEN, seed)]
        assert broken['status'] == 'failed'
        assert 'NoSuchAttention' in broken['error']
    markdown = open(osp.join(suite_run['work_dir'], 'leaderboard.md')).read()
    assert f'- `{BROKEN}` seed 0: failed' in markdown


def _metric_files(work_dir: str, model: str) -> dict:
    """{seed: values} read from each run's own test metric file."""
    values = {}
    for seed in SEEDS:
        files = sorted(glob.glob(osp.join(
            work_dir, 'runs', model.replace(':', '_'), f'seed_{seed}',
            'test', '*', '*.json')))
        with open(files[-1]) as f:
            values[seed] = json.load(f)
    return values


def test_leaderboard_numbers_are_the_runs_metric_files(suite_run):
    work_dir = suite_run['work_dir']
    with open(osp.join(work_dir, 'leaderboard.csv')) as f:
        rows = {(r['model'], r['metric']): r for r in csv.DictReader(f)}
    files = {model: _metric_files(work_dir, model) for model in GOOD}
    baseline = files[GOOD[0]]
    checked = 0
    for model in GOOD:
        for metric in baseline[SEEDS[0]]:
            if not metric.startswith('coco/'):
                continue
            values = [files[model][s][metric] for s in SEEDS]
            if min(values) < 0:  # COCO's -1: no object of that size
                assert (model, metric) not in rows
                continue
            row = rows[(model, metric)]
            assert int(row['seeds']) == len(SEEDS)
            assert float(row['mean']) == pytest.approx(np.mean(values))
            assert float(row['std']) == pytest.approx(
                np.std(values, ddof=1), abs=1e-12)
            if model != GOOD[0]:
                differences = [files[model][s][metric] -
                               baseline[s][metric] for s in SEEDS]
                assert float(row['diff_mean']) == pytest.approx(
                    np.mean(differences), abs=1e-12)
            checked += 1
    assert checked >= 8
    # Latency is the test's own per-image time less its data time.
    record = suite_run['final'][(GOOD[1], SEEDS[0])]
    own = files[GOOD[1]][SEEDS[0]]
    assert record['latency_ms'] == pytest.approx(
        1000 * (own['time'] - own['data_time']))
    markdown = open(osp.join(work_dir, 'leaderboard.md')).read()
    mean = np.mean([files[GOOD[1]][s]['coco/bbox_mAP'] for s in SEEDS])
    assert f'| `{GOOD[1]}` | 2 |' in markdown and f'{mean:.3f} ±' in markdown
    assert f'| `{GOOD[0]}` (baseline) | 2 |' in markdown


def test_every_run_is_recorded_with_what_it_needs(suite_run):
    import cv2
    record = suite_run['final'][(GOOD[1], SEEDS[1])]
    assert record['git_commit'] and len(record['git_commit']) == 40
    assert record['environment']['torch'] and record['environment']['mmdet']
    assert record['params'] > 0 and record['gflops'] > 0
    assert record['flops_input'] == [1, 3, 128, 128]
    assert record['train_iter_per_s'] > 0
    assert 'randomness = dict(seed=1)' in record['resolved_config']
    assert record['options']['randomness'] == dict(seed=1)
    assert record['commands']['train']['argv'][1].endswith('tools/train.py')
    # EMA adds parameters to the plain ResNet-18.
    plain = suite_run['final'][(GOOD[0], SEEDS[1])]
    assert record['params'] > plain['params']
    for name in ('ap_vs_gflops.png', 'ap_vs_latency.png'):
        image = cv2.imread(osp.join(suite_run['work_dir'], name))
        assert image is not None and image.shape[0] > 300
