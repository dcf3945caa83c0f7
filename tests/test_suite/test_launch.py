"""The suite's plan and its launchers: which runs, and the exact commands
it issues through tools/dist_*.sh and tools/slurm_*.sh."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmattn.suite import Launcher, ResultStore, SuiteError, load_suite
from mmattn.suite.plan import Model, Suite
from mmattn_test_utils import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'benchmark_suite.py')
TOOLS = osp.join(REPO_ROOT, 'tools')
SHIPPED = osp.join(REPO_ROOT, 'configs', 'suites',
                   'shapes_r18_attention.py')
DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                'retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py')


def _tool(*arguments, env=None):
    return subprocess.run([sys.executable, TOOL, *arguments],
                          capture_output=True, text=True, timeout=600,
                          cwd=REPO_ROOT, env=env)


def test_shipped_suite_is_a_matrix_with_a_baseline_per_detector():
    suite = load_suite(SHIPPED)
    names = [m.name for m in suite.models]
    assert names == ['retinanet:r18', 'retinanet:ema', 'retinanet:se',
                     'retinanet:cbam']
    assert {m.baseline for m in suite.models} == {'retinanet:r18'}
    assert suite.seeds == [0, 1, 2]
    # Seed-major: every model has its seed-0 run before any seed-1 run.
    assert [(m.name, s) for m, s in suite.runs()][:5] == [
        (n, 0) for n in names] + [('retinanet:r18', 1)]
    overridden = load_suite(SHIPPED, seeds=[5], max_iters=50)
    assert overridden.seeds == [5] and overridden.max_iters == 50


def test_bad_suites_are_refused(tmp_path):
    model = Model('a', DEMO)
    with pytest.raises(SuiteError, match='unique'):
        Suite([model, Model('a', DEMO)])
    with pytest.raises(SuiteError, match="baseline 'b'"):
        Suite([Model('a', DEMO, baseline='b')])
    with pytest.raises(SuiteError, match='does not exist'):
        Suite([Model('a', str(tmp_path / 'none.py'))])
    with pytest.raises(SuiteError, match='distinct integers'):
        Suite([model], seeds=[1, 1])
    with pytest.raises(SuiteError, match='not both'):
        Suite([model], max_iters=5, max_epochs=1)
    spec = tmp_path / 'suite.py'
    spec.write_text(f'detectors = dict(d={DEMO!r})\n')
    with pytest.raises(SuiteError, match='needs backbones'):
        load_suite(str(spec))
    spec.write_text(f'detectors = dict(d={DEMO!r})\n'
                    "backbones = dict(a=dict())\nbaseline = 'b'\n")
    with pytest.raises(SuiteError, match="baseline 'b'"):
        load_suite(str(spec))
    # The tool prints such errors alone, exit code 2.
    result = _tool(str(spec))
    assert result.returncode == 2
    assert result.stderr.startswith('benchmark_suite.py: error: baseline')


def test_pytorch_launcher_commands():
    launcher = Launcher('pytorch', TOOLS, gpus=4, port=29600)
    train = launcher.train('run/config.py', 'run/train', 'job', index=3,
                           resume=True)
    assert train.argv == ['bash', f'{TOOLS}/dist_train.sh', 'run/config.py',
                          '4', '--work-dir', 'run/train', '--resume']
    assert train.env == dict(PORT='29606')
    test = launcher.test('run/config.py', 'run/train/iter_9.pth',
                         'run/test', 'job', index=3,
                         options=['test_dataloader.batch_size=1'])
    assert test.argv == ['bash', f'{TOOLS}/dist_test.sh', 'run/config.py',
                         'run/train/iter_9.pth', '4', '--work-dir',
                         'run/test', '--cfg-options',
                         'test_dataloader.batch_size=1']
    assert test.env == dict(PORT='29607')


def test_slurm_dry_run_prints_the_exact_commands(tmp_path):
    work_dir = str(tmp_path / 'work')
    result = _tool(SHIPPED, '--work-dir', work_dir, '--launcher', 'slurm',
                   '--partition', 'gpu', '--gpus', '16', '--gpus-per-node',
                   '8', '--srun-args=--quotatype=auto', '--seeds', '7',
                   '--dry-run')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 * 4  # a comment, train and test per model
    run = f'{work_dir}/runs/retinanet_ema/seed_7'
    environment = ("GPUS=16 GPUS_PER_NODE=8 CPUS_PER_TASK=5 "
                   "SRUN_ARGS=--quotatype=auto")
    index = lines.index(f'# retinanet:ema seed 7: {run}/config.py')
    assert lines[index + 1] == (
        f'{environment} bash {TOOLS}/slurm_train.sh gpu '
        f'retinanet:ema_seed7 {run}/config.py {run}/train')
    assert lines[index + 2] == (
        f'{environment} bash {TOOLS}/slurm_test.sh gpu '
        f'retinanet:ema_seed7 {run}/config.py {run}/train/iter_1000.pth '
        f'--work-dir {run}/test --cfg-options test_dataloader.batch_size=1')
    assert not os.path.exists(f'{run}/config.py')  # a dry run writes nothing
    result = _tool(SHIPPED, '--launcher', 'slurm', '--dry-run')
    assert result.returncode == 2 and 'partition' in result.stderr


def test_slurm_scripts_issue_openmmlab_srun_commands(tmp_path, shapes_data):
    """The suite through tools/slurm_*.sh with a stand-in ``srun`` that
    records its arguments (and leaves the final checkpoint, as a finished
    training would): the exact srun command lines of one run."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'srun_calls'
    srun = bin_dir / 'srun'
    srun.write_text(
        '#!/usr/bin/env bash\n'
        f'printf "%s\\n" "$*" >> {calls}\n'
        'for arg in "$@"; do case $arg in --work-dir=*) '
        'mkdir -p "${arg#--work-dir=}" && '
        'touch "${arg#--work-dir=}/iter_2.pth";; esac; done\n')
    srun.chmod(0o755)
    spec = tmp_path / 'suite.py'
    spec.write_text(
        f'configs = dict(plain={DEMO!r})\nseeds = [3]\nmax_iters = 2\n'
        f'dataset = dict(img_dir={shapes_data + "/train"!r}, '
        f'val_img_dir={shapes_data + "/val"!r}, '
        f'train_ann={shapes_data + "/annotations/train.json"!r}, '
        f'val_ann={shapes_data + "/annotations/val.json"!r})\n')
    work_dir = str(tmp_path / 'work')
    result = _tool(str(spec), '--work-dir', work_dir, '--launcher', 'slurm',
                   '--partition', 'p1', '--gpus', '2', '--cpus-per-task',
                   '3', env=dict(os.environ, PATH=f'{bin_dir}:'
                                 f'{os.environ["PATH"]}'))
    # No metrics: the stand-in srun trains and tests nothing.
    assert result.returncode == 1
    run = f'{work_dir}/runs/plain/seed_3'
    srun_options = ('-p p1 --job-name=plain_seed3 --gres=gpu:2 --ntasks=2 '
                    '--ntasks-per-node=2 --cpus-per-task=3 '
                    '--kill-on-bad-exit=1')
    assert calls.read_text().splitlines() == [
        f'{srun_options} python -u {TOOLS}/train.py {run}/config.py '
        f'--work-dir={run}/train --launcher=slurm',
        f'{srun_options} python -u {TOOLS}/test.py {run}/config.py '
        f'{run}/train/iter_2.pth --launcher=slurm --work-dir {run}/test '
        '--cfg-options test_dataloader.batch_size=1',
    ]
    assert 'the test wrote no metric file' in result.stdout + result.stderr


@pytest.mark.parametrize('script', ['slurm_train.sh', 'slurm_test.sh',
                                    'slurm_srun.sh'])
def test_slurm_scripts_without_arguments_print_their_usage(script):
    result = subprocess.run(['bash', osp.join(TOOLS, script)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(f'usage: {script} PARTITION JOB_NAME')


def test_pytorch_launcher_trains_and_tests_with_two_processes(tmp_path,
                                                              shapes_data):
    """--launcher pytorch --gpus 2 for real: tools/dist_train.sh and
    dist_test.sh with two processes (gloo on a machine without CUDA)."""
    spec = tmp_path / 'suite.py'
    quick = {'train_dataloader.batch_size': 1,
             'train_dataloader.num_workers': 0,
             'train_dataloader.persistent_workers': False,
             'val_dataloader.num_workers': 0,
             'val_dataloader.persistent_workers': False,
             'test_dataloader.num_workers': 0,
             'test_dataloader.persistent_workers': False,
             'model.test_cfg.score_thr': 0.0}
    spec.write_text(
        f'configs = dict(plain={DEMO!r})\nseeds = [0]\nmax_iters = 2\n'
        f'dataset = dict(img_dir={shapes_data + "/train"!r}, '
        f'val_img_dir={shapes_data + "/val"!r}, '
        f'train_ann={shapes_data + "/annotations/train.json"!r}, '
        f'val_ann={shapes_data + "/annotations/val.json"!r})\n'
        f'cfg_options = {quick!r}\n')
    work_dir = str(tmp_path / 'work')
    result = _tool(str(spec), '--work-dir', work_dir, '--launcher',
                   'pytorch', '--gpus', '2', '--port', '29720',
                   env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-3000:] + \
        result.stderr[-3000:]
    with ResultStore(osp.join(work_dir, 'results.sqlite')) as store:
        run, = store.runs()
    assert run['status'] == 'done' and 'coco/bbox_mAP' in run['metrics']
    assert run['commands']['train']['argv'][:5] == [
        'bash', f'{TOOLS}/dist_train.sh', f'{run["work_dir"]}/config.py',
        '2', '--work-dir']
    log = open(osp.join(run['work_dir'], 'train.log')).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
