"""Learning-rate and momentum schedules that follow the length of the run.

An mmengine ``param_scheduler`` counts in epochs or iterations:
``LinearLR(end=50)`` warms up for 50 iterations, ``CosineAnnealingLR(
begin=500, end=1000, T_max=500)`` decays over the second half of a
1000-iteration run, ``MultiStepLR(milestones=[8, 11])`` steps at epochs 8
and 11 of 12. Shortening the run with ``train_cfg.max_iters=200`` leaves
all of them where they were: no decay happens at all.

A config says which run length its schedule was written for in the
variable ``schedule_length`` (in the train loop's unit: epochs for
``EpochBasedTrainLoop``, iterations for ``IterBasedTrainLoop``); mmattn's
tools set it, when the config does not, to the loop's length as written in
the config file, before command-line options are applied
(:func:`remember_schedule_length`). :func:`fit_schedule_to_run_length` then
multiplies every position of every scheduler that counts in the loop's unit
(``begin``, ``end``, ``T_max``, ``milestones``, ``step_size``, ...) by
``run length / schedule_length``, as well as ``val_interval`` and the
checkpoint interval when they equal the schedule length ("at the end"),
and records the new length, so that fitting again changes nothing.
Schedulers that count in iterations inside an epoch-based run (mmdet's
500-iteration warm-up) keep their length: an epoch's iteration count is
only known once the dataset is built. ``schedule_length=None`` turns the
fitting off.
"""
from typing import List, Optional

from mmengine.config import Config

#: The config variable holding the run length the schedule was written for.
LENGTH_KEY = 'schedule_length'
#: Scheduler arguments that are positions or durations in the run.
_POSITIONS = ('begin', 'end', 'T_max', 'step_size', 'total_steps',
              'milestones', 'periods')
#: mmengine's default ``end`` (a scheduler active until the run ends).
_UNBOUNDED = 1_000_000_000


def _loop_length(cfg: Config) -> Optional[tuple]:
    """(length, by_epoch) of the train loop, or None."""
    loop = cfg.get('train_cfg')
    if not loop:
        return None
    if loop.get('max_epochs') is not None:
        return loop['max_epochs'], True
    if loop.get('max_iters') is not None:
        return loop['max_iters'], False
    return None


def remember_schedule_length(cfg: Config) -> None:
    """Record the train loop's length as the schedule's, unless the config
    declares ``schedule_length``; call before applying command-line
    options."""
    length = _loop_length(cfg)
    if length is not None and LENGTH_KEY not in cfg:
        cfg[LENGTH_KEY] = length[0]


def _scaled(value, factor: float):
    if isinstance(value, (list, tuple)):
        return type(value)(_scaled(v, factor) for v in value)
    if not isinstance(value, (int, float)) or value >= _UNBOUNDED:
        return value
    scaled = value * factor
    if isinstance(value, int):
        # A position 0 stays 0; anything else stays at least 1.
        return max(1, round(scaled)) if value > 0 else 0
    return scaled


def fit_schedule_to_run_length(cfg: Config) -> List[str]:
    """Rescale the config's schedule to the train loop's length (in place;
    see the module docstring).

    Returns:
        list[str]: What changed, as ``'<where>: <old> -> <new>'``, the
        schedule length first; empty when the lengths agree or nothing is
        declared.
    """
    length = _loop_length(cfg)
    written_for = cfg.get(LENGTH_KEY)
    if length is None or not written_for or length[0] == written_for:
        return []
    run_length, by_epoch = length
    factor = run_length / written_for
    changes = [f'{LENGTH_KEY}: {written_for} -> {run_length}']
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for index, scheduler in enumerate(schedulers):
        if bool(scheduler.get('by_epoch', True)) != by_epoch:
            continue
        old = {key: scheduler[key] for key in _POSITIONS if key in scheduler}
        for key, value in old.items():
            scheduler[key] = _scaled(value, factor)
        span = old.get('end', _UNBOUNDED) - old.get('begin', 0)
        if 2 <= span < _UNBOUNDED:
            # A scheduler spanning one step never leaves its start value
            # (mmengine's LinearLR stays at start_factor): keep two.
            scheduler['end'] = max(scheduler['end'],
                                   scheduler.get('begin', 0) + 2)
        changes += [
            f"param_scheduler[{index}] ({scheduler.get('type')}).{key}: "
            f'{value} -> {scheduler[key]}' for key, value in old.items()
            if scheduler[key] != value]
    for where, holder, key in (
            ('train_cfg.val_interval', cfg.train_cfg, 'val_interval'),
            ('default_hooks.checkpoint.interval',
             (cfg.get('default_hooks') or {}).get('checkpoint') or {},
             'interval')):
        if holder.get(key) == written_for:
            holder[key] = run_length
            changes.append(f'{where}: {written_for} -> {run_length}')
    cfg[LENGTH_KEY] = run_length
    return changes
