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
import logging
import sys

from mmattn.cli import (USER_ERRORS, converter_parser,
                        load_authors_state_dict, run_main, save_converted)
from mmattn.convert.dcanet import ATTENTIONS, convert_dcanet_state_dict
from mmattn.models.connect.dca import CHANNEL_MATCHINGS


def main(argv=None) -> None:
    parser = converter_parser(__doc__)
    parser.add_argument('--attention', required=True, choices=ATTENTIONS,
                        help="the checkpoint's attention (DCAResNet's "
                        'attention type)')
    parser.add_argument(
        '--matching', choices=CHANNEL_MATCHINGS, default=None,
        help="DCAResNet's channel_matching (default: the authors' layout)")
    parser.add_argument(
        '--allow-inexact', action='store_true',
        help="DCA-CBAM: convert the matching layers, which mmattn computes "
        'differently, anyway (fine-tune afterwards)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    converted = convert_dcanet_state_dict(
        load_authors_state_dict(args.src, args),
        args.attention,
        args.matching,
        classifier=args.classifier,
        with_prefix=args.prefix,
        allow_inexact=args.allow_inexact)
    save_converted(converted, args.dst)


if __name__ == '__main__':
    # A checkpoint of another layout is the user's error too.
    sys.exit(run_main(main, user_errors=USER_ERRORS + (ValueError, )))
