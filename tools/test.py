"""Evaluate a checkpoint with an mmattn (or any OpenMMLab) config."""
import argparse

from mmattn.cli import add_runner_arguments, build_runner, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='save pictures of the predictions to this folder '
        '(inside the work dir)')
    add_runner_arguments(parser)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show_dir is not None:
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise ValueError('--show-dir needs a `visualization` hook in '
                             'default_hooks (mmdet configs have one)')
        hook.update(draw=True, test_out_dir=args.show_dir)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out must be a .pkl file, got {args.out}')
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(
            cfg.test_evaluator, dict) else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))

    runner = build_runner(cfg)
    runner.test()


if __name__ == '__main__':
    main()
