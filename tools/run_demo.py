"""The main job on the embedded default: train an attention detector on the
synthetic shapes dataset (generated if missing), evaluate it with COCO's
metric and save a picture of its predictions on a few val images."""
import argparse
import os.path as osp
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmattn.cli import configure_checkpointing
from mmattn.demo import generate_shapes_dataset

DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                          'configs', 'demo',
                          'retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py')
METRIC_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default='data/shapes')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--num-pictures', type=int, default=4)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def point_config_at(cfg: Config, data_root: str) -> None:
    data_root = data_root.rstrip('/') + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = data_root + 'annotations/val.json'


def print_table(metrics: dict) -> None:
    printed = False
    for task in ('bbox', 'segm'):
        values = [metrics.get(f'coco/{task}_{name}') for name in METRIC_NAMES]
        if all(v is None for v in values):
            continue
        print(f'\n| {task} | ' + ' | '.join(METRIC_NAMES) + ' |')
        print('|---' * (len(METRIC_NAMES) + 1) + '|')
        print('| COCO AP | ' + ' | '.join(f'{v:.3f}' for v in values) + ' |')
        printed = True
    if not printed:
        print('\nCocoMetric reported no AP: the model made no detection '
              'above the score threshold.')


def save_pictures(runner: Runner, out_file: str, count: int) -> None:
    """Predictions (left) beside ground truth (right) for `count` images."""
    dataset = runner.val_dataloader.dataset
    model, visualizer = runner.model.eval(), runner.visualizer
    visualizer.dataset_meta = dataset.metainfo
    rows = []
    for index in range(min(count, len(dataset))):
        batch = runner.val_dataloader.collate_fn([dataset[index]])
        with torch.no_grad():
            sample = model.test_step(batch)[0]
        image = cv2.imread(sample.img_path)[..., ::-1]
        visualizer.add_datasample(
            'prediction', image, sample, draw_gt=True, draw_pred=True,
            show=False, pred_score_thr=0.3)
        rows.append(visualizer.get_image())
    cv2.imwrite(out_file, np.concatenate(rows, axis=0)[..., ::-1])


def main() -> None:
    args = parse_args()
    started = time.time()
    if not osp.exists(osp.join(args.data_root, 'annotations', 'val.json')):
        print(f'generating the shapes dataset in {args.data_root}')
        generate_shapes_dataset(args.data_root)
    cfg = Config.fromfile(args.config)
    point_config_at(cfg, args.data_root)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    # Evaluate once, after training, rather than from inside the train loop.
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    # Checkpoints that load weights only, written atomically (as
    # tools/train.py's).
    configure_checkpointing(cfg)

    runner = Runner.from_cfg(cfg)
    runner.train()
    trained = time.time()
    metrics = runner.val()
    print_table(metrics)
    picture = osp.join(cfg.work_dir, 'predictions.png')
    save_pictures(runner, picture, args.num_pictures)
    finished = time.time()
    # The first figure includes generating a missing dataset and building
    # the model: everything the command does before it evaluates.
    print(f'\ntrain {trained - started:.0f} s, evaluation '
          f'{finished - trained:.0f} s, total {finished - started:.0f} s; '
          f'predictions: {picture}')


if __name__ == '__main__':
    main()
