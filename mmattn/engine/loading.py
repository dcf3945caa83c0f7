"""Checkpoint loading that never runs code from the file.

mmengine 0.10.7 resolves every checkpoint name through
``mmengine.runner.CheckpointLoader``: a local path, ``http(s)://``,
``torchvision://`` / ``modelzoo://``, ``open-mmlab://`` / ``openmmlab://``,
``mmcls://``, ``s3://`` / ``petrel://`` and ``pavi://``. Its local loader
calls ``torch.load(path)``, which under torch >= 2.6 defaults to
``weights_only=True`` (but ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns
that off); its URL loaders end in ``torch.hub.load_state_dict_from_url``,
whose ``weights_only`` defaults to False: a checkpoint reached as a URL or
a ``torchvision://`` name, also from the hub cache, was fully unpickled and
could run any code. Every path (``Runner.load_checkpoint``, ``resume``,
``load_from``, ``init_cfg=dict(type='Pretrained')``,
``mmengine.runner.load_checkpoint``) goes through the same loaders.

Importing :mod:`mmattn` (which every mmattn config does through
``custom_imports``) re-registers each of those schemes, with mmengine's
public ``CheckpointLoader.register_scheme(prefixes, loader, force=True)``,
to a loader here that reuses mmengine's name resolution (its URL tables
``get_torchvision_models``, ``get_external_models``,
``get_deprecated_model_names``, ``get_mmcls_models``) and torch's hub cache
(``torch.hub.get_dir()/checkpoints``, downloads through
``torch.hub.download_url_to_file``), and then reads the file with
:func:`load_checkpoint_file`: ``torch.load(..., weights_only=True)``, passed
explicitly so that no environment variable can switch it off.

A checkpoint that needs full unpickling (it references Python objects
beyond tensors and containers, e.g. one saved by plain mmengine with its
``HistoryBuffer`` message hub, or a malicious one) is refused with
:class:`UnsafeCheckpointError`, naming the file and the opt-in. Loading it
anyway is a per-use decision: ``--unsafe-load-checkpoint`` on the tools'
command line, ``unsafe_load_checkpoint = True`` in a config run by them,
or ``with allow_unsafe_checkpoint_load():`` in Python. Even then a file
loads fully only after the safe load refused it, with a warning naming it.

Files that are not checkpoints (missing, empty, truncated, corrupt, text)
raise :class:`CheckpointLoadError` with one line naming the file and what
is wrong with it.
"""
import contextlib
import contextvars
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
import zipfile
from typing import Any, Callable, Iterator, List, Optional
from urllib.parse import urlparse

import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.fileio import get_file_backend
from mmengine.logging import print_log
from mmengine.runner.checkpoint import (  # the model tables, as mmengine
    CheckpointLoader, _get_mmengine_home, _process_mmcls_checkpoint,
    get_deprecated_model_names, get_external_models, get_mmcls_models,
    get_torchvision_models)

#: The config key and command-line flag that allow full unpickling.
UNSAFE_CONFIG_KEY = 'unsafe_load_checkpoint'
UNSAFE_FLAG = '--unsafe-load-checkpoint'
OPT_IN_HINT = (f'if you trust this file, opt in with {UNSAFE_FLAG} (config: '
               f'{UNSAFE_CONFIG_KEY} = True)')

_unsafe_allowed = contextvars.ContextVar('mmattn_unsafe_checkpoint_load',
                                         default=False)

# First bytes of what torch.save writes: a zip archive (torch >= 1.6) or the
# legacy pickle stream (protocol 2 opcode).
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_MAGIC = b'\x80'


class CheckpointLoadError(RuntimeError):
    """A checkpoint could not be loaded; the message is one line naming the
    file and what is wrong with it."""


class UnsafeCheckpointError(CheckpointLoadError, pickle.UnpicklingError):
    """A checkpoint needs full unpickling (it can run code) and the caller
    did not opt in (see the module docstring)."""


@contextlib.contextmanager
def allow_unsafe_checkpoint_load(allowed: bool = True) -> Iterator[None]:
    """Within the block, checkpoints that weights-only loading refuses are
    loaded with full unpickling (after a warning naming each file) when
    ``allowed`` is True; ``allowed=False`` keeps refusing them."""
    token = _unsafe_allowed.set(bool(allowed))
    try:
        yield
    finally:
        _unsafe_allowed.reset(token)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _describe(name: str, source: Optional[str]) -> str:
    return f'checkpoint {name}' if source in (None, name) else \
        f'checkpoint {name} (from {source})'


def _inspect(filename: str, described: str) -> List[str]:
    """Check, without unpickling, that ``filename`` can be a checkpoint, and
    return the Python objects its pickle references beyond what
    weights-only loading allows (empty for a legacy, non-zip checkpoint:
    only torch's unpickler can tell for those)."""
    if not osp.exists(filename):
        raise FileNotFoundError(f'{described} does not exist')
    if not osp.isfile(filename):
        raise CheckpointLoadError(f'{described} is not a file')
    size = osp.getsize(filename)
    if size == 0:
        raise CheckpointLoadError(f'{described} is empty (0 bytes)')
    with open(filename, 'rb') as f:
        head = f.read(len(_ZIP_MAGIC))
    if head.startswith(_PICKLE_MAGIC):
        return []
    if not head.startswith(_ZIP_MAGIC):
        raise CheckpointLoadError(
            f'{described} is not a PyTorch checkpoint (it starts with '
            f'{head!r}, not like a file written by torch.save)')
    try:
        with zipfile.ZipFile(filename) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as error:
        raise CheckpointLoadError(
            f'{described} is truncated or corrupt: {size} bytes without a '
            f'readable zip directory ({_first_line(error)})') from error
    if not any(name == 'data.pkl' or name.endswith('/data.pkl')
               for name in names):
        raise CheckpointLoadError(
            f'{described} is a zip archive but not a torch.save checkpoint '
            '(it has no data.pkl)')
    try:
        return sorted(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception as error:  # a pickle that cannot even be disassembled
        raise CheckpointLoadError(
            f'{described} is corrupt: its pickle cannot be read '
            f'({_first_line(error)})') from error


#: How torch's weights-only unpickler names a global it refuses.
_REFUSED_GLOBAL = re.compile(r'GLOBAL (\S+)')


def _check_crc(filename: str, described: str) -> None:
    """Check every record of a zip checkpoint against its CRC-32: torch's
    reader does not, and loads flipped bytes in a tensor silently."""
    if not zipfile.is_zipfile(filename):
        return
    try:
        with zipfile.ZipFile(filename) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CheckpointLoadError(
            f'{described} is corrupt: {_first_line(error)}') from error
    if damaged is not None:
        raise CheckpointLoadError(
            f'{described} is corrupt: record {damaged} fails its CRC-32 '
            'check')


def _refusal(described: str, unsafe: List[str]) -> UnsafeCheckpointError:
    names = ', '.join(unsafe[:4]) + (', ...' if len(unsafe) > 4 else '')
    what = f' (it references {names})' if unsafe else ''
    return UnsafeCheckpointError(
        f'{described} needs full unpickling, which can run code from the '
        f'file{what}, so weights-only loading refused it; {OPT_IN_HINT}')


def check_checkpoint_file(filename: str, source: Optional[str] = None) -> None:
    """Check, without unpickling, that ``filename`` can be loaded by
    :func:`load_checkpoint_file`: it exists, is not empty, starts like a
    ``torch.save`` file, a zip checkpoint has its zip directory (a file cut
    short while being written has not) and references nothing beyond
    weights unless the caller opted in (:func:`allow_unsafe_checkpoint_load`).

    Cheap (reads the header, the zip directory and the pickle, never the
    tensors): the tools run it before building anything. Raises as
    :func:`load_checkpoint_file`; ``source`` is the name the user gave
    when it differs from ``filename``.
    """
    described = _describe(filename, source)
    unsafe = _inspect(filename, described)
    if unsafe and not _unsafe_allowed.get():
        raise _refusal(described, unsafe)


def _load_unsafe(filename: str, map_location: Any, described: str) -> Any:
    print_log(
        f'{described}: loading with full unpickling ({UNSAFE_FLAG} / '
        f'{UNSAFE_CONFIG_KEY}); code in this file runs with your permissions',
        logger='current', level=logging.WARNING)
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_checkpoint_file(filename: str,
                         map_location: Any = None,
                         source: Optional[str] = None) -> dict:
    """``torch.load(filename, map_location, weights_only=True)`` with errors
    of one line naming the file.

    Args:
        filename: a local file (``~`` is expanded).
        map_location: as :func:`torch.load`.
        source: the name the user gave (a URL, ``torchvision://...``) when
            it differs from ``filename``; error messages show both.

    Returns:
        The checkpoint: a dict (``state_dict``, ``meta``, ... or a bare
        state dict).

    Raises:
        FileNotFoundError: the file does not exist.
        UnsafeCheckpointError: the file needs full unpickling and the caller
            did not opt in (:func:`allow_unsafe_checkpoint_load`).
        CheckpointLoadError: the file is empty, truncated, corrupt, not a
            checkpoint, or holds something other than a dict.
    """
    filename = osp.expanduser(filename)
    described = _describe(filename, source)
    unsafe = _inspect(filename, described)
    _check_crc(filename, described)
    if unsafe:
        if not _unsafe_allowed.get():
            raise _refusal(described, unsafe)
        checkpoint = _load_unsafe(filename, map_location, described)
    else:
        try:
            checkpoint = torch.load(filename, map_location=map_location,
                                    weights_only=True)
        except pickle.UnpicklingError as error:
            refused = _REFUSED_GLOBAL.search(str(error))
            if refused is None:
                raise CheckpointLoadError(
                    f'{described} is corrupt: {_first_line(error)}'
                ) from error
            # A legacy (non-zip) file referencing Python objects.
            if not _unsafe_allowed.get():
                raise _refusal(described, [refused.group(1)]) from error
            checkpoint = _load_unsafe(filename, map_location, described)
        except (EOFError, UnicodeDecodeError, zipfile.BadZipFile) as error:
            raise CheckpointLoadError(
                f'{described} is truncated or corrupt: '
                f'{_first_line(error)}') from error
        except RuntimeError as error:
            if 'deserialize object on' in str(error):
                raise  # a map_location device that does not exist here
            raise CheckpointLoadError(
                f'{described} is truncated or corrupt: '
                f'{_first_line(error)}') from error
    if not isinstance(checkpoint, dict):
        raise CheckpointLoadError(
            f'{described} holds a {type(checkpoint).__name__}, not a '
            'checkpoint (a dict with a state_dict, or a state dict)')
    return checkpoint


def _hub_cached_file(url: str) -> str:
    """``url`` in torch's hub cache, downloaded first if missing: the file
    ``torch.hub.load_state_dict_from_url`` (mmengine's URL loader) uses."""
    model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        print(f'Downloading: "{url}" to {cached}')
        try:
            torch.hub.download_url_to_file(url, cached,
                                           progress=os.isatty(0))
        except OSError as error:  # URLError, HTTPError, socket errors
            raise CheckpointLoadError(
                f'checkpoint {url} could not be downloaded: '
                f'{_first_line(error)}') from error
    return cached


def _load_url(url: str, map_location: Any, source: Optional[str] = None):
    """Download ``url`` to the hub cache (rank 0 first, the other ranks
    after a barrier, as mmengine's loader) and load it safely."""
    rank, world_size = get_dist_info()
    if rank == 0:
        cached = _hub_cached_file(url)
    if world_size > 1:
        barrier()
        if rank > 0:
            cached = _hub_cached_file(url)
    return load_checkpoint_file(
        cached, map_location,
        source=url if source is None else f'{source} = {url}')


def _lookup(table: dict, name: str, source: str, scheme: str) -> str:
    if name not in table:
        raise CheckpointLoadError(
            f'checkpoint {source}: {scheme} has no checkpoint named {name!r} '
            "(mmengine's model tables)")
    return table[name]


# mmengine's loaders are replaced prefix by prefix: the same prefixes, the
# same function names (mmengine logs "Loads checkpoint by <name> backend").


@CheckpointLoader.register_scheme(prefixes='', force=True)
def load_from_local(filename: str, map_location: Any = None) -> dict:
    """A local file, weights only."""
    return load_checkpoint_file(filename, map_location)


@CheckpointLoader.register_scheme(prefixes=('http://', 'https://'),
                                  force=True)
def load_from_http(filename: str, map_location: Any = None) -> dict:
    """A URL, through torch's hub cache, weights only."""
    return _load_url(filename, map_location)


@CheckpointLoader.register_scheme(prefixes=('modelzoo://', 'torchvision://'),
                                  force=True)
def load_from_torchvision(filename: str, map_location: Any = None) -> dict:
    """``torchvision://<name>`` (``modelzoo://`` deprecated) resolved with
    mmengine's torchvision table, through torch's hub cache."""
    scheme, name = filename.split('://', 1)
    if scheme == 'modelzoo':
        print_log(
            'The URL scheme of "modelzoo://" is deprecated, please use '
            '"torchvision://" instead', logger='current',
            level=logging.WARNING)
    url = _lookup(get_torchvision_models(), name, filename, 'torchvision')
    return _load_url(url, map_location, source=filename)


@CheckpointLoader.register_scheme(prefixes=('open-mmlab://', 'openmmlab://'),
                                  force=True)
def load_from_openmmlab(filename: str, map_location: Any = None) -> dict:
    """``open-mmlab://<name>`` resolved with mmengine's OpenMMLab table
    (deprecated names redirected, as mmengine does): a URL through torch's
    hub cache, or a file under mmengine's home."""
    scheme, name = filename.split('://', 1)
    deprecated = get_deprecated_model_names()
    if name in deprecated:
        print_log(
            f'{scheme}://{name} is deprecated in favor of '
            f'{scheme}://{deprecated[name]}', logger='current',
            level=logging.WARNING)
        name = deprecated[name]
    url = _lookup(get_external_models(), name, filename, 'open-mmlab')
    if url.startswith(('http://', 'https://')):
        return _load_url(url, map_location, source=filename)
    return load_checkpoint_file(
        osp.join(_get_mmengine_home(), url), map_location, source=filename)


@CheckpointLoader.register_scheme(prefixes='mmcls://', force=True)
def load_from_mmcls(filename: str, map_location: Any = None) -> dict:
    """``mmcls://<name>`` resolved with mmengine's mmcls table; the
    backbone's weights without their ``backbone.`` prefix, as mmengine."""
    url = _lookup(get_mmcls_models(), filename[len('mmcls://'):], filename,
                  'mmcls')
    return _process_mmcls_checkpoint(
        _load_url(url, map_location, source=filename))


def _load_downloaded(filename: str, map_location: Any,
                     download: Callable[[str], None]) -> dict:
    """Load what ``download(path)`` writes into a temporary directory."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        path = osp.join(tmp_dir, osp.basename(filename.rstrip('/')) or
                        'checkpoint.pth')
        download(path)
        return load_checkpoint_file(path, map_location, source=filename)


@CheckpointLoader.register_scheme(
    prefixes=[r'(\S+\:)?s3://', r'(\S+\:)?petrel://'], force=True)
def load_from_ceph(filename: str, map_location: Any = None,
                   backend: str = 'petrel') -> dict:
    """An object store path, read through mmengine's file backend (petrel,
    as mmengine), weights only."""
    file_backend = get_file_backend(filename,
                                    backend_args={'backend': backend})

    def download(path: str) -> None:
        with open(path, 'wb') as f:
            f.write(file_backend.get(filename))

    return _load_downloaded(filename, map_location, download)


@CheckpointLoader.register_scheme(prefixes='pavi://', force=True)
def load_from_pavi(filename: str, map_location: Any = None) -> dict:
    """A ``pavi://`` model-cloud file, downloaded as mmengine does, weights
    only."""
    try:
        from pavi import modelcloud
    except ImportError as error:
        raise ImportError(
            'Please install pavi to load checkpoint from modelcloud.'
        ) from error
    model = modelcloud.get(filename[len('pavi://'):])
    return _load_downloaded(filename, map_location, model.download)
