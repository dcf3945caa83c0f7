"""Command-line pieces shared by the scripts in ``tools/``.

User errors come first and alone: :func:`run_main` runs a tool's ``main``
and turns a user error (:data:`USER_ERRORS`: a missing or broken config or
checkpoint, an unknown type, an invalid module argument) into one message
on stderr and exit code 2, without a traceback (``--debug`` shows it). The
train/test tools check the config (:func:`check_before_build`) before the
Runner prints its environment and config dump.
"""
import argparse
import datetime
import os
import os.path as osp
import re
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import MODEL_WRAPPERS, RUNNERS, DefaultScope
from mmengine.runner import Runner
from torch import distributed as torch_dist
from torch.nn.parallel import DistributedDataParallel

from mmattn.engine import (UNSAFE_CONFIG_KEY, UNSAFE_FLAG,
                           CheckpointLoadError, allow_unsafe_checkpoint_load,
                           check_checkpoint_file, load_checkpoint_file)
from mmattn.engine.dataset import (DATASET_KEY, DatasetError,
                                   add_dataset_arguments, apply_coco_dataset,
                                   dataset_from_args)
from mmattn.engine.pretrained import (check_pretrained_weights,
                                      pretrained_checkpoints)
from mmattn.engine.schedule import (fit_schedule_to_run_length,
                                    remember_schedule_length)
from mmattn.registry import UnknownTypeError, check_config


class UserError(Exception):
    """An error in what the user gave (arguments, config, files): the tools
    print its message alone and exit with code 2."""


class ConfigError(UserError):
    """A config that cannot be read or does not build."""


#: What :func:`run_main` reports as a user error. ``FileNotFoundError``
#: covers missing configs, checkpoints, datasets and annotation files.
USER_ERRORS = (UserError, CheckpointLoadError, UnknownTypeError,
               FileNotFoundError, DatasetError)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are the message alone
    (``prog: error: ...``, exit code 2), without the usage block first."""

    def error(self, message: str):
        self.exit(2, f'{self.prog}: error: {message} (see --help)\n')


class ConfigOptionsAction(DictAction):
    """mmengine's ``DictAction`` (``--cfg-options key=value ...``) with an
    argparse error, instead of a traceback, for an item without ``=``."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            if '=' not in item:
                raise argparse.ArgumentError(
                    self, f'{item!r} has no "=": give KEY=VALUE, e.g. '
                    'train_cfg.max_iters=100')
        try:
            super().__call__(parser, namespace, values, option_string)
        except (ValueError, AssertionError) as error:
            raise argparse.ArgumentError(self, str(error)) from error


def add_safety_arguments(parser: argparse.ArgumentParser) -> None:
    """``--debug`` (tracebacks of user errors) and the per-use opt-in to
    full unpickling of checkpoints (:mod:`mmattn.engine.loading`)."""
    parser.add_argument(
        '--debug', action='store_true',
        help='show the traceback of configuration and checkpoint errors')
    parser.add_argument(
        UNSAFE_FLAG, action='store_true',
        help='load checkpoints that weights-only loading refuses with full '
        'unpickling, which runs code from the file: only for files you '
        f'trust (config: {UNSAFE_CONFIG_KEY} = True)')


def _error_message(error: BaseException) -> str:
    # str(KeyError('x')) is "'x'": a KeyError's message is its argument.
    if isinstance(error, KeyError) and \
            not isinstance(error, UnknownTypeError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__


def run_main(main: Callable[[Optional[List[str]]], Any],
             argv: Optional[Sequence[str]] = None,
             user_errors: Tuple[type, ...] = USER_ERRORS) -> int:
    """Run a tool's ``main(argv)`` and return its exit code (what ``main``
    returns when that is an int, else 0); a user error (``user_errors``,
    default :data:`USER_ERRORS`) is printed alone on stderr, with exit code
    2, and re-raised with its traceback when ``--debug`` is among the
    arguments."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        result = main(argv)
    except user_errors as error:
        if '--debug' in argv:
            raise
        prog = osp.basename(sys.argv[0]) or 'mmattn'
        print(f'{prog}: error: {_error_message(error)}', file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def load_weights(model: torch.nn.Module, checkpoint: str,
                 args: argparse.Namespace, **kwargs) -> dict:
    """``mmengine.runner.load_checkpoint(model, checkpoint, **kwargs)`` for
    a tool (weights only: any scheme goes through
    :mod:`mmattn.engine.loading`), with full unpickling allowed only when the
    tool was given ``--unsafe-load-checkpoint``."""
    from mmengine.runner import load_checkpoint
    with allow_unsafe_checkpoint_load(unsafe_load_allowed(args)):
        local = _local_checkpoint(checkpoint)
        if local is not None:  # its errors before mmengine's log line
            check_checkpoint_file(osp.expanduser(local))
        return load_checkpoint(model, checkpoint, **kwargs)


def model_from_spec(text: str, kind: str, device: str = 'cpu') -> tuple:
    """(spec, model) of a picture tool's model argument
    (:mod:`mmattn.analysis.models`); a spec that does not parse or a module
    argument its constructor rejects is a :class:`ConfigError`."""
    from mmattn.analysis.models import build, resolve
    try:
        spec = resolve(text, kind=kind)
        return spec, build(spec, device)
    except (ValueError, TypeError, SyntaxError) as error:
        raise ConfigError(
            f'model {text!r}: {_BUILD_CONTEXT.sub("", _error_message(error))}'
        ) from error


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments every train/test script takes, as in OpenMMLab's tools."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=ConfigOptionsAction,
        help='override settings of the config, key=value (xxx=yyy format); '
        'list indices are allowed in keys, e.g. a.b.0.c=1')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local_rank, torchrun --local-rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_dataset_arguments(parser)
    add_safety_arguments(parser)


def read_config(path: str) -> Config:
    """``Config.fromfile(path)`` with a :class:`ConfigError` naming the file
    when it is missing or cannot be read (syntax, missing ``_base_``)."""
    if not osp.isfile(path):
        raise ConfigError(f'config file {path} does not exist')
    try:
        return Config.fromfile(path)
    except (SyntaxError, FileNotFoundError, ImportError, KeyError,
            TypeError, ValueError) as error:
        raise ConfigError(
            f'config {path} cannot be read: {_error_message(error)}'
        ) from error


def apply_run_options(cfg: Config, cfg_options: Optional[dict] = None,
                      dataset: Optional[dict] = None) -> List[str]:
    """Apply what a run sets on top of its config file, in place:
    ``cfg_options`` (``--cfg-options``), then the dataset (``dataset``, or
    the config's own ``coco_dataset``, :mod:`mmattn.engine.dataset`); then
    fit the schedule to the run's length (:mod:`mmattn.engine.schedule`,
    the length the file was written for is remembered first). Returns the
    schedule's changes."""
    remember_schedule_length(cfg)
    if cfg_options:
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise ConfigError(
                f'--cfg-options do not fit {cfg.filename}: '
                f'{_error_message(error)}') from error
    if dataset is not None:
        cfg[DATASET_KEY] = dataset
    apply_coco_dataset(cfg)
    return fit_schedule_to_run_length(cfg)


def load_config(args: argparse.Namespace) -> Config:
    """The config named by ``args.config`` with the command line applied
    (:func:`apply_run_options`)."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = read_config(args.config)
    cfg.launcher = args.launcher
    changes = apply_run_options(cfg, args.cfg_options,
                                dataset_from_args(args))
    if changes:
        print('schedule fitted to the run length: ' + '; '.join(changes))
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def _add_custom_hook(cfg: Config, hook_type: str) -> None:
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(hook, dict) and hook.get('type') == hook_type
               for hook in hooks):
        hooks.append(dict(type=hook_type))
    cfg.custom_hooks = hooks


def configure_checkpointing(cfg: Config) -> None:
    """Checkpoints of a training run that lose nothing:

    * :class:`~mmattn.engine.WeightsOnlyCheckpointHook`: checkpoints that
      load (and resume) with ``weights_only=True``;
    * the ``atomic_local`` file backend for the ``CheckpointHook``
      (:mod:`mmattn.engine.saving`), unless the config chose a backend or a
      remote ``out_dir``: a checkpoint file is complete or absent;
    * :class:`~mmattn.engine.GracefulInterruptHook`: SIGTERM/SIGINT finish
      the iteration and save a resumable checkpoint.

    Each is added once; a config that already has them is unchanged.
    """
    _add_custom_hook(cfg, 'WeightsOnlyCheckpointHook')
    _add_custom_hook(cfg, 'GracefulInterruptHook')
    checkpoint_hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint_hook, dict) and \
            checkpoint_hook.get('backend_args') is None and \
            checkpoint_hook.get('file_client_args') is None and \
            '://' not in str(checkpoint_hook.get('out_dir') or ''):
        checkpoint_hook['backend_args'] = dict(backend='atomic_local')


def unsafe_load_allowed(args: argparse.Namespace,
                        cfg: Optional[Config] = None) -> bool:
    """Whether this run opted in to full unpickling: the command-line flag,
    or the config key."""
    return bool(getattr(args, 'unsafe_load_checkpoint', False) or
                (cfg is not None and cfg.get(UNSAFE_CONFIG_KEY, False)))


def _local_checkpoint(name: Optional[str]) -> Optional[str]:
    """``name`` when it names a local file (no ``scheme://``)."""
    return name if isinstance(name, str) and '://' not in name else None


#: mmengine's builder prefixes each enclosing class to an error raised while
#: building (``class `RetinaNet` in mmdet/...: class `AttnResNet` in ...:``).
_BUILD_CONTEXT = re.compile(r'^(class `[^`]+` in [^:]+: )+')


def _build_model_once(cfg: Config) -> None:
    """Build ``cfg.model`` once and drop it, so that an invalid argument of
    a module is reported before the Runner logs the environment and the
    config (mmengine's Runner builds the model after that dump).

    It costs one model construction (no weights are loaded); the
    alternative, deferring mmengine's dump, would mean overriding the
    Runner's private ``_log_env``. Any error of the construction is a
    :class:`ConfigError`: mmattn's modules raise ValueError/TypeError naming
    the module, the argument and the value; other libraries' errors (mmdet's
    bare asserts) are reported with their type and the line that raised.
    """
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', None)):
        try:
            MODELS.build(cfg.model)
        except UnknownTypeError:
            raise
        except Exception as error:  # noqa: B902 (re-raised as ConfigError)
            message = _BUILD_CONTEXT.sub('', _error_message(error))
            if not isinstance(error, (ValueError, TypeError, KeyError)):
                frame = traceback.extract_tb(error.__traceback__)[-1]
                name = type(error).__name__
                message = (f'{name}{"" if message == name else ": " + message}'
                           f' (raised at {frame.filename}:{frame.lineno}; '
                           '--debug shows the traceback)')
            raise ConfigError(f'{cfg.filename}: model: {message}') from error


def check_before_build(cfg: Config,
                       checkpoints: Sequence[Optional[str]] = (),
                       pretrained: bool = True) -> None:
    """What the train/test tools check before building anything: every
    ``type`` in the config (:func:`mmattn.registry.check_config`), the
    local checkpoint files (``checkpoints`` and the model's ``Pretrained``
    init_cfgs, :func:`~mmattn.engine.pretrained.check_pretrained_weights`
    first: present, complete, weights only unless the run opted in), and
    the model's constructor arguments (:func:`_build_model_once`).
    ``pretrained=False`` (testing: init_cfg weights are not loaded) skips
    the ``Pretrained`` checkpoints.

    Run it inside :func:`~mmattn.engine.allow_unsafe_checkpoint_load` when
    the run opted in.
    """
    check_config(cfg)
    if pretrained:
        check_pretrained_weights(cfg)
        checkpoints = [*checkpoints, *(
            init_cfg['checkpoint'] for _, init_cfg in
            pretrained_checkpoints(cfg.get('model') or {}))]
    for name in checkpoints:
        path = _local_checkpoint(name)
        if path is not None:
            check_checkpoint_file(osp.expanduser(path))
    _build_model_once(cfg)


def setup_cpu_distributed(cfg: Config) -> bool:
    """Make ``--launcher pytorch`` work on a machine without CUDA.

    mmengine 0.10 cannot run distributed on CPU: its ``init_dist`` calls
    ``torch.cuda.set_device(LOCAL_RANK)`` (which raises without a GPU, also
    with ``dist_cfg=dict(backend='gloo')``), and its ``Runner.wrap_model``
    passes ``device_ids=[LOCAL_RANK]`` to ``DistributedDataParallel``, which
    rejects device ids for a CPU module. Without CUDA this function

    * initialises the process group itself with the ``gloo`` backend
      (mmengine's runner then skips ``init_dist``); ``env_cfg.dist_cfg``
      keeps supplying ``timeout``, and its backend is recorded as ``gloo``;
    * sets ``model_wrapper_cfg`` to mmengine's default wrapper
      (``MMDistributedDataParallel``, ``broadcast_buffers=False``,
      ``find_unused_parameters`` from the config, default False) with
      ``device_ids=None``; a config's own DDP-type wrapper only gets
      ``device_ids=None``.

    Returns True when it did so; with CUDA, another launcher, or a process
    group already initialised it changes nothing and returns False.
    """
    if (cfg.get('launcher', 'none') != 'pytorch'
            or torch.cuda.is_available() or torch_dist.is_initialized()):
        return False
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    timeout = dist_cfg.get('timeout')
    kwargs = {} if timeout is None else dict(
        timeout=datetime.timedelta(seconds=timeout))
    torch_dist.init_process_group(backend='gloo', **kwargs)

    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        wrapper = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = MODEL_WRAPPERS.get(
        wrapper.get('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper_type, type) and issubclass(
            wrapper_type, DistributedDataParallel):
        wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return True


def build_runner(cfg: Config) -> Runner:
    """mmengine's Runner, or the config's own ``runner_type``; on a machine
    without CUDA, distributed over gloo (see :func:`setup_cpu_distributed`).
    """
    setup_cpu_distributed(cfg)
    try:
        return Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
            RUNNERS.build(cfg)
    except UnknownTypeError:
        raise
    except ValueError as error:
        raise ConfigError(
            f'{cfg.filename}: {_BUILD_CONTEXT.sub("", str(error))}'
        ) from error


def parse_input_size(values: Optional[List[str]]) -> Optional[Tuple[int, int]]:
    """``--input-size`` as given to the analysis tools: ``S``, ``H W`` or
    ``HxW``; None when not given."""
    if not values:
        return None
    parts = [int(v) for v in 'x'.join(values).lower().split('x') if v]
    if len(parts) == 1:
        return parts[0], parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise argparse.ArgumentTypeError(
        f'--input-size {" ".join(values)!r} is invalid; give S, H W or HxW')


def add_picture_arguments(parser: argparse.ArgumentParser,
                          size_help: str) -> None:
    """The model and input arguments of the tools/visualization scripts
    (with ``--debug`` and ``--unsafe-load-checkpoint``)."""
    parser.add_argument('model', help='model spec (name, detector:backbone, '
                        'dict(...) or config file)')
    parser.add_argument('--kind', choices=('classifier', 'backbone'),
                        default='classifier')
    parser.add_argument('--checkpoint', help='weights to load (strict=False)')
    parser.add_argument('--img', help='input image (default: a synthetic '
                        'picture of a few shapes)')
    parser.add_argument('--input-size', nargs='+', metavar='SIZE',
                        help=size_help)
    add_safety_arguments(parser)


def converter_parser(description: str,
                     backbone_layout: bool = True) -> argparse.ArgumentParser:
    """The arguments every tools/model_converters script takes: the source
    checkpoint, the output path, ``--debug``, ``--unsafe-load-checkpoint``
    and, for the converters of authors' backbones (``backbone_layout``),
    where the converted keys go."""
    parser = ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help='the checkpoint to convert')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    if backbone_layout:
        parser.add_argument(
            '--classifier', action='store_true',
            help="keep fc as mmpretrain's head.fc, backbone under "
            "'backbone.' (default: drop fc, for detection)")
        parser.add_argument(
            '--prefix', action='store_true',
            help="put the backbone keys under 'backbone.' (a detector's "
            'load_from)')
    add_safety_arguments(parser)
    return parser


def load_authors_state_dict(
        path: str, args: argparse.Namespace) -> Dict[str, torch.Tensor]:
    """The state dict of the checkpoint to convert (weights only unless the
    converter was given ``--unsafe-load-checkpoint``); the authors' training
    scripts save ``{'epoch', 'arch', 'state_dict', ...}``, mmengine
    ``{'meta', 'state_dict', ...}``, bare state dicts load too."""
    with allow_unsafe_checkpoint_load(unsafe_load_allowed(args)):
        checkpoint = load_checkpoint_file(path, map_location='cpu')
    return checkpoint.get('state_dict', checkpoint)


def save_converted(state_dict: Dict[str, torch.Tensor], path: str) -> None:
    """Save converted weights as an mmengine checkpoint and say so."""
    torch.save(dict(state_dict=state_dict), path)
    print(f'{len(state_dict)} tensors written to {path}')
