"""Evaluate a checkpoint with an mmattn (or any OpenMMLab) config.

The config and the checkpoint are checked before anything is built: a
mistake is printed alone, with exit code 2 (``--debug`` shows the
traceback). The checkpoint loads weights only (``--unsafe-load-checkpoint``
opts in to full unpickling of a file you trust).
"""
import argparse
import sys
from typing import List, Optional

from mmattn.cli import (ArgumentParser, ConfigError, add_runner_arguments,
                        build_runner, check_before_build, load_config,
                        run_main, unsafe_load_allowed)
from mmattn.engine import allow_unsafe_checkpoint_load


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='save pictures of the predictions to this folder '
        '(inside the work dir)')
    add_runner_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show_dir is not None:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ConfigError('--show-dir needs a `visualization` hook in '
                              'default_hooks (mmdet configs have one)')
        hook.update(draw=True, test_out_dir=args.show_dir)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ConfigError(f'--out must be a .pkl file, got {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(
            dict(type='DumpResults', out_file_path=args.out))

    with allow_unsafe_checkpoint_load(unsafe_load_allowed(args, cfg)):
        check_before_build(cfg, [args.checkpoint], pretrained=False)
        runner = build_runner(cfg)
        runner.test()


if __name__ == '__main__':
    sys.exit(run_main(main))
