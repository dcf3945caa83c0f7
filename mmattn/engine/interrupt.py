"""Stop training on SIGTERM/SIGINT without losing the work done.

A cluster's scheduler (SIGTERM before SIGKILL), ``torchrun`` (which
forwards the SIGTERM it receives to its workers) and Ctrl-C (SIGINT) stop
a run in the middle of an iteration. :class:`GracefulInterruptHook`
catches the first of these signals, lets the current iteration finish,
saves a resumable checkpoint through the ``CheckpointHook``'s directory
and file backend (atomic with ``tools/train.py``), points
``last_checkpoint`` at it, and raises :class:`TrainingInterrupted`, which
``tools/train.py`` turns into one line saying how to resume and exit code
128 + the signal number. A second signal acts at once (the previous
handlers are restored by the first).

Where the run stops and what the checkpoint holds:

* during an iteration: after it (``iter_<N>.pth``, N iterations done);
  in an epoch-based loop the resumed run starts the interrupted epoch
  again from its first batch (mmengine resumes at epoch boundaries), with
  its iteration count kept;
* during the last iteration of an epoch: after the epoch (the
  ``CheckpointHook``'s own ``epoch_<E>.pth`` when it saves that epoch);
* during validation inside training: after the validation.

If the ``CheckpointHook`` has just saved this very state, that file is
the one reported. In distributed runs the ranks agree on the stop (one
``all_reduce`` of a flag per iteration), rank 0 saves and every rank waits
for it before raising.
"""
import os.path as osp
import signal
import sys
import threading
from typing import Dict, Optional, Tuple

import torch
from mmengine.dist import all_reduce, barrier, get_world_size, \
    is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop

from .saving import write_atomically

#: The signals caught while training.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(Exception):
    """Training stopped on a signal after saving a resumable checkpoint.

    Attributes:
        signal_number: the signal (``signal.SIGTERM``, ``signal.SIGINT``).
        checkpoint: the checkpoint to resume from.
        iteration: the number of finished training iterations.
    """

    def __init__(self, signal_number: int, checkpoint: str,
                 iteration: int) -> None:
        self.signal_number = signal_number
        self.checkpoint = checkpoint
        self.iteration = iteration
        super().__init__(
            f'training interrupted by {signal.Signals(signal_number).name} '
            f'after iteration {iteration}; resumable checkpoint: '
            f'{checkpoint}')


@HOOKS.register_module()
class GracefulInterruptHook(Hook):
    """On SIGTERM/SIGINT: finish the iteration, save, raise
    :class:`TrainingInterrupted` (see the module docstring).

    Runs after every other hook of an iteration (``LOWEST``), so that the
    ``CheckpointHook`` has saved first when its interval falls on it.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self._received: Optional[int] = None
        self._previous: Dict[int, object] = {}
        self._training = False
        # (epoch, iter, path) of the latest resumable checkpoint saved.
        self._saved: Optional[Tuple[int, int, Optional[str]]] = None

    def _handle(self, signal_number: int, frame) -> None:
        self._received = signal_number
        self._restore_handlers()
        sys.stderr.write(
            f'{signal.Signals(signal_number).name} received: finishing the '
            'current iteration, then saving a checkpoint (send it again to '
            'stop at once)\n')

    def _restore_handlers(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    def before_train(self, runner) -> None:
        self._training = True
        # Python delivers signals to the main thread only.
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)

    def after_train(self, runner) -> None:
        self._training = False
        self._restore_handlers()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # Best checkpoints are saved without the optimizer: not resumable.
        if 'optimizer' in checkpoint:
            meta = checkpoint['meta']
            self._saved = (meta['epoch'], meta['iter'],
                           runner.message_hub.get_info('last_ckpt'))

    def _stop_requested(self) -> bool:
        if get_world_size() == 1:
            return self._received is not None
        flag = torch.tensor([0 if self._received is None else
                             self._received])
        all_reduce(flag, op='max')
        if flag.item() and self._received is None:
            self._received = int(flag.item())
            self._restore_handlers()
        return bool(flag.item())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self._stop_requested():
            return
        if isinstance(runner.train_loop, EpochBasedTrainLoop) and \
                batch_idx + 1 == len(runner.train_dataloader):
            return  # the epoch ends now: stop after it (after_train_epoch)
        self._save_and_stop(runner, runner.epoch, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        # IterBasedTrainLoop calls this once, after its last iteration.
        if isinstance(runner.train_loop, EpochBasedTrainLoop) and \
                self._stop_requested():
            self._save_and_stop(runner, runner.epoch + 1, runner.iter)

    def after_val_epoch(self, runner, metrics=None) -> None:
        # The train loops validate after counting the finished epoch/iter.
        if self._training and self._stop_requested():
            self._save_and_stop(runner, runner.epoch, runner.iter)

    def _save_and_stop(self, runner, epoch: int, iteration: int) -> None:
        if self._saved is not None and self._saved[:2] == (epoch, iteration):
            path = self._saved[2]
        else:
            path = self._save(runner, epoch, iteration)
        barrier()  # torchrun stops every rank once one exits
        self._restore_handlers()
        raise TrainingInterrupted(self._received, path, iteration)

    def _save(self, runner, epoch: int, iteration: int) -> str:
        checkpoint_hook = next(
            (hook for hook in runner.hooks
             if isinstance(hook, CheckpointHook)), None)
        filename = f'iter_{iteration}.pth'
        if checkpoint_hook is None:
            out_dir, backend_args = runner.work_dir, None
            path = osp.join(out_dir, filename)
        else:
            out_dir = checkpoint_hook.out_dir
            backend_args = checkpoint_hook.backend_args
            path = checkpoint_hook.file_backend.join_path(out_dir, filename)
        runner.message_hub.update_info('last_ckpt', path)
        runner.save_checkpoint(
            out_dir, filename, meta=dict(epoch=epoch, iter=iteration),
            by_epoch=False, backend_args=backend_args)
        if is_main_process():
            write_atomically(path, osp.join(runner.work_dir,
                                            'last_checkpoint'))
        return path
