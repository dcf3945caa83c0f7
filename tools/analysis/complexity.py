"""Parameters, multiply-accumulates and elementwise work of mmattn models.

MACs of convolutions, linear layers and matrix products (one MAC = one FLOP,
the papers' convention) are reported apart from the elementwise, norm,
softmax and pooling work that mmengine's counter ignores; see
``mmattn/analysis/complexity.py`` for what each number counts.

Examples::

    # ImageNet classifiers (backbone + GAP + 1000-class head) at 224x224
    python tools/analysis/complexity.py r50 se-r50 epsanet50-s --mmengine
    # a detector config, or a named detector, at mmdet get_flops' 1280x800
    python tools/analysis/complexity.py \
        configs/se/faster-rcnn_r50-se-c3-c5_fpn_1x_coco.py
    python tools/analysis/complexity.py faster-rcnn:dmsanet50
    # detection backbones (4 stages out) at 800x1216
    python tools/analysis/complexity.py r50 ema-r50 --kind backbone
    # every row of the papers' complexity tables mmattn implements
    python tools/analysis/complexity.py --paper
"""
import argparse
import sys

from mmattn.cli import parse_input_size

DEFAULT_SIZES = {
    'classifier': (224, 224),
    'backbone': (800, 1216),
    'detector': (1280, 800),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        epilog=__doc__.split('\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        'models', nargs='*',
        help='model specs: names (r50, se-r50, ema(factor=16)-r50, '
        'epsanet50-s, dmsanet50, dca-se-r50, emca-eca-r50 ...; see '
        'mmattn/analysis/models.py), detector:backbone '
        '(faster-rcnn:r50, mask-rcnn:..., retinanet:...), a dict(...) '
        'backbone config, or a config file')
    parser.add_argument(
        '--kind', choices=('classifier', 'backbone'), default='classifier',
        help='how a backbone spec is built: ImageNet classifier (default) or '
        'detection backbone')
    parser.add_argument(
        '--input-size', nargs='+', metavar='SIZE',
        help='H W, HxW or S (default: 224 classifier, 800x1216 backbone, '
        '1280x800 detector)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--num-classes', type=int, default=1000)
    parser.add_argument(
        '--device', default='meta',
        help="'meta' (default: shapes only, nothing computed) or a real "
        'device for models whose forward needs values')
    parser.add_argument('--num-rois', type=int, default=1000,
                        help='RoIs through a box head (default: 1000)')
    parser.add_argument('--num-mask-rois', type=int, default=100,
                        help='RoIs through a mask head (default: 100)')
    parser.add_argument(
        '--mmengine', action='store_true',
        help="also run mmengine's get_model_complexity_info (classifiers "
        'and backbones; a real CPU forward pass)')
    parser.add_argument(
        '--paper', action='store_true',
        help="markdown table of every implemented row of the papers' "
        'complexity tables, paper vs ours')
    parser.add_argument(
        '--only', help='with --paper: rows whose source, label or model '
        'match this regular expression')
    parser.add_argument('--out', help='also write the report/table here')
    parser.add_argument('--json', help='write the counts as JSON here')
    args = parser.parse_args(argv)
    if not args.paper and not args.models:
        parser.error('name at least one model, or use --paper')
    args.input_size = parse_input_size(args.input_size)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmattn.analysis.complexity import (format_report, measure,
                                            paper_table, to_json)
    from mmattn.analysis.models import resolve
    if args.paper:
        text, results = paper_table(args.only, device=args.device)
    else:
        results = []
        for name in args.models:
            spec = resolve(name, kind=args.kind)
            spec.num_classes = args.num_classes
            size = args.input_size or DEFAULT_SIZES[spec.kind]
            results.append(
                measure(spec, input_size=size, batch_size=args.batch_size,
                        device=args.device, num_rois=args.num_rois,
                        num_mask_rois=args.num_mask_rois,
                        with_mmengine=args.mmengine
                        and spec.kind != 'detector'))
        text = '\n\n'.join(format_report(r) for r in results)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    if args.json:
        with open(args.json, 'w') as f:
            f.write(to_json(results) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
