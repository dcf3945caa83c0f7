"""Pause points that let test_long_runs.py kill a real ``tools/train.py``
process exactly where it wants (imported by the training subprocess through
its config's ``custom_imports``; ``PYTHONPATH`` holds this directory).

A test cannot time a signal into a checkpoint write or an iteration by
sleeping: on a loaded machine the process may be anywhere. Instead the
training process stops at a chosen point, announces it by creating
``<pause_dir>/paused``, and waits until the test creates
``<pause_dir>/release`` (polling; a signal handler still runs while it
waits). The test kills or signals it while it is known to be inside:

* :class:`PauseHook`: before training iteration ``iteration`` (1-based), so
  a signal lands during that iteration;
* :class:`PausingAtomicLocalBackend`: mmattn's atomic file backend that,
  writing the file named ``pause_on``, writes half of its bytes, then
  pauses, so a signal lands in the middle of the checkpoint write.
"""
import os.path as osp
import time

from mmengine.fileio import register_backend
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from mmattn.engine import AtomicLocalBackend

#: Longest wait for the release, so that a broken test cannot hang CI.
TIMEOUT_S = 300


def pause(pause_dir: str) -> None:
    """Create ``paused`` in ``pause_dir``, then wait for ``release``."""
    open(osp.join(pause_dir, 'paused'), 'w').close()
    deadline = time.monotonic() + TIMEOUT_S
    while not osp.exists(osp.join(pause_dir, 'release')):
        if time.monotonic() > deadline:
            raise TimeoutError(f'no release in {pause_dir}')
        time.sleep(0.02)


@HOOKS.register_module()
class PauseHook(Hook):
    """Pause before training iteration ``iteration`` (1-based)."""

    def __init__(self, iteration: int, pause_dir: str) -> None:
        self.iteration = iteration
        self.pause_dir = pause_dir

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if runner.iter + 1 == self.iteration:
            pause(self.pause_dir)


@register_backend('pausing_atomic_local')
class PausingAtomicLocalBackend(AtomicLocalBackend):
    """Pause halfway through writing the file named ``pause_on``."""

    def __init__(self, pause_on: str, pause_dir: str) -> None:
        super().__init__()
        self.pause_on = pause_on
        self.pause_dir = pause_dir

    def write_file(self, file, data: bytes) -> None:
        if not osp.basename(file.name).startswith(f'.{self.pause_on}.'):
            return super().write_file(file, data)
        file.write(data[:len(data) // 2])
        file.flush()
        pause(self.pause_dir)
        file.write(data[len(data) // 2:])
