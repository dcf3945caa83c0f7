"""User errors come first and alone: message, exit code 2, no traceback,
no environment or config dump (``--debug`` shows the traceback).

Covered for tools/train.py and tools/test.py (in-process through
``mmattn.cli.run_main``, as their ``__main__`` runs them, and as real
subprocesses), for damaged checkpoint files, the dist launch scripts and
``mim train``.
"""
import os
import os.path as osp
import runpy
import subprocess
import sys

import pytest
import torch

from mmattn.cli import run_main
from mmattn_test_utils import REPO_ROOT

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')
TOOLS = osp.join(REPO_ROOT, 'tools')
MIM = osp.join(osp.dirname(sys.executable), 'mim')


def _exit_code(tool, argv):
    """The exit code of ``tools/<tool> argv`` run in this process as its
    ``__main__`` runs it (argparse errors exit through SystemExit)."""
    try:
        return run_main(runpy.run_path(osp.join(TOOLS, tool))['main'], argv)
    except SystemExit as exit_:
        return exit_.code


def _only_the_error(capfd, code, expected):
    out, err = capfd.readouterr()
    assert code == 2, err
    assert out == '', 'nothing before the message (environment, config)'
    lines = err.strip().splitlines()
    assert lines[0].split(': error: ', 1)[1].startswith(expected), err
    assert 'Traceback' not in err
    return err


@pytest.mark.parametrize('argv, expected', [
    (['missing.py'], 'config file missing.py does not exist'),
    ([CONFIG, '--cfg-options', 'train_cfg.max_iters'],
     'argument --cfg-options: \'train_cfg.max_iters\' has no "="'),
    ([CONFIG, '--cfg-options', 'model.backbone.frozen_stages=9'],
     f'{CONFIG}: model: AttnResNet: frozen_stages=9 is invalid'),
    ([CONFIG, '--cfg-options', 'model.backbone.norm_cfg.type=SyncBNN'],
     "Unknown type 'SyncBNN' at model.backbone.norm_cfg.type"),
    ([CONFIG, '--cfg-options',
      'train_dataloader.dataset.pipeline.1.type=LoadAnnotationz'],
     "Unknown type 'LoadAnnotationz' at "
     'train_dataloader.dataset.pipeline[1].type'),
    ([CONFIG, '--resume', 'missing.pth'],
     'checkpoint missing.pth does not exist'),
])
def test_train_user_errors(argv, expected, capfd, tmp_path):
    argv = [*argv[:1], '--work-dir', str(tmp_path), *argv[1:]]
    _only_the_error(capfd, _exit_code('train.py', argv), expected)


@pytest.mark.parametrize('content, expected', [
    (b'', 'is empty (0 bytes)'),
    (None, 'is truncated or corrupt: 1000 bytes without a readable zip '
     'directory'),
    (b'epoch 12: loss 0.31\n', 'is not a PyTorch checkpoint'),
])
def test_test_names_a_damaged_checkpoint(content, expected, capfd, tmp_path):
    path = str(tmp_path / 'epoch_12.pth')
    if content is None:  # cut short while being written
        torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
        with open(path, 'rb') as f:
            content = f.read(1000)
    with open(path, 'wb') as f:
        f.write(content)
    code = _exit_code('test.py', [CONFIG, path, '--work-dir', str(tmp_path)])
    err = _only_the_error(capfd, code, f'checkpoint {path} {expected}')
    assert len(err.strip().splitlines()) == 1


def test_test_missing_checkpoint(capfd, tmp_path):
    code = _exit_code('test.py', [CONFIG, str(tmp_path / 'none.pth')])
    _only_the_error(capfd, code,
                    f'checkpoint {tmp_path / "none.pth"} does not exist')


@pytest.mark.parametrize('tool, argv, expected', [
    ('visualization/gradcam.py', ["dict(type='AttnResNet', depth=19)"],
     "model \"dict(type='AttnResNet', depth=19)\": AttnResNet: depth=19 "
     'is invalid'),
    ('visualization/attention_maps.py', ['ema(factor=7)-r50'],
     "model 'ema(factor=7)-r50': EMA: in_channels=256 is invalid; it must "
     'be divisible by factor=7'),
    ('deployment/export_onnx.py',
     ['backbone', 'EPSANet', '--cfg-options', 'depth=51'],
     "backbone {'type': 'EPSANet', 'depth': 51}: EPSANet: depth=51 is "
     'invalid'),
    ('deployment/export_onnx.py', ['backbone', 'EPSANett'],
     "Unknown type 'EPSANett' at model.type"),
    ('model_converters/mmdet_gcnet_to_mmattn.py', ['missing.pth'],
     'checkpoint missing.pth does not exist'),
])
def test_other_tools_user_errors(tool, argv, expected, capfd, tmp_path):
    out = str(tmp_path / 'out')
    argv = [*argv, out] if 'converters' in tool else \
        [*argv, '--out-dir' if 'maps' in tool else '--out', out]
    _only_the_error(capfd, _exit_code(tool, argv), expected)


def _subprocess(*command):
    return subprocess.run(command, capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600,
                          env={**os.environ, 'OMP_NUM_THREADS': '1'})


def test_train_subprocess_message_first_then_debug_traceback(tmp_path):
    command = [sys.executable, osp.join(TOOLS, 'train.py'), CONFIG,
               '--work-dir', str(tmp_path), '--cfg-options',
               'model.backbone.frozen_stages=9']
    result = _subprocess(*command)
    assert result.returncode == 2
    assert result.stdout == ''
    assert result.stderr.splitlines() == [
        f'train.py: error: {CONFIG}: model: AttnResNet: frozen_stages=9 is '
        'invalid; it must lie in [-1, num_stages=4]']

    result = _subprocess(*command, '--debug')
    assert result.returncode == 1
    assert 'Traceback' in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith('mmattn.cli.'
                                                             'ConfigError')


@pytest.mark.parametrize('script, usage', [
    ('dist_train.sh', 'usage: dist_train.sh CONFIG GPUS [train.py options]'),
    ('dist_test.sh',
     'usage: dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]'),
])
def test_dist_scripts_without_arguments_print_their_usage(script, usage):
    result = _subprocess('bash', osp.join(TOOLS, script))
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == usage
    assert result.stdout == ''


def test_mim_train_prints_the_message_before_anything_of_the_run(tmp_path):
    result = _subprocess(MIM, 'train', 'mmattn', CONFIG, '--cfg-options',
                         f'work_dir={tmp_path}',
                         'model.backbone.frozen_stages=9')
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    message = next(i for i, line in enumerate(lines)
                   if line.startswith('train.py: error: '))
    assert lines[message].endswith('AttnResNet: frozen_stages=9 is invalid; '
                                   'it must lie in [-1, num_stages=4]')
    # Before it only mim's own lines: the warnings of its imports on stderr
    # (and "Training command is ..." on stdout); after it mim's traceback of
    # the failed command (mim 0.3.9 runs it with subprocess.check_call).
    assert all('pkg_resources' in line or line.startswith('  ')
               for line in lines[:message]), lines[:message]
    assert 'System environment' not in result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(
        'Training command is ')
