"""What ``make demo`` shows on the console, and what it keeps in the log.

The console gets a short summary: a progress bar over training iterations
(loss, time left) and the evaluation, the COCO AP table and where the
outputs are. Everything mmengine logs (environment, config, every logged
iteration) and every Python warning (``pkg_resources`` and the like, from
the imports on) goes only into the run's log file:

* :class:`QuietConsoleRunner` is mmengine's Runner whose logger prints
  only errors on the console (its file keeps everything);
* :func:`warnings_to_log` routes Python warnings into that file, including
  those raised before it existed (collected by a
  ``logging.handlers.BufferingHandler`` on the ``py.warnings`` logger);
* :func:`stdout_to_log` sends what is printed (pycocotools' messages and
  summaries) there too;
* :class:`ProgressHook` draws the progress (rich) and keeps the metrics of
  the last validation, which mmengine's ``IterBasedTrainLoop`` runs at its
  last iteration.
"""
import contextlib
import io
import logging
import logging.handlers
import time
from typing import Dict, Iterator, List, Optional

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)

from .pictures import draw_instances, side_by_side, upscale_factor

METRIC_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')


class QuietConsoleRunner(Runner):
    """mmengine's Runner whose console shows only errors; its log file
    keeps everything at the config's ``log_level``."""

    def build_logger(self, log_level='INFO', log_file=None, **kwargs):
        logger = super().build_logger(log_level, log_file, **kwargs)
        for handler in logger.handlers:
            if not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.ERROR)
        return logger


def warnings_to_log(runner: Runner,
                    early: Optional[logging.handlers.BufferingHandler] = None
                    ) -> None:
    """Send Python warnings to the runner's log file from now on, and the
    ones ``early`` collected before (then ``early`` is removed)."""
    logging.captureWarnings(True)
    target = logging.getLogger('py.warnings')
    target.propagate = False
    for handler in runner.logger.handlers:
        if isinstance(handler, logging.FileHandler):
            target.addHandler(handler)
            if early is not None:
                for record in early.buffer:
                    handler.handle(record)
    if early is not None:
        target.removeHandler(early)
        early.close()


class _LogLines(io.TextIOBase):
    """A text stream whose complete lines go to ``logger.info``."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        self.pending = ''

    def write(self, text: str) -> int:
        lines = (self.pending + text).split('\n')
        self.pending = lines.pop()
        for line in lines:
            self.logger.info(line)
        return len(text)


@contextlib.contextmanager
def stdout_to_log(logger: logging.Logger) -> Iterator[None]:
    """Send what is printed to stdout (pycocotools' messages and summary
    tables) to ``logger`` instead."""
    stream = _LogLines(logger)
    with contextlib.redirect_stdout(stream):
        yield
    if stream.pending:
        logger.info(stream.pending)


class ProgressHook(Hook):
    """A rich progress bar over the training iterations (with the loss)
    and the evaluation; keeps the last validation's metrics."""

    priority = 'VERY_LOW'

    def __init__(self, console: Console) -> None:
        """``console`` must hold its own stream (``Console(file=...)``),
        so that it keeps writing while :func:`stdout_to_log` is active."""
        self.progress = Progress(
            TextColumn('{task.description:<10}'), BarColumn(),
            MofNCompleteColumn(), TextColumn('{task.fields[status]}'),
            TimeElapsedColumn(), TextColumn('left'), TimeRemainingColumn(),
            console=console)
        self.metrics: Dict[str, float] = {}
        #: time.time() when training started, validation started and ended.
        self.times: Dict[str, float] = {}
        self._train = None
        self._val = None

    def before_train(self, runner) -> None:
        self.times['train'] = time.time()
        self.progress.start()
        self._train = self.progress.add_task(
            'training', total=runner.max_iters, completed=runner.iter,
            status='')

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        loss = (outputs or {}).get('loss')
        status = '' if loss is None else f'loss {loss.item():.3f}'
        self.progress.update(self._train, completed=runner.iter + 1,
                             status=status)
        done, total = runner.iter + 1, runner.max_iters
        if not self.progress.console.is_terminal and \
                done % max(total // 10, 1) == 0:
            # No live bar without a terminal: a line every tenth instead.
            elapsed = time.time() - self.times['train']
            self.progress.console.print(
                f'training {done}/{total} {status}, {elapsed:.0f} s, about '
                f'{elapsed / done * (total - done):.0f} s left')

    def before_val_epoch(self, runner) -> None:
        self.times['val'] = time.time()
        self._val = self.progress.add_task(
            'evaluating', total=len(runner.val_dataloader), status='')

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self.progress.update(self._val, advance=1)

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.times['val_end'] = time.time()
        self.metrics = dict(metrics or {})

    def timing(self, iterations: int) -> str:
        """Training time (per iteration) and evaluation time."""
        train = self.times['val'] - self.times['train']
        return (f'training {train:.0f} s ({train / max(iterations, 1):.2f} s '
                f'per iteration), evaluation '
                f'{self.times["val_end"] - self.times["val"]:.0f} s')

    def after_run(self, runner) -> None:
        self.progress.stop()


def ap_tables(metrics: Dict[str, float]) -> str:
    """The COCO AP table of each task (bbox, segm) in ``metrics``, or a
    line saying there is none."""
    tables = []
    for task in ('bbox', 'segm'):
        values = [metrics.get(f'coco/{task}_{name}') for name in METRIC_NAMES]
        if all(v is None for v in values):
            continue
        tables.append('\n'.join([
            f'| {task} | ' + ' | '.join(METRIC_NAMES) + ' |',
            '|---' * (len(METRIC_NAMES) + 1) + '|',
            '| COCO AP | ' + ' | '.join(
                '-' if v is None else f'{v:.3f}' for v in values) + ' |']))
    return '\n\n'.join(tables) if tables else (
        'CocoMetric reported no AP: the model made no detection above the '
        'score threshold.')


def _masks(instances) -> Optional[np.ndarray]:
    masks = instances.get('masks')
    if masks is None:
        return None
    if hasattr(masks, 'to_ndarray'):  # mmdet BitmapMasks / PolygonMasks
        return masks.to_ndarray()
    return masks.cpu().numpy()


def save_predictions_picture(runner: Runner, out_file: str, count: int,
                             score_threshold: float = 0.3) -> str:
    """Ground truth (left) beside predictions with a score of at least
    ``score_threshold`` (right) for the first ``count`` val images."""
    dataset = runner.val_dataloader.dataset
    classes = dataset.metainfo['classes']
    palette = dataset.metainfo.get('palette')
    if not isinstance(palette, (list, tuple)) or len(palette) < len(classes):
        from mmdet.visualization.palette import get_palette
        palette = get_palette('random', len(classes))
    model = runner.model.eval()
    rows: List = []
    for index in range(min(count, len(dataset))):
        batch = runner.val_dataloader.collate_fn([dataset[index]])
        with torch.no_grad():
            sample = model.test_step(batch)[0]
        image = cv2.imread(sample.img_path)[..., ::-1]
        scale = upscale_factor(image.shape[:2])
        large = cv2.resize(image, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_CUBIC)
        truth = sample.gt_instances
        predicted = sample.pred_instances[
            sample.pred_instances.scores >= score_threshold]
        rows.append((
            draw_instances(large, truth.bboxes.cpu().numpy(),
                           truth.labels.tolist(), classes, palette,
                           _masks(truth), scale=scale),
            draw_instances(large, predicted.bboxes.cpu().numpy(),
                           predicted.labels.tolist(), classes, palette,
                           _masks(predicted), predicted.scores.tolist(),
                           scale=scale)))
    picture = side_by_side(
        rows, ('ground truth',
               f'prediction (score >= {score_threshold:g})'))
    cv2.imwrite(out_file, picture[..., ::-1])
    return out_file
