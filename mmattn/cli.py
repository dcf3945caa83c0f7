"""Command-line pieces shared by the scripts in ``tools/``."""
import argparse
import datetime
import os
import os.path as osp

from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from torch import distributed as torch_dist
from torch.nn.parallel import DistributedDataParallel


def add_runner_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments every train/test script takes, as in OpenMMLab's tools."""
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, key=value (xxx=yyy format); '
        'list indices are allowed in keys, e.g. a.b.0.c=1')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local_rank, torchrun --local-rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """The config named by ``args.config`` with the command line applied."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def add_weights_only_checkpoints(cfg: Config) -> None:
    """Add :class:`~mmattn.engine.WeightsOnlyCheckpointHook` to the config's
    ``custom_hooks`` (once): checkpoints then load with torch >= 2.6's
    ``torch.load(path)`` default ``weights_only=True``, which mmengine's own
    loader uses too."""
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(hook, dict)
               and hook.get('type') == 'WeightsOnlyCheckpointHook'
               for hook in hooks):
        hooks.append(dict(type='WeightsOnlyCheckpointHook'))
    cfg.custom_hooks = hooks


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
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else \
        RUNNERS.build(cfg)


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
    """The model and input arguments of the tools/visualization scripts."""
    parser.add_argument('model', help='model spec (name, detector:backbone, '
                        'dict(...) or config file)')
    parser.add_argument('--kind', choices=('classifier', 'backbone'),
                        default='classifier')
    parser.add_argument('--checkpoint', help='weights to load (strict=False)')
    parser.add_argument('--img', help='input image (default: a synthetic '
                        'picture of a few shapes)')
    parser.add_argument('--input-size', nargs='+', metavar='SIZE',
                        help=size_help)


def converter_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every tools/model_converters script takes: the authors'
    checkpoint, the output path and where the converted keys go."""
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--classifier', action='store_true',
        help="keep fc as mmpretrain's head.fc, backbone under 'backbone.' "
        '(default: drop fc, for detection)')
    parser.add_argument(
        '--prefix', action='store_true',
        help="put the backbone keys under 'backbone.' (a detector's "
        'load_from)')
    return parser


def load_authors_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of an authors' checkpoint; their training scripts save
    ``{'epoch', 'arch', 'state_dict', ...}``, bare state dicts load too."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    return checkpoint.get('state_dict', checkpoint)


def save_converted(state_dict: Dict[str, torch.Tensor], path: str) -> None:
    """Save converted weights as an mmengine checkpoint and say so."""
    torch.save(dict(state_dict=state_dict), path)
    print(f'{len(state_dict)} tensors written to {path}')
