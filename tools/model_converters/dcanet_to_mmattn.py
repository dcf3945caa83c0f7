"""Convert a DCA-ResNet checkpoint of the DCANet authors' code
(github.com/ma-xu/DCANet) to mmattn's DCAResNet keys.

The result loads into ``DCAResNet(depth, attention=dict(type=ATTENTION),
channel_matching=MATCHING)``; MATCHING defaults to the authors' ('2fc' for
GC, '1fc' otherwise). Unused layers of the authors' first block are dropped
and listed.

Examples::

    # backbone weights for init_cfg=dict(type='Pretrained', checkpoint=DST)
    python tools/model_converters/dcanet_to_mmattn.py SRC DST --attention SE
    # a whole mmpretrain ImageClassifier (backbone + head.fc)
    python tools/model_converters/dcanet_to_mmattn.py SRC DST \\
        --attention GC --classifier
"""
import argparse
import logging

import torch

from mmattn.convert.dcanet import ATTENTIONS, convert_dcanet_state_dict
from mmattn.models.connect.dca import CHANNEL_MATCHINGS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument('--attention', required=True, choices=ATTENTIONS,
                        help="the checkpoint's attention (DCAResNet's "
                        'attention type)')
    parser.add_argument(
        '--matching', choices=CHANNEL_MATCHINGS, default=None,
        help="DCAResNet's channel_matching (default: the authors' layout)")
    parser.add_argument(
        '--classifier', action='store_true',
        help="keep fc as mmpretrain's head.fc, backbone under 'backbone.' "
        '(default: drop fc, for detection)')
    parser.add_argument(
        '--prefix', action='store_true',
        help="put the backbone keys under 'backbone.' (a detector's "
        'load_from)')
    parser.add_argument(
        '--allow-inexact', action='store_true',
        help="DCA-CBAM: convert the matching layers, which mmattn computes "
        'differently, anyway (fine-tune afterwards)')
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    # Their training script saves {'epoch', 'arch', 'state_dict', ...}.
    state_dict = checkpoint.get('state_dict', checkpoint)
    converted = convert_dcanet_state_dict(
        state_dict,
        args.attention,
        args.matching,
        classifier=args.classifier,
        with_prefix=args.prefix,
        allow_inexact=args.allow_inexact)
    torch.save(dict(state_dict=converted), args.dst)
    print(f'{len(converted)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
