"""Auto-resume that falls back past a damaged latest checkpoint.

mmengine's auto-resume (``resume=True`` without ``load_from``) reads the
path in ``<work_dir>/last_checkpoint`` and fails when that file cannot be
loaded. :func:`find_resumable_checkpoint` instead tries the checkpoints of
the work dir newest first and returns the first one that loads (weights
only) and holds a training state; ``tools/train.py --resume`` (no path)
resumes from it, with a warning naming each checkpoint it skipped and why.
"""
import glob
import logging
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from .loading import (CheckpointLoadError, UnsafeCheckpointError,
                      load_checkpoint_file)


def _candidates(work_dir: str) -> List[str]:
    """The file ``last_checkpoint`` names, then every other ``*.pth`` of the
    work dir, newest first; ``best_*`` checkpoints (saved without the
    optimizer) and hidden files (unfinished atomic writes) are not
    candidates."""
    found = [path for path in glob.glob(osp.join(work_dir, '*.pth'))
             if not osp.basename(path).startswith('best_')]
    found.sort(key=osp.getmtime, reverse=True)
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            latest = f.read().strip()
        if latest and osp.isfile(latest):
            found = [latest] + [path for path in found
                                if not osp.samefile(path, latest)]
    return found


def _check_resumable(path: str) -> None:
    checkpoint = load_checkpoint_file(path, map_location='cpu')
    meta = checkpoint.get('meta')
    if 'state_dict' not in checkpoint or not isinstance(meta, dict) or \
            not {'epoch', 'iter'} <= set(meta):
        raise CheckpointLoadError(
            f'checkpoint {path} holds no training state (it needs '
            "'state_dict' and 'meta' with 'epoch' and 'iter')")


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The newest checkpoint of ``work_dir`` that can be resumed, None when
    the work dir has no checkpoint.

    Raises:
        UnsafeCheckpointError: a candidate needs full unpickling and the
            caller did not opt in (this is not damage: it is not skipped).
        CheckpointLoadError: there are checkpoints but none can be resumed
            (the message names each and what is wrong with it).
    """
    skipped: List[Tuple[str, str]] = []
    for path in _candidates(work_dir):
        try:
            _check_resumable(path)
        except UnsafeCheckpointError:
            raise
        except (CheckpointLoadError, FileNotFoundError) as error:
            skipped.append((path, str(error)))
            continue
        if skipped:
            print_log(
                'auto-resume: ' + '; '.join(reason for _, reason in skipped)
                + f'; resuming from {path} instead, the newest intact '
                'checkpoint', logger='current', level=logging.WARNING)
        return path
    if skipped:
        raise CheckpointLoadError(
            f'auto-resume: no checkpoint in {work_dir} can be resumed: ' +
            '; '.join(reason for _, reason in skipped))
    return None
