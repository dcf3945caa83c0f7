"""Checkpoint files that are complete or absent, never cut short.

mmengine 0.10.7 writes a checkpoint in two steps: ``Runner.save_checkpoint``
serialises it into memory and hands the bytes to
``mmengine.runner.save_checkpoint``, which writes them with the file
backend of the path (``get_file_backend(path, backend_args)``;
``LocalBackend.put`` = ``open(path, 'wb').write(bytes)``); then
``CheckpointHook`` writes the ``last_checkpoint`` pointer. A process killed
during the write leaves a truncated ``iter_N.pth`` that ``last_checkpoint``
may already name (when it named ``iter_N.pth`` from an earlier run in the
same work dir) and that resume cannot read.

The seam used here is the file backend: it is the one object that performs
the write, and both ``CheckpointHook(backend_args=...)`` and
``Runner.save_checkpoint(backend_args=...)`` take it from the config, so no
mmengine function or class is changed. :class:`AtomicLocalBackend`
(registered with mmengine's public ``register_backend`` as
``'atomic_local'``) writes every file to a hidden temporary file in the
same directory, flushes it to disk, and renames it over the target with
``os.replace`` (atomic on POSIX and Windows), then syncs the directory.
``CheckpointHook`` writes the ``last_checkpoint`` pointer only after
``Runner.save_checkpoint`` returned, so the pointer never names a file
that is not complete. ``tools/train.py`` sets
``default_hooks.checkpoint.backend_args = dict(backend='atomic_local')``
(see :func:`mmattn.cli.configure_checkpointing`) unless the config chose
its own backend.

With ``max_keep_ckpts``, mmengine's ``CheckpointHook`` removes the oldest
checkpoint *before* writing the new one, so a process killed during that
write would be left with one checkpoint fewer (none with
``max_keep_ckpts=1``). The backend therefore defers a ``remove`` until the
next file written into the same directory is complete: the old checkpoint
goes only once the new one exists (a run that ends without another write
keeps it).
"""
import os
import os.path as osp
import uuid
from pathlib import Path
from typing import IO, Dict, List, Union

from mmengine.fileio import LocalBackend, register_backend


def _sync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX; a no-op elsewhere)."""
    if not hasattr(os, 'O_DIRECTORY'):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose ``put`` and ``put_text`` replace
    the target file atomically: a reader (or a process resuming after a
    crash) sees the old file or the complete new one, never a partial one.

    A process killed during a write leaves a hidden
    ``.<name>.<random>.tmp`` file next to the target, which nothing reads.
    ``remove`` is deferred until the next write into the file's directory
    completes (see the module docstring).
    """

    #: Files to remove once a write into their directory completes, by
    #: directory (shared by the instances mmengine creates per call).
    _pending_removals: Dict[str, List[str]] = {}

    def remove(self, filepath: Union[str, Path]) -> None:
        path = osp.abspath(os.fspath(filepath))
        if osp.isdir(path):
            raise IsADirectoryError(f'{path} is a directory')
        if not osp.exists(path):
            raise FileNotFoundError(f'{path} does not exist')
        self._pending_removals.setdefault(osp.dirname(path), []).append(path)

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        self._replace(obj, filepath, 'wb')

    def put_text(self, obj: str, filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        self._replace(obj.encode(encoding), filepath, 'wb')

    def write_file(self, file: IO[bytes], data: bytes) -> None:
        """Write ``data`` into the open temporary file (an extension point:
        the tests pause inside it to kill a process mid-write)."""
        file.write(data)

    def _replace(self, data: bytes, filepath: Union[str, Path],
                 mode: str) -> None:
        target = osp.abspath(os.fspath(filepath))
        directory = osp.dirname(target)
        os.makedirs(directory, exist_ok=True)
        temporary = osp.join(
            directory, f'.{osp.basename(target)}.{uuid.uuid4().hex}.tmp')
        try:
            with open(temporary, mode) as file:
                self.write_file(file, data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            if osp.exists(temporary):
                os.remove(temporary)
            raise
        _sync_directory(directory)
        for path in self._pending_removals.pop(directory, []):
            if path != target and osp.isfile(path):
                os.remove(path)


def write_atomically(data: Union[bytes, str], filepath: str) -> None:
    """Write ``data`` (text as UTF-8) to ``filepath`` atomically, as
    :class:`AtomicLocalBackend` does."""
    backend = AtomicLocalBackend()
    if isinstance(data, str):
        backend.put_text(data, filepath)
    else:
        backend.put(data, filepath)
