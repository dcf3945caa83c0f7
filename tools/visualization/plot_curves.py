r"""Plot training curves from mmengine's vis_data/scalars.json to a PNG.

Examples::

    python tools/visualization/plot_curves.py \
        work_dirs/<config>/<timestamp>/vis_data/scalars.json
    # two runs, chosen keys
    python tools/visualization/plot_curves.py a/scalars.json b/scalars.json \
        --labels ResNet EMA --keys loss coco/bbox_mAP --out curves.png
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], epilog=__doc__.split('\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('scalars', nargs='+', help='scalars.json files')
    parser.add_argument('--keys', nargs='+', help='scalars to plot (default: '
                        'loss, lr and the headline metrics, e.g. '
                        'coco/bbox_mAP)')
    parser.add_argument('--labels', nargs='+', help='legend per file')
    parser.add_argument('--x', default='step',
                        help='x key (default: step; also iter, epoch)')
    parser.add_argument('--out', default='curves.png')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmattn.analysis.curves import plot_scalars
    out, keys = plot_scalars(args.scalars, args.out, args.keys, args.labels,
                             args.x)
    print(f'{out}: {", ".join(keys)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
