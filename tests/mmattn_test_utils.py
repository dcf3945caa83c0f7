"""Helpers shared by test modules (fixtures live in conftest.py)."""
import os.path as osp
import socket

from mmattn.demo import SHAPE_CLASSES

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def tiny_detection_options(data_root: str, work_dir: str) -> dict:
    """--cfg-options turning an mmdet COCO config into one short CPU epoch
    (3 iterations) on the shapes dataset at 96x96, without downloading
    pretrained weights."""
    data_root = data_root.rstrip('/') + '/'
    options = {
        'work_dir': work_dir,
        'model.backbone.init_cfg': None,
        'train_cfg.max_epochs': 1,
        'default_hooks.logger.interval': 1,
        'val_evaluator.ann_file': data_root + 'annotations/val.json',
        'test_evaluator.ann_file': data_root + 'annotations/val.json',
    }
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        dataset = f'{loader}.dataset'
        options.update({
            f'{loader}.batch_size': 2,
            f'{loader}.num_workers': 0,
            f'{loader}.persistent_workers': False,
            f'{dataset}.data_root': data_root,
            f'{dataset}.ann_file': f'annotations/{split}.json',
            f'{dataset}.data_prefix.img': f'{split}/',
            f'{dataset}.metainfo.classes': SHAPE_CLASSES,
        })
    # Index of `Resize` in mmdet's COCO train / test pipelines.
    options['train_dataloader.dataset.pipeline.2.scale'] = (96, 96)
    for loader in ('val_dataloader', 'test_dataloader'):
        options[f'{loader}.dataset.pipeline.1.scale'] = (96, 96)
    return options


# For mmdet's Faster R-CNN: the shapes classes, and fewer proposals and
# sampled RoIs than the COCO settings so that it trains in seconds on CPU;
# score_thr 0 makes an untrained model still emit boxes, so that CocoMetric
# computes its AP.
FASTER_RCNN_CPU_OPTIONS = {
    'model.roi_head.bbox_head.num_classes': len(SHAPE_CLASSES),
    'model.train_cfg.rpn_proposal.nms_pre': 200,
    'model.train_cfg.rpn_proposal.max_per_img': 100,
    'model.train_cfg.rcnn.sampler.num': 64,
    'model.test_cfg.rpn.nms_pre': 200,
    'model.test_cfg.rpn.max_per_img': 100,
    'model.test_cfg.rcnn.score_thr': 0.0,
}


def as_cli_options(options: dict) -> list:
    """Format options for `--cfg-options` (mmengine's DictAction syntax)."""

    def fmt(value):
        if isinstance(value, (tuple, list)):
            items = ','.join(fmt(v) for v in value)
            return f'({items})' if isinstance(value, tuple) else f'[{items}]'
        return str(value)

    return [f'{key}={fmt(value)}' for key, value in options.items()]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a distributed launch)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
