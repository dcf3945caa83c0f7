"""Benchmark attention variants: train and test every model of a suite with
several seeds, record each run in ``<work-dir>/results.sqlite`` and write
the leaderboard (markdown, CSV, AP vs GFLOPs and AP vs latency plots).

Examples::

    # a suite file (configs or detectors x backbones, seeds, schedule)
    python tools/benchmark_suite.py configs/suites/shapes_r18_attention.py \\
        --work-dir work_dirs/suite_shapes
    # configs given here, on a COCO-format dataset of your own
    python tools/benchmark_suite.py --configs A.py B.py --baseline A \\
        --seeds 0 1 2 --max-iters 2000 --img-dir data/mine/images \\
        --train-ann data/mine/train.json --val-ann data/mine/val.json
    # 8 GPUs per run through tools/dist_train.sh, or Slurm through
    # tools/slurm_train.sh; --dry-run prints each run's commands
    python tools/benchmark_suite.py SUITE.py --launcher pytorch --gpus 8
    python tools/benchmark_suite.py SUITE.py --launcher slurm \\
        --partition p1 --gpus 8 --dry-run

Running it again skips the runs that are done, resumes interrupted ones and
retries failed ones; ``--report-only`` rewrites the leaderboard from the
store.
"""
import argparse
import os.path as osp
import shlex
import sys
from typing import List, Optional

from mmattn.cli import (ArgumentParser, ConfigOptionsAction, parse_input_size,
                        run_main)
from mmattn.engine.dataset import add_dataset_arguments, dataset_from_args
from mmattn.suite import (LAUNCHERS, BenchmarkRunner, Launcher, ResultStore,
                          SuiteError, load_suite, write_leaderboard)
from mmattn.suite.plan import Suite, config_names, models_from_configs
from mmattn.suite.progress import SuiteProgress
from mmattn.suite.runner import SuiteInterrupted

TOOLS_DIR = osp.dirname(osp.abspath(__file__))


def parse_args(argv: Optional[List[str]] = None):
    parser = ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('suite', nargs='?', help='suite file (see '
                        'mmattn/suite/plan.py), or give --configs')
    parser.add_argument('--configs', nargs='+', metavar='CONFIG',
                        help='configs to compare (instead of a suite file)')
    parser.add_argument('--baseline', help='with --configs: the file name '
                        '(without .py) of the baseline config')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_suite',
                        help='runs, results.sqlite and the leaderboard')
    parser.add_argument('--seeds', nargs='+', type=int)
    length = parser.add_mutually_exclusive_group()
    length.add_argument('--max-iters', type=int,
                        help='run length (schedules follow it)')
    length.add_argument('--max-epochs', type=int)
    parser.add_argument('--cfg-options', nargs='+',
                        action=ConfigOptionsAction,
                        help='key=value options for every run')
    add_dataset_arguments(parser)
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none')
    parser.add_argument('--gpus', type=int, default=1,
                        help='processes (GPUs) per run (pytorch, slurm)')
    parser.add_argument('--gpus-per-node', type=int,
                        help='slurm: GPUs per node (default: --gpus)')
    parser.add_argument('--cpus-per-task', type=int, default=5)
    parser.add_argument('--partition', help='slurm partition')
    parser.add_argument('--srun-args', default='',
                        help='slurm: extra srun arguments (SRUN_ARGS), e.g. '
                        '--srun-args="--quotatype=auto"')
    parser.add_argument('--port', type=int, default=29500,
                        help='pytorch: first master port')
    parser.add_argument('--flops-input-size', nargs='+', metavar='SIZE',
                        help='H W of the complexity count (default: the '
                        "test pipeline's Resize)")
    parser.add_argument('--dry-run', action='store_true',
                        help='print the commands of every run, run nothing')
    parser.add_argument('--report-only', action='store_true',
                        help='write the leaderboard from the store only')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of user errors')
    return parser.parse_args(argv)


def build_suite(args) -> Suite:
    overrides = dict(seeds=args.seeds, max_iters=args.max_iters,
                     max_epochs=args.max_epochs,
                     dataset=dataset_from_args(args),
                     cfg_options=args.cfg_options)
    if (args.suite is None) == (args.configs is None):
        raise SuiteError('give a suite file or --configs (not both)')
    if args.suite is not None:
        return load_suite(args.suite, **overrides)
    models = models_from_configs(config_names(args.configs), args.baseline)
    return Suite(models, **{k: v for k, v in overrides.items()
                            if v is not None})


def _shell(command) -> str:
    env = ' '.join(f'{k}={shlex.quote(v)}' for k, v in command.env.items())
    return (env + ' ' if env else '') + shlex.join(command.argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    store_path = osp.join(args.work_dir, 'results.sqlite')
    if args.report_only:
        if not osp.isfile(store_path):
            raise SuiteError(f'--report-only: no results store {store_path}')
    else:
        launcher = Launcher(args.launcher, TOOLS_DIR, gpus=args.gpus,
                            gpus_per_node=args.gpus_per_node,
                            cpus_per_task=args.cpus_per_task,
                            partition=args.partition,
                            srun_args=args.srun_args, port=args.port)
        suite = build_suite(args)
        runner = BenchmarkRunner(
            suite, args.work_dir, launcher,
            input_size=parse_input_size(args.flops_input_size))
        if args.dry_run:
            for index, (model, seed) in enumerate(suite.runs()):
                run = runner.prepare(model, seed, index)
                print(f'# {model.name} seed {seed}: {run["config_path"]}')
                for command in run['commands'].values():
                    print(_shell(command))
            return 0
        try:
            with SuiteProgress() as progress:
                runner.on_progress = progress
                runner.run()
        except SuiteInterrupted as stop:
            print(f'{stop} received: stopped; the same command resumes the '
                  'suite', file=sys.stderr)
            return 130
    with ResultStore(store_path) as store:
        runs = store.runs()
    files = write_leaderboard(runs, args.work_dir)
    done = sum(r['status'] == 'done' for r in runs)
    print(f'{done} of {len(runs)} runs done; leaderboard: '
          f'{files["markdown"]}, {files["csv"]}' +
          ''.join(f', {files[k]}' for k in ('ap_vs_gflops', 'ap_vs_latency')
                  if k in files))
    return 0 if done == len(runs) else 1


if __name__ == '__main__':
    sys.exit(run_main(main))
