"""Speed and memory of mmattn models, each against plain ResNet in one run.

Forward-only and forward+backward throughput, median latency and peak
memory of a list of models (backbone names or dicts built as ImageNet
classifiers or as detection backbones, ``detector:backbone`` names, detector
configs), on CPU or GPU. Models are interleaved across repeats so that load
on a shared machine hits all of them alike; every model's time is also given
relative to the plain ResNet of the same depth measured in the same run (see
``mmattn/analysis/benchmark.py``).

Examples::

    # ImageNet classifiers, 224x224, batch 8, CPU
    python tools/analysis/benchmark.py r50 se-r50 epsanet50-s ema-r50
    # detection backbones (4 stages out, stage 1 frozen), 800x1216, batch 1
    python tools/analysis/benchmark.py r50 epsanet50-s --kind backbone
    # whole detectors on GPU
    python tools/analysis/benchmark.py faster-rcnn:r50 faster-rcnn:ema-r50 \
        --device cuda --json out.json
"""
import argparse
import json
import sys

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
        '--modes', nargs='+', choices=('forward', 'train'),
        default=['forward', 'train'],
        help='forward (no grad) and/or train (forward + backward)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed iterations per model and mode')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed iterations per model and mode')
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s)')
    parser.add_argument(
        '--skip-slower-than', type=float, metavar='SECONDS',
        help='stop timing a model in a mode whose first iteration takes '
        'longer')
    parser.add_argument('--json', help='write all results as JSON here')
    parser.add_argument('--out', help='also write the markdown table here')
    args = parser.parse_args(argv)
    args.input_size = parse_input_size(args.input_size)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmattn.analysis.benchmark import (BenchmarkConfig, markdown,
                                           run_benchmark)
    from mmattn.analysis.models import resolve
    specs = [resolve(name, kind=args.kind) for name in args.models]
    config = BenchmarkConfig(
        device=args.device, input_size=args.input_size,
        batch_size=args.batch_size, modes=tuple(args.modes),
        warmup=args.warmup, repeats=args.repeats, threads=args.threads,
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
    failed = [m.name for m in result.measurements if m.error]
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
