r"""The attention modules' own maps of an mmattn model, as PNGs.

Each module with pictures declares them (an ``attention_maps`` method,
see ``mmattn/analysis/attention_maps.py``); the tool calls it on the
inputs the module received, nothing in the model is changed. Writes, for
what the model has:

* ``<prefix>_spatial.png``: spatial gates (CBAM spatial, TripletAttention's
  H-W gate, CoordAttention's gates) and EMA's cross-spatial weights, over the
  input and at their own resolution;
* ``<prefix>_channel.png``: channel scales vs channel index per module (SE,
  ECA, SRM, CBAM's channel gate, EMCA's multi-scale weights: the EMCA
  paper's Fig. 6; the connected gates inside DCA);
* ``<prefix>_dca.png``: DCA's share of the previous attention per
  connection (the DCA paper's Fig. 5).

Examples::

    python tools/visualization/attention_maps.py cbam-r50 --img demo.jpg
    python tools/visualization/attention_maps.py emca-se-r50 \
        --checkpoint emca.pth --out-dir work_dirs/attention
    python tools/visualization/attention_maps.py dca-se-r50
"""
import argparse
import json
import os.path as osp
import sys

from mmattn.cli import (ArgumentParser, add_picture_arguments, load_weights,
                        model_from_spec, parse_input_size, run_main)


def parse_args(argv=None):
    parser = ArgumentParser(
        description=__doc__.split('\n')[0], epilog=__doc__.split('\n', 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_picture_arguments(parser, 'H W / HxW / S (default 224)')
    parser.add_argument('--max-maps', type=int, default=8,
                        help='spatial maps / channel panels shown at most '
                        '(evenly chosen, the last one always)')
    parser.add_argument('--out-dir', default='work_dirs/attention_maps')
    parser.add_argument('--prefix', help='file name prefix (default: the '
                        'model name)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import re

    from mmattn.analysis.attention_maps import (capture_attention,
                                                dca_connections)
    from mmattn.analysis.gradcam import load_image, preprocess
    from mmattn.analysis.models import model_forward
    from mmattn.analysis.plotting import (plot_channel_scales,
                                          plot_dca_ratios, plot_spatial_maps)
    spec, model = model_from_spec(args.model, args.kind, args.device)
    size = parse_input_size(args.input_size) or (224, 224)
    if args.checkpoint:
        load_weights(model, args.checkpoint, args, map_location=args.device,
                     strict=False)
    image = load_image(args.img, size)
    inputs = preprocess(image, args.device)
    records = capture_attention(model,
                                lambda: model_forward(spec, model, inputs))
    prefix = args.prefix or re.sub(r'[^A-Za-z0-9_.-]+', '_', spec.name)
    title = f'{spec.name}, {size[0]}x{size[1]}' + (
        '' if args.checkpoint else ' (untrained weights)')
    written = []
    spatial = [r for r in records if r.kind == 'spatial']
    channel = [r for r in records if r.kind == 'channel']
    dca = [r for r in records if r.kind == 'dca']
    if spatial:
        written.append(plot_spatial_maps(
            osp.join(args.out_dir, f'{prefix}_spatial.png'), image, spatial,
            args.max_maps, title))
    if channel:
        written.append(plot_channel_scales(
            osp.join(args.out_dir, f'{prefix}_channel.png'), channel,
            args.max_maps, title))
    if dca:
        written.append(plot_dca_ratios(
            osp.join(args.out_dir, f'{prefix}_dca.png'), dca, title))
        path = osp.join(args.out_dir, f'{prefix}_dca.json')
        with open(path, 'w') as f:
            json.dump(dca_connections(dca), f, indent=2)
        written.append(path)
    if not written:
        print(f'{spec.name}: no module with pictures (a module declaring '
              'attention_maps: CBAM, TripletAttention, CoordAttention, EMA, '
              'SE, ECA, SRM, EMCA, DCA)')
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
