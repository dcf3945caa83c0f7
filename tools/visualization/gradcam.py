r"""Grad-CAM heatmap of an mmattn classifier, detector or detection backbone.

Grad-CAM is computed by ``mmattn/analysis/gradcam.py`` (forward and tensor
hooks on the chosen layer; no grad-cam package). The PNG is the heatmap over
the input image, at the input's size.

Examples::

    python tools/visualization/gradcam.py cbam-r50 --img demo.jpg \
        --out work_dirs/gradcam/cbam-r50.png
    # a detector's backbone, stage 3 output, explaining the RPN/head score
    python tools/visualization/gradcam.py faster-rcnn:epsanet50-s \
        --output-index 2 --out fr-epsanet.png
    # any layer that runs as a module
    python tools/visualization/gradcam.py se-r50 --layer backbone.layer3.5.se
"""
import argparse
import os.path as osp
import sys

from mmattn.cli import (ArgumentParser, add_picture_arguments, load_weights,
                        model_from_spec, parse_input_size, run_main)


def parse_args(argv=None):
    parser = ArgumentParser(
        description=__doc__.split('\n')[0], epilog=__doc__.split('\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_picture_arguments(parser, 'H W / HxW / S (default 224; detectors 512)')
    parser.add_argument('--layer', help='dotted module path (default: the '
                        'backbone, at its last output)')
    parser.add_argument('--output-index', type=int,
                        help='element of a tuple output (default: -1)')
    parser.add_argument('--target-class', type=int,
                        help='classifiers: class to explain (default: the '
                        'predicted one)')
    parser.add_argument('--alpha', type=float, default=0.5,
                        help='heatmap opacity')
    parser.add_argument('--out', default='work_dirs/gradcam/gradcam.png')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np

    from mmattn.analysis.gradcam import gradcam, load_image
    from mmattn.analysis.plotting import save_overlay
    spec, model = model_from_spec(args.model, args.kind, args.device)
    size = parse_input_size(args.input_size) or (
        (512, 512) if spec.kind != 'classifier' else (224, 224))
    if args.checkpoint:
        load_weights(model, args.checkpoint, args, map_location=args.device,
                     strict=False)
    image = load_image(args.img, size)
    cam = gradcam(spec, model, image, layer=args.layer,
                  output_index=args.output_index,
                  target_class=args.target_class)
    save_overlay(args.out, image, cam, args.alpha)
    np.save(osp.splitext(args.out)[0] + '.npy', cam)
    print(f'{args.out}: Grad-CAM of {spec.name} ({spec.kind}) on '
          f'{args.layer or "the backbone"}'
          f'{"" if args.output_index is None else f"[{args.output_index}]"}'
          f', {size[0]}x{size[1]}, heatmap range '
          f'[{cam.min():.2f}, {cam.max():.2f}]')
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
