"""Long runs lose nothing: atomic checkpoint writes, SIGTERM/SIGINT that
save and say how to resume, auto-resume past a damaged checkpoint.

The tests run real ``tools/train.py`` subprocesses on the tiny RetinaNet of
data/retinanet_r50-ema_tiny_shapes.py and stop them at a known point
(pause_points.py: the process announces that it is inside a checkpoint
write, or about to run an iteration, and waits for the test):

* SIGKILL in the middle of writing ``iter_6.pth`` (``max_keep_ckpts=1``):
  ``iter_3.pth`` and the ``last_checkpoint`` pointer to it are intact,
  ``iter_6.pth`` does not exist (only the hidden temporary file); then, with the truncated
  ``iter_6.pth`` a non-atomic writer would have left named by
  ``last_checkpoint``, ``--resume`` warns naming both files and resumes
  from ``iter_3.pth``;
* SIGTERM during iteration 4: the iteration finishes, ``iter_4.pth`` is
  saved and the process exits with 143 and one line whose resume command,
  run as printed, continues from iteration 5 to the end;
* SIGTERM in the middle of writing ``iter_3.pth``: the write completes, the
  run stops with that checkpoint (not saved twice);
* SIGTERM during the last iteration of an epoch (epoch-based run): the
  run stops after the epoch, reporting the epoch's checkpoint;
* SIGTERM to ``tools/dist_train.sh`` (torchrun forwards it to its two
  gloo workers) during iteration 3: both ranks stop after it, rank 0 saves
  ``iter_3.pth`` and says how to resume.
"""
import os
import os.path as osp
import shlex
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmattn.engine import (AtomicLocalBackend, CheckpointLoadError,
                           GracefulInterruptHook, UnsafeCheckpointError,
                           find_resumable_checkpoint, load_checkpoint_file)
from mmattn_test_utils import REPO_ROOT, free_port

HERE = osp.dirname(osp.abspath(__file__))
CONFIG = osp.join(HERE, 'data', 'retinanet_r50-ema_tiny_shapes.py')
TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')


#: The tiny config as an epoch-based run (3 iterations per epoch on the
#: 6 training images of ``shapes_data``).
EPOCH_BASED = [
    "train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop')",
    'default_hooks = dict(checkpoint=dict(by_epoch=True))',
    'log_processor = dict(by_epoch=True)']


def _pausing_config(tmp_path, pause_dir, hook=None, backend=None,
                    extra=()) -> str:
    """The tiny config with a pause point (pause_points.py) and ``extra``
    lines."""
    lines = [f'_base_ = {CONFIG!r}', *extra,
             "custom_imports = dict(imports=['mmattn', 'pause_points'], "
             'allow_failed_imports=False)']
    if hook is not None:
        lines.append(f"custom_hooks = [dict(type='PauseHook', iteration="
                     f'{hook}, pause_dir={str(pause_dir)!r})]')
    if backend is not None:
        lines.append(
            "default_hooks = dict(checkpoint=dict(backend_args=dict("
            f"backend='pausing_atomic_local', pause_on={backend!r}, "
            f'pause_dir={str(pause_dir)!r})))')
    path = tmp_path / 'pausing_config.py'
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def _train_command(config, work_dir, shapes_data, length, interval, *extra,
                   unit='iters', options=()):
    """train.py for ``length`` iterations (``unit='epochs'``: epochs of an
    epoch-based config), a checkpoint every ``interval`` of them, and more
    ``--cfg-options``."""
    return [sys.executable, TRAIN, config, '--work-dir', str(work_dir),
            *extra, '--cfg-options',
            f'train_dataloader.dataset.data_root={shapes_data}/',
            f'train_cfg.max_{unit}={length}',
            f'default_hooks.checkpoint.interval={interval}', *options]


def _env(**extra):
    # The venv's python first on PATH: dist_train.sh calls `python`.
    return {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONUNBUFFERED': '1',
            'PATH': os.pathsep.join([osp.dirname(sys.executable),
                                     os.environ['PATH']]),
            'PYTHONPATH': os.pathsep.join(
                [HERE, os.environ.get('PYTHONPATH', '')]), **extra}


def _start(command, log_path, **env):
    log = open(log_path, 'w')
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env=_env(**env), cwd=REPO_ROOT), log


def _wait_for_pause(process, pause_dir, log_path, timeout=600):
    deadline = time.monotonic() + timeout
    while not osp.exists(osp.join(pause_dir, 'paused')):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            with open(log_path) as f:
                pytest.fail(f'training never paused:\n{f.read()[-3000:]}')
        time.sleep(0.05)


def _finish(process, log, log_path, timeout=600):
    process.wait(timeout=timeout)
    log.close()
    with open(log_path) as f:
        return process.returncode, f.read()


def _run(command, log_path):
    process, log = _start(command, log_path)
    return _finish(process, log, log_path)


def _interrupt_at_pause(tmp_path, shapes_data, signal_number, length,
                        interval, hook=None, backend=None, extra=(),
                        unit='iters', options=()):
    """Train the pausing config in ``tmp_path/work``, send
    ``signal_number`` once it paused, then release it (a process killed
    by SIGKILL never sees that) and return (exit code, output, work dir)."""
    pause_dir = tmp_path / 'pause'
    pause_dir.mkdir()
    work = tmp_path / 'work'
    config = _pausing_config(tmp_path, pause_dir, hook, backend, extra)
    log_path = str(tmp_path / 'interrupted.log')
    process, log = _start(
        _train_command(config, work, shapes_data, length, interval,
                       unit=unit, options=options),
        log_path)
    _wait_for_pause(process, pause_dir, log_path)
    process.send_signal(signal_number)
    (pause_dir / 'release').touch()
    code, out = _finish(process, log, log_path)
    return code, out, work


def test_kill_during_a_checkpoint_write_then_auto_resume_past_damage(
        tmp_path, shapes_data):
    # max_keep_ckpts=1: mmengine removes iter_3.pth before writing
    # iter_6.pth; the atomic backend defers that until iter_6.pth exists.
    code, _, work = _interrupt_at_pause(
        tmp_path, shapes_data, signal.SIGKILL, 9, 3, backend='iter_6.pth',
        options=['default_hooks.checkpoint.max_keep_ckpts=1'])
    assert code == -signal.SIGKILL

    temporary = [name for name in os.listdir(work)
                 if name.startswith('.iter_6.pth.')]
    assert len(temporary) == 1, 'the kill landed inside the write'
    assert 0 < osp.getsize(work / temporary[0]) < osp.getsize(
        work / 'iter_3.pth')
    assert not osp.exists(work / 'iter_6.pth')
    assert (work / 'last_checkpoint').read_text() == str(work / 'iter_3.pth')
    assert load_checkpoint_file(str(work / 'iter_3.pth'))['meta']['iter'] == 3

    # What mmengine's own (non-atomic) writer leaves after such a kill: a
    # truncated iter_6.pth, named by last_checkpoint.
    damaged = work / 'iter_6.pth'
    damaged.write_bytes((work / 'iter_3.pth').read_bytes()[:2_000_000])
    (work / 'last_checkpoint').write_text(str(damaged))
    code, out = _run(
        _train_command(CONFIG, work, shapes_data, 9, 3, '--resume'),
        str(tmp_path / 'resumed.log'))
    assert code == 0, out[-3000:]
    warning = next(line for line in out.splitlines()
                   if 'auto-resume' in line)
    assert f'checkpoint {damaged} is truncated or corrupt' in warning
    assert f'resuming from {work / "iter_3.pth"} instead' in warning
    assert 'resumed epoch: 0, iter: 3' in out
    assert load_checkpoint_file(str(work / 'iter_9.pth'))['meta']['iter'] == 9


def test_sigterm_during_an_iteration_saves_and_the_printed_command_resumes(
        tmp_path, shapes_data):
    code, out, work = _interrupt_at_pause(tmp_path, shapes_data,
                                          signal.SIGTERM, 7, 5, hook=4)
    assert code == 128 + signal.SIGTERM, out[-3000:]
    checkpoint = work / 'iter_4.pth'
    last = out.strip().splitlines()[-1]
    assert last.startswith(
        f'training interrupted by SIGTERM after iteration 4; resumable '
        f'checkpoint: {checkpoint}; resume with: python ')
    assert 'Traceback' not in out
    assert 'Iter(train) [4/7]' in out and 'Iter(train) [5/7]' not in out
    saved = load_checkpoint_file(str(checkpoint))
    assert saved['meta']['iter'] == 4 and 'optimizer' in saved
    assert (work / 'last_checkpoint').read_text() == str(checkpoint)

    command = shlex.split(last.split('resume with: ', 1)[1])
    assert command[-2:] == ['--resume', str(checkpoint)]
    code, out = _run([sys.executable, *command[1:]],
                     str(tmp_path / 'resumed.log'))
    assert code == 0, out[-3000:]
    assert 'resumed epoch: 0, iter: 4' in out
    assert 'Iter(train) [5/7]' in out and 'Iter(train) [7/7]' in out
    assert 'Iter(train) [4/7]' not in out


def test_sigterm_during_a_checkpoint_write_completes_it(tmp_path,
                                                        shapes_data):
    code, out, work = _interrupt_at_pause(tmp_path, shapes_data,
                                          signal.SIGTERM, 9, 3,
                                          backend='iter_3.pth')
    assert code == 128 + signal.SIGTERM, out[-3000:]
    assert out.strip().splitlines()[-1].startswith(
        'training interrupted by SIGTERM after iteration 3; resumable '
        f'checkpoint: {work / "iter_3.pth"}; resume with: ')
    assert out.count('Saving checkpoint at 3 iterations') == 1
    assert load_checkpoint_file(str(work / 'iter_3.pth'))['meta']['iter'] == 3
    assert sorted(name for name in os.listdir(work)
                  if name.endswith('.pth')) == ['iter_3.pth']


def test_sigterm_in_the_last_iteration_of_an_epoch_stops_after_the_epoch(
        tmp_path, shapes_data):
    """An epoch-based run: the epoch's checkpoint is the resumable one
    (a mid-epoch checkpoint would make the resumed run repeat the epoch)."""
    code, out, work = _interrupt_at_pause(
        tmp_path, shapes_data, signal.SIGTERM, 2, 1, hook=3,
        extra=EPOCH_BASED, unit='epochs')
    assert code == 128 + signal.SIGTERM, out[-3000:]
    assert out.strip().splitlines()[-1].startswith(
        'training interrupted by SIGTERM after iteration 3; resumable '
        f'checkpoint: {work / "epoch_1.pth"}; resume with: ')
    assert 'Epoch(train) [1][3/3]' in out and 'Epoch(train) [2]' not in out
    meta = load_checkpoint_file(str(work / 'epoch_1.pth'))['meta']
    assert (meta['epoch'], meta['iter']) == (1, 3)
    assert not osp.exists(work / 'iter_3.pth')


def test_sigterm_to_a_distributed_run_stops_every_rank(tmp_path,
                                                        shapes_data):
    pause_dir = tmp_path / 'pause'
    pause_dir.mkdir()
    work = tmp_path / 'work'
    config = _pausing_config(tmp_path, pause_dir, hook=3)
    command = ['bash', osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config,
               '2', *_train_command(config, work, shapes_data, 8, 5)[3:]]
    log_path = str(tmp_path / 'distributed.log')
    process, log = _start(command, log_path, PORT=str(free_port()))
    _wait_for_pause(process, pause_dir, log_path)
    process.send_signal(signal.SIGTERM)  # the torchrun agent (exec'd)
    deadline = time.monotonic() + 120
    while open(log_path).read().count('SIGTERM received') < 2:
        assert time.monotonic() < deadline, 'the workers got no SIGTERM'
        time.sleep(0.05)
    (pause_dir / 'release').touch()
    _, out = _finish(process, log, log_path)

    checkpoint = work / 'iter_3.pth'
    reports = [line for line in out.splitlines()
               if line.startswith('training interrupted')]
    assert reports == [
        f'training interrupted by SIGTERM after iteration 3; resumable '
        f'checkpoint: {checkpoint}; resume with the same launch command '
        f'(tools/dist_train.sh, torchrun, slurm) and --resume {checkpoint}']
    assert 'Iter(train) [3/8]' in out and 'Iter(train) [4/8]' not in out
    assert load_checkpoint_file(str(checkpoint))['meta']['iter'] == 3


# --- the pieces, in-process ---


def test_interrupt_hook_catches_sigint_once(capsys):
    """The first Ctrl-C is recorded (the run finishes its iteration), the
    handler it replaced is back for a second one, and after_train restores
    the handlers of a run that was not interrupted."""
    previous = signal.getsignal(signal.SIGINT)
    hook = GracefulInterruptHook()
    hook.before_train(runner=None)
    try:
        assert signal.getsignal(signal.SIGINT) == hook._handle
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.1)  # the handler runs between bytecodes
        assert hook._stop_requested()
        assert signal.getsignal(signal.SIGINT) is previous
        assert 'SIGINT received: finishing the current iteration' in \
            capsys.readouterr().err
    finally:
        signal.signal(signal.SIGINT, previous)
    hook = GracefulInterruptHook()
    hook.before_train(runner=None)
    hook.after_train(runner=None)
    assert signal.getsignal(signal.SIGINT) is previous
    assert not hook._stop_requested()


def _training_checkpoint(path, iteration, **extra):
    torch.save({'meta': {'epoch': 0, 'iter': iteration},
                'state_dict': {'w': torch.full((3, ), float(iteration))},
                'optimizer': {}, **extra}, path)
    return str(path)


def test_atomic_backend_removes_only_after_the_next_write(tmp_path):
    """mmengine's CheckpointHook removes the oldest checkpoint (through one
    backend instance) before it writes the new one (through another)."""
    old, new = tmp_path / 'iter_1.pth', tmp_path / 'iter_2.pth'
    old.write_bytes(b'old')
    AtomicLocalBackend().remove(old)
    assert old.exists()
    AtomicLocalBackend().put(b'new', new)
    assert not old.exists() and new.read_bytes() == b'new'
    with pytest.raises(FileNotFoundError):
        AtomicLocalBackend().remove(old)


def test_atomic_backend_keeps_the_old_file_when_a_write_fails(tmp_path):
    target = tmp_path / 'iter_1.pth'
    target.write_bytes(b'old')

    class Failing(AtomicLocalBackend):
        def write_file(self, file, data):
            file.write(data[:2])
            raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        Failing().put(b'new bytes', target)
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['iter_1.pth'], 'no temporary file left'
    AtomicLocalBackend().put_text('pointer', tmp_path / 'last_checkpoint')
    assert (tmp_path / 'last_checkpoint').read_text() == 'pointer'
    AtomicLocalBackend().put(b'new bytes', target)
    assert target.read_bytes() == b'new bytes'


def test_find_resumable_checkpoint(tmp_path, capsys):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    first = _training_checkpoint(tmp_path / 'iter_2.pth', 2)
    time.sleep(0.01)
    _training_checkpoint(tmp_path / 'best_coco_bbox_mAP_iter_4.pth', 4)
    empty = tmp_path / 'iter_4.pth'
    empty.write_bytes(b'')
    weights_only = tmp_path / 'iter_6.pth'
    torch.save({'state_dict': {}}, weights_only)
    (tmp_path / 'last_checkpoint').write_text(str(weights_only))
    assert find_resumable_checkpoint(str(tmp_path)) == first

    empty.unlink()
    (tmp_path / 'iter_2.pth').write_text('not a checkpoint')
    with pytest.raises(CheckpointLoadError) as info:
        find_resumable_checkpoint(str(tmp_path))
    message = str(info.value)
    assert message.startswith(
        f'auto-resume: no checkpoint in {tmp_path} can be resumed: '
        f'checkpoint {weights_only} holds no training state')
    assert f'checkpoint {first} is not a PyTorch checkpoint' in message


def test_find_resumable_checkpoint_does_not_skip_an_unsafe_one(tmp_path):
    _training_checkpoint(tmp_path / 'iter_2.pth', 2)
    time.sleep(0.01)
    _training_checkpoint(tmp_path / 'iter_4.pth', 4, hook=print)
    with pytest.raises(UnsafeCheckpointError, match='iter_4.pth'):
        find_resumable_checkpoint(str(tmp_path))
