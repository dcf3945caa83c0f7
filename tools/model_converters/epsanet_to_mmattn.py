"""Convert a checkpoint of the EPSANet authors' code
(github.com/murufeng/EPSANet) to mmattn's EPSANet keys.

Examples::

    # backbone weights for init_cfg=dict(type='Pretrained', checkpoint=DST)
    python tools/model_converters/epsanet_to_mmattn.py epsanet50.pth.tar DST
    # a whole mmpretrain ImageClassifier (backbone + head.fc)
    python tools/model_converters/epsanet_to_mmattn.py SRC DST --classifier
"""
import argparse

import torch

from mmattn.convert import convert_epsanet_state_dict


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('src', help="the authors' checkpoint")
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--classifier', action='store_true',
        help="keep fc as mmpretrain's head.fc, backbone under 'backbone.' "
        '(default: drop fc, for detection)')
    parser.add_argument(
        '--prefix', action='store_true',
        help="put the backbone keys under 'backbone.' (a detector's "
        'load_from)')
    args = parser.parse_args()

    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    # Their training script saves {'epoch', 'arch', 'state_dict', ...}.
    state_dict = checkpoint.get('state_dict', checkpoint)
    converted = convert_epsanet_state_dict(
        state_dict, classifier=args.classifier, with_prefix=args.prefix)
    torch.save(dict(state_dict=converted), args.dst)
    print(f'{len(converted)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()
