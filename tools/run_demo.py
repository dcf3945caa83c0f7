"""The main job (``make demo``): train an attention detector on the
synthetic shapes dataset (generated if missing) or on a COCO-format
dataset of your own (``--img-dir --train-ann --val-ann``), evaluate it
once with COCO's metric (mmengine validates at the last iteration) and
draw its predictions on a few val images beside the ground truth.

The console shows progress, the AP table and where the outputs are; the
log file keeps the environment, the config, every logged iteration and
every warning. The config's seed (the demo's: 0) makes a rerun on the
same machine repeat its numbers.
"""
import logging
import logging.handlers
import time

STARTED = time.time()
# The imports below warn (pkg_resources and others): keep those warnings
# for the run's log file instead of the console.
logging.captureWarnings(True)
EARLY_WARNINGS = logging.handlers.BufferingHandler(capacity=10_000)
logging.getLogger('py.warnings').addHandler(EARLY_WARNINGS)
logging.getLogger('py.warnings').propagate = False

import os.path as osp  # noqa: E402
import sys  # noqa: E402
from typing import List, Optional  # noqa: E402

from rich.console import Console  # noqa: E402

from mmattn.cli import (ArgumentParser, ConfigOptionsAction,  # noqa: E402
                        apply_run_options, check_before_build,
                        configure_checkpointing, read_config, run_main)
from mmattn.demo import generate_shapes_dataset  # noqa: E402
from mmattn.demo.runner import (ProgressHook, QuietConsoleRunner,  # noqa
                                ap_tables, save_predictions_picture,
                                stdout_to_log, warnings_to_log)
from mmattn.engine.dataset import (add_dataset_arguments,  # noqa: E402
                                   dataset_from_args)

DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                          'configs', 'demo',
                          'retinanet_r18-ema-c3-c5_fpn_1000i_shapes.py')


def parse_args(argv: Optional[List[str]] = None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', default='data/shapes',
                        help='the shapes dataset (generated when missing); '
                        'ignored with --img-dir/--train-ann/--val-ann')
    parser.add_argument('--work-dir', default=None)
    parser.add_argument('--num-pictures', type=int, default=4)
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='score threshold of the predictions picture')
    parser.add_argument('--cfg-options', nargs='+',
                        action=ConfigOptionsAction)
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of user errors')
    add_dataset_arguments(parser)
    return parser.parse_args(argv)


def shapes_dataset(root: str, console: Console) -> dict:
    """The ``coco_dataset`` of the shapes dataset under ``root``,
    generated first when missing."""
    if not osp.exists(osp.join(root, 'annotations', 'val.json')):
        console.print(f'generating the shapes dataset in {root}')
        generate_shapes_dataset(root)
    return dict(img_dir=osp.join(root, 'train'),
                val_img_dir=osp.join(root, 'val'),
                train_ann=osp.join(root, 'annotations', 'train.json'),
                val_ann=osp.join(root, 'annotations', 'val.json'))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
    dataset = dataset_from_args(args) or shapes_dataset(args.data_root,
                                                        console)
    cfg = read_config(args.config)
    apply_run_options(cfg, args.cfg_options, dataset)
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    configure_checkpointing(cfg)
    check_before_build(cfg)

    runner = QuietConsoleRunner.from_cfg(cfg)
    warnings_to_log(runner, EARLY_WARNINGS)
    log_file = osp.join(runner.log_dir, f'{runner.timestamp}.log')
    console.print(
        f'[bold]mmattn demo[/bold] {args.config}\n'
        f'  data  {dataset["img_dir"]}, val {dataset["val_ann"]} '
        f'({len(cfg.coco_dataset.classes)} classes), seed {runner.seed}\n'
        f'  log   {log_file} (environment, config, warnings, every '
        'logged iteration)')
    progress = ProgressHook(console)
    runner.register_hook(progress)
    built = time.time()
    with stdout_to_log(runner.logger):
        runner.train()
    console.print('\n' + ap_tables(progress.metrics) + '\n')
    drawing = time.time()
    picture = save_predictions_picture(
        runner, osp.join(cfg.work_dir, 'predictions.png'), args.num_pictures,
        args.score_thr)
    finished = time.time()
    console.print(
        f'setup {built - STARTED:.0f} s, {progress.timing(runner.iter)}, '
        f'picture {finished - drawing:.0f} s, total '
        f'{finished - STARTED:.0f} s\n'
        f'checkpoint  {osp.join(cfg.work_dir, f"iter_{runner.iter}.pth")}\n'
        f'picture     {picture} (left: ground truth, right: predictions '
        f'with score >= {args.score_thr:g})\n'
        f'log         {log_file}')
    return 0


if __name__ == '__main__':
    sys.exit(run_main(main))
