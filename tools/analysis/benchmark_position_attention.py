"""Peak memory and time of mmattn's position attention on CPU.

Every measurement runs in a fresh subprocess: torch's allocations are
invisible to tracemalloc, so peak memory is the growth of the process's
peak RSS (``resource.getrusage(...).ru_maxrss``) during one forward pass
(inference, ``torch.no_grad``), after the module and input exist and a small
warm-up forward has loaded the kernels.

Attention paths compared (the module code is the same, only the attention
kernel differs):

* ``chunked``: the modules' default, SDPA with the queries in chunks of
  ``--chunk-size`` positions (q/k padded to v's width, see
  ``mmattn.models.attention._pairwise.pairwise_attention``);
* ``sdpa-single``: the same padded SDPA in one call (``chunk_size=None``);
* ``sdpa-unpadded``: one plain SDPA call on the unpadded q, k, v (CPU SDPA
  then falls back to its math path, the measurement in OPENMMLAB_NOTES);
* ``full-matrix``: the reference softmax(QKᵀ)V with the whole N×N matrix,
  as the DANet code computes it.

Example::

    python tools/analysis/benchmark_position_attention.py
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import List, Optional

PATHS = ('chunked', 'sdpa-single', 'sdpa-unpadded', 'full-matrix')
#: Paths that hold a full (batch·maps, N, N) float32 matrix.
MATRIX_PATHS = ('sdpa-unpadded', 'full-matrix')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--pam-sizes', nargs='*', default=['50x84', '100x168'],
        help='HxW sizes for DAPositionAttention (default: 50x84 100x168)')
    parser.add_argument(
        '--pam-paths', nargs='+', default=list(PATHS), choices=PATHS,
        help='attention paths for DAPositionAttention (default: all)')
    parser.add_argument(
        '--dmsa-size', default='200x336',
        help='HxW for DMSA, stage 1 of an 800x1333 image (default: 200x336)')
    parser.add_argument(
        '--dmsa-paths', nargs='*', default=['chunked', 'full-matrix'],
        choices=PATHS,
        help='attention paths for DMSA (default: chunked full-matrix)')
    parser.add_argument('--channels', type=int, default=256,
                        help='channels C (default: 256)')
    parser.add_argument('--chunk-size', type=int, default=2048,
                        help='queries per SDPA call (default: 2048)')
    parser.add_argument(
        '--max-matrix-gb', type=float, default=15.0,
        help='skip a full-matrix path whose N×N matrices would exceed this '
        '(default: 15)')
    parser.add_argument('--measure', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _size(text: str) -> tuple:
    height, width = (int(v) for v in text.lower().split('x'))
    return height, width


def _attention_maps(module: str, channels: int) -> int:
    """How many N×N maps one forward holds at once (batch 1)."""
    if module == 'DMSA':
        from mmattn.models.attention import DMSA
        dmsa = DMSA(channels, channels)
        return dmsa.scales * dmsa.dual_attention.groups
    return 1


def _kernel(path: str):
    import torch.nn.functional as F

    from mmattn.models.attention._pairwise import _reference_attention

    if path == 'full-matrix':
        return lambda q, k, v, scale, chunk_size: _reference_attention(
            q, k, v, scale)
    return lambda q, k, v, scale, chunk_size: F.scaled_dot_product_attention(
        q.unsqueeze(1).contiguous(), k.unsqueeze(1).contiguous(),
        v.unsqueeze(1).contiguous(), scale=scale).squeeze(1)


def measure(spec: dict) -> dict:
    """One measurement; runs inside the fresh subprocess."""
    import torch

    from mmattn.models.attention import DMSA, DAPositionAttention
    from mmattn.models.attention import da_position_attention

    chunk_size = None if spec['path'] == 'sdpa-single' else spec['chunk']
    if spec['path'] in MATRIX_PATHS:
        da_position_attention.pairwise_attention = _kernel(spec['path'])
    channels = spec['channels']
    if spec['module'] == 'DMSA':
        module = DMSA(channels, channels, chunk_size=chunk_size)
    else:
        module = DAPositionAttention(channels, chunk_size=chunk_size)
    module.init_weights()
    module.eval()
    x = torch.randn(1, channels, spec['height'], spec['width'])
    with torch.no_grad():
        module(torch.randn(1, channels, 8, 8))  # load kernels, thread pool
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        module(x)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return dict(seconds=seconds, peak_gb=peak / 2**20,
                delta_gb=(peak - before) / 2**20)  # ru_maxrss is in KiB


def run_in_subprocess(spec: dict) -> dict:
    # The checkout's mmattn, whether or not (or however) it is installed.
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        filter(None, [repo, env.get('PYTHONPATH')]))
    result = subprocess.run(
        [sys.executable, __file__, '--measure', json.dumps(spec)],
        capture_output=True, text=True, env=env)
    if result.returncode:
        return dict(error=(result.stderr.strip().splitlines() or ['?'])[-1])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return

    import torch
    jobs = [('DAPositionAttention', size, path) for size in args.pam_sizes
            for path in args.pam_paths]
    jobs += [('DMSA', args.dmsa_size, path) for path in args.dmsa_paths]
    print(f'CPU, {torch.get_num_threads()} threads, torch {torch.__version__}'
          f', batch 1, float32, one forward under no_grad; C={args.channels}'
          f', chunk_size={args.chunk_size}')
    header = (f'{"module":<20} {"H×W":>8} {"N":>7} {"path":<14} '
              f'{"time s":>8} {"peak RSS GB":>11} {"Δ peak GB":>9}')
    print(header)
    print('-' * len(header))
    for module, size, path in jobs:
        height, width = _size(size)
        positions = height * width
        row = f'{module:<20} {size:>8} {positions:>7} {path:<14} '
        matrix_gb = (_attention_maps(module, args.channels) * positions**2 *
                     4 / 1e9)
        if path in MATRIX_PATHS and matrix_gb > args.max_matrix_gb:
            print(row + f'skipped: its N×N matrices alone need '
                  f'{matrix_gb:,.0f} GB (> {args.max_matrix_gb:g} GB)')
            continue
        spec = dict(module=module, height=height, width=width, path=path,
                    channels=args.channels, chunk=args.chunk_size)
        result = run_in_subprocess(spec)
        if 'error' in result:
            print(row + f'failed: {result["error"]}')
        else:
            print(row + f'{result["seconds"]:>8.2f} '
                  f'{result["peak_gb"]:>11.2f} {result["delta_gb"]:>9.2f}')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
