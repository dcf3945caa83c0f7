"""Export an mmattn backbone, or a detector's backbone + neck + dense head,
to ONNX (opset 17, dynamic batch/height/width) and check it with
onnxruntime.

Examples::

    # a backbone by type name, its arguments as key=value
    python tools/deployment/export_onnx.py backbone EPSANet \\
        --cfg-options depth=50 variant=small --out epsanet50.onnx
    # a detector config: extract_feat + raw head outputs (no NMS)
    python tools/deployment/export_onnx.py detector CONFIG \\
        --checkpoint CKPT --out detector.onnx \\
        --verify 1,3,800,1344 2,3,608,800

Uses the TorchScript-based exporter (``torch.onnx.export(dynamo=False)``);
see ``mmattn/deployment/onnx.py`` for what is and is not exported.
"""
import argparse
import sys
from typing import List, Optional

from mmattn.cli import (ArgumentParser, ConfigError, ConfigOptionsAction,
                        add_safety_arguments, load_weights, read_config,
                        run_main, unsafe_load_allowed)
from mmattn.deployment import (DetectorFeatures, build_backbone,
                               build_detector, export_onnx, verify_onnx)
from mmattn.engine import allow_unsafe_checkpoint_load
from mmattn.registry import check_config


def _shape(text: str) -> tuple:
    return tuple(int(v) for v in text.split(','))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('kind', choices=['backbone', 'detector'])
    parser.add_argument(
        'model', help='backbone: a registered backbone type (e.g. EPSANet); '
        'detector: a config file')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--checkpoint', help='weights to export')
    parser.add_argument(
        '--cfg-options', nargs='+', action=ConfigOptionsAction, default={},
        help='backbone: its arguments (depth=50 variant=small); detector: '
        'config overrides')
    parser.add_argument(
        '--shape', type=_shape, default=(1, 3, 224, 224),
        help='example input B,C,H,W traced by the exporter '
        '(default 1,3,224,224)')
    parser.add_argument(
        '--verify', type=_shape, nargs='*', default=None,
        help='input shapes B,C,H,W at which onnxruntime must match PyTorch '
        '(default: the example shape)')
    parser.add_argument(
        '--rtol', type=float, default=1e-4,
        help='largest accepted |onnx - torch| / max|torch| (default 1e-4)')
    add_safety_arguments(parser)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.kind == 'backbone':
        backbone = dict(type=args.model, **args.cfg_options)
        check_config(dict(default_scope='mmattn', model=backbone))
        try:
            model = build_backbone(backbone)
        except (ValueError, TypeError) as error:
            raise ConfigError(f'backbone {backbone}: {error}') from error
        if args.checkpoint:
            # A detector's or classifier's checkpoint holds the backbone
            # under 'backbone.'.
            load_weights(model, args.checkpoint, args, map_location='cpu',
                         strict=True,
                         revise_keys=[(r'^module\.', ''),
                                      (r'^backbone\.', '')])
    else:
        cfg = read_config(args.model)
        cfg.merge_from_dict(args.cfg_options)
        check_config(cfg)
        with allow_unsafe_checkpoint_load(unsafe_load_allowed(args, cfg)):
            model = DetectorFeatures(build_detector(cfg, args.checkpoint))
    info = export_onnx(model, args.out, args.shape)
    print(f'{args.out}: input {info["input_name"]} '
          f'(example {args.shape}), outputs {", ".join(info["output_names"])}')
    shapes = args.verify or [args.shape]
    errors = verify_onnx(model, args.out, shapes)
    for shape, error in zip(shapes, errors):
        print(f'onnxruntime vs PyTorch at {shape}: relative error '
              f'{error:.2e}')
    if max(errors) > args.rtol:
        print(f'relative error above --rtol {args.rtol}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
