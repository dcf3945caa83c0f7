r"""Speed and peak memory of mmattn models against plain ResNet in one run.

Forward-only (eval, no grad) and forward+backward time per iteration,
throughput and peak memory of a list of models (backbone names or dicts
built as ImageNet classifiers or as detection backbones,
``detector:backbone`` names, detector configs), on CPU or GPU. Models are
timed with torch.utils.benchmark in interleaved rounds whose order rotates,
and every model's time is given relative to the plain ResNet of the same
depth measured in the same rounds (see ``mmattn/analysis/benchmark.py``).
The conditions (device, threads, torch, rounds, load average at the start
and the end, date) are printed above the markdown table.

Examples::

    # ImageNet classifiers, 224x224, batch 8, CPU, 7 rounds
    python tools/analysis/benchmark.py r50 se-r50 epsanet50-s ema-r50
    # detection backbones (4 stages out, stage 1 frozen), 800x1216, batch 1
    python tools/analysis/benchmark.py r50 epsanet50-s --kind backbone
    # both memory formats, eager and torch.compile'd
    python tools/analysis/benchmark.py r50 ema-r50 --channels-last --compile
    # GPU (not run by this project: no GPU here): fp32 and bf16 autocast
    python tools/analysis/benchmark.py r50 ema-r50 --device cuda \
        --precision fp32 bf16 --json out.json
"""
import argparse
import json
import sys

from mmattn.analysis.benchmark import (MEMORY_FORMATS, MODES, PRECISIONS,
                                       BenchmarkConfig, markdown,
                                       run_benchmark)
from mmattn.analysis.models import resolve
from mmattn.cli import parse_input_size


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog=__doc__.split('\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('models', nargs='+', help='model specs (see '
                        'tools/analysis/complexity.py --help)')
    parser.add_argument(
        '--kind', choices=('classifier', 'backbone'), default='classifier',
        help='build backbone specs as ImageNet classifiers (default) or as '
        'detection backbones')
    parser.add_argument(
        '--input-size', nargs='+', metavar='SIZE',
        help='H W / HxW / S (default: 224 classifiers, 800x1216 '
        'backbones and detectors)')
    parser.add_argument(
        '--batch-size', type=int,
        help='default: 8 classifiers, 1 backbones and detectors')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument(
        '--modes', nargs='+', choices=MODES, default=list(MODES),
        help='forward (eval, no grad) and/or train (forward + backward)')
    parser.add_argument('--rounds', '--repeats', type=int, default=7,
                        help='timed rounds, models interleaved (default: 7)')
    parser.add_argument(
        '--warmup', type=int, default=1,
        help='untimed iterations per model and mode before the rounds')
    parser.add_argument(
        '--min-run-time', type=float, default=0.2, metavar='SECONDS',
        help='timed calls per model and round last at least this long '
        '(default: 0.2; at least one call)')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s)')
    parser.add_argument(
        '--memory-format', nargs='+', choices=tuple(MEMORY_FORMATS),
        default=['contiguous'], help='run each model in these formats')
    parser.add_argument(
        '--channels-last', action='store_true',
        help='shorthand for --memory-format contiguous channels_last')
    parser.add_argument(
        '--precision', nargs='+', choices=PRECISIONS, default=['fp32'],
        help='fp32 and/or bf16 (torch.autocast)')
    parser.add_argument(
        '--compile', action='store_true',
        help='also run each model with its backbone torch.compile\'d')
    parser.add_argument('--compile-backend', default='inductor',
                        help="torch.compile's backend (default: inductor)")
    parser.add_argument(
        '--memory', action=argparse.BooleanOptionalAction, default=True,
        help='measure peak memory (on CPU one subprocess per model and '
        'mode; default: yes)')
    parser.add_argument(
        '--skip-slower-than', type=float, metavar='SECONDS',
        help='stop timing a model in a mode whose warm-up iteration takes '
        'longer')
    parser.add_argument('--json', help='write all results as JSON here')
    parser.add_argument('--out', help='also write the markdown table here')
    args = parser.parse_args(argv)
    args.input_size = parse_input_size(args.input_size)
    if args.channels_last:
        args.memory_format = list(MEMORY_FORMATS)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    specs = [resolve(name, kind=args.kind) for name in args.models]
    config = BenchmarkConfig(
        device=args.device, input_size=args.input_size,
        batch_size=args.batch_size, modes=tuple(args.modes),
        rounds=args.rounds, warmup=args.warmup,
        min_run_time=args.min_run_time, threads=args.threads,
        memory_formats=tuple(args.memory_format),
        precisions=tuple(args.precision), compile=args.compile,
        compile_backend=args.compile_backend, memory=args.memory,
        skip_slower_than=args.skip_slower_than)
    result = run_benchmark(specs, config)
    table = markdown(result)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result.to_dict(), f, indent=2)
    failed = [row.name for row in result.rows if row.error]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
