"""Train a detector or classifier from an mmattn (or any OpenMMLab) config.

The config's ``default_scope`` (``mmdet`` or ``mmpretrain``) decides which
library's runner components are used; mmattn is imported through the
config's ``custom_imports``.

Before anything is built, the config is checked (every type it names, the
model's constructor arguments, the checkpoints it loads): a mistake is
printed alone, with exit code 2 (``--debug`` shows the traceback).
Checkpoints are written atomically and load weights only; SIGTERM/SIGINT
finish the iteration, save a checkpoint and exit with 128 + the signal
number and the command that resumes; ``--resume`` without a path resumes
from the newest intact checkpoint of the work dir.
"""
import argparse
import shlex
import sys
from typing import List, Optional

from mmengine.dist import is_main_process

from mmattn.cli import (ArgumentParser, add_runner_arguments, build_runner,
                        check_before_build, configure_checkpointing,
                        load_config, run_main, unsafe_load_allowed)
from mmattn.engine import (TrainingInterrupted, allow_unsafe_checkpoint_load,
                           find_resumable_checkpoint)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the newest intact '
        'one in the work dir when no path is given')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def _how_to_resume(checkpoint: str, launcher: str) -> str:
    """This command with ``--resume CHECKPOINT`` (argparse keeps the last
    ``--resume``); a distributed run says so of its launch command."""
    if launcher != 'none':
        return ('resume with the same launch command (tools/dist_train.sh, '
                f'torchrun, slurm) and --resume {checkpoint}')
    return 'resume with: ' + shlex.join(
        ['python', sys.argv[0], *sys.argv[1:], '--resume', checkpoint])


def main(argv: Optional[List[str]] = None):
    """Train; returns the runner (for callers in Python)."""
    args = parse_args(argv)
    cfg = load_config(args)
    configure_checkpointing(cfg)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    with allow_unsafe_checkpoint_load(unsafe_load_allowed(args, cfg)):
        if args.resume == 'auto':
            # mmengine would trust last_checkpoint; fall back past damage.
            cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
            cfg.resume = cfg.load_from is not None
            if cfg.load_from is None:
                print(f'--resume: no checkpoint in {cfg.work_dir}; training '
                      'from the start')
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
        check_before_build(cfg, [cfg.get('load_from')])
        runner = build_runner(cfg)
        runner.train()
    return runner


def cli(argv: Optional[List[str]] = None) -> int:
    """The command line: :func:`main` with user errors printed alone
    (exit code 2) and an interruption reported (by rank 0) with how to
    resume, exit code 128 + the signal number."""
    try:
        return run_main(main, argv)
    except TrainingInterrupted as stop:
        if is_main_process():
            launcher = parse_args(argv).launcher
            print(f'{stop}; {_how_to_resume(stop.checkpoint, launcher)}',
                  file=sys.stderr)
        return 128 + stop.signal_number


if __name__ == '__main__':
    sys.exit(cli())
