"""Convert an mmdet GCNet checkpoint (ResNet + mmcv ContextBlock plugins,
mmdet's configs/gcnet) to mmattn's GC keys.

The weights of each ContextBlock move from ``layerX.Y.context_block*`` to
``layerX.Y.gc*``; every other key is kept. The result loads strictly into
the same model with ``plugins=[dict(cfg=dict(type='GC', ratio=...), ...)]``
(mmdet's ResNet or mmattn's AttnResNet), e.g. as a detector's ``load_from``
(see ``mmattn/convert/gcnet.py``).

Example::

    python tools/model_converters/mmdet_gcnet_to_mmattn.py \\
        mask_rcnn_r50_fpn_r4_gcb_c3-c5_1x_coco.pth mask-rcnn_r50-gc.pth
"""
import sys

from mmattn.cli import (USER_ERRORS, converter_parser,
                        load_authors_state_dict, run_main, save_converted)
from mmattn.convert import convert_mmdet_gcnet_state_dict


def main(argv=None) -> None:
    args = converter_parser(__doc__, backbone_layout=False).parse_args(argv)
    save_converted(
        convert_mmdet_gcnet_state_dict(load_authors_state_dict(args.src,
                                                               args)),
        args.dst)


if __name__ == '__main__':
    # A checkpoint of another layout is the user's error too.
    sys.exit(run_main(main, user_errors=USER_ERRORS + (ValueError, )))
