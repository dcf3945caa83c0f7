"""Convert a checkpoint of the EPSANet authors' code
(github.com/murufeng/EPSANet) to mmattn's EPSANet keys.

Examples::

    # backbone weights for init_cfg=dict(type='Pretrained', checkpoint=DST)
    python tools/model_converters/epsanet_to_mmattn.py epsanet50.pth.tar DST
    # a whole mmpretrain ImageClassifier (backbone + head.fc)
    python tools/model_converters/epsanet_to_mmattn.py SRC DST --classifier
"""
import sys

from mmattn.cli import (USER_ERRORS, converter_parser,
                        load_authors_state_dict, run_main, save_converted)
from mmattn.convert import convert_epsanet_state_dict


def main(argv=None) -> None:
    args = converter_parser(__doc__).parse_args(argv)
    converted = convert_epsanet_state_dict(
        load_authors_state_dict(args.src, args), classifier=args.classifier,
        with_prefix=args.prefix)
    save_converted(converted, args.dst)


if __name__ == '__main__':
    # A checkpoint of another layout is the user's error too.
    sys.exit(run_main(main, user_errors=USER_ERRORS + (ValueError, )))
