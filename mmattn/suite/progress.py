"""The suite's progress display (rich): runs done of all, the current run
and its training progress, elapsed time and the time left.

The overall bar counts runs, the current one in fractions (its training
iterations as mmengine logs them), so that rich's estimate of the time left
follows the actual pace; runs finished before this invocation count as
done from the start without affecting the estimate. Each finished run also
gets one line (model, seed, status, main metric, duration), which is all
that is printed when the output is not a terminal.
"""
import time
from typing import Dict, Optional

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                           TaskID, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


class SuiteProgress:
    """``on_progress`` of :class:`~mmattn.suite.runner.BenchmarkRunner`
    drawn with rich; use as a context manager."""

    def __init__(self, console: Optional[Console] = None,
                 metric: str = 'coco/bbox_mAP') -> None:
        self.console = console or Console()
        self.metric = metric
        self.progress = Progress(
            TextColumn('[bold]{task.description}'), BarColumn(),
            MofNCompleteColumn(), TextColumn('{task.fields[current]}'),
            TimeElapsedColumn(), TextColumn('left'), TimeRemainingColumn(),
            console=self.console)
        self.task: Optional[TaskID] = None
        self._done = 0
        self._started = time.time()

    def __enter__(self) -> 'SuiteProgress':
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, event: str, **info) -> None:
        getattr(self, f'_on_{event}')(**info)

    def _on_plan(self, total: int, done: int) -> None:
        self._done = done
        self.task = self.progress.add_task(
            'runs', total=total, completed=done,
            current=f'{done} done before' if done else '')

    def _on_start(self, model: str, seed: int, index: int,
                  total: int) -> None:
        self._started = time.time()
        self.progress.update(self.task, current=f'{model} seed {seed}')

    def _on_step(self, fraction: float) -> None:
        # Training is most of a run; the test finishes it.
        self.progress.update(self.task,
                             completed=self._done + 0.95 * min(fraction, 1))

    def _on_end(self, record: Dict) -> None:
        self._done += 1
        self.progress.update(self.task, completed=self._done)
        value = record['metrics'].get(self.metric)
        result = f'{self.metric} {value:.3f}' if value is not None else \
            (record.get('error') or '').splitlines()[0] if \
            record.get('error') else ''
        self.progress.console.print(
            f"{record['status']:>6} {record['model']} seed {record['seed']}"
            f' in {time.time() - self._started:.0f} s' +
            (f': {result}' if result else ''))
