"""Train a detector or classifier from an mmattn (or any OpenMMLab) config.

The config's ``default_scope`` (``mmdet`` or ``mmpretrain``) decides which
library's runner components are used; mmattn is imported through the
config's ``custom_imports``.
"""
import argparse
from typing import List, Optional

from mmattn.cli import (add_runner_arguments, add_weights_only_checkpoints,
                        build_runner, load_config)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir when no path is given')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None):
    """Train; returns the runner (for callers in Python)."""
    args = parse_args(argv)
    cfg = load_config(args)
    # Checkpoints that torch >= 2.6 loads with weights_only=True (see
    # mmattn.engine.checkpoint); resume needs the same hook to read them.
    add_weights_only_checkpoints(cfg)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume

    runner = build_runner(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    main()
