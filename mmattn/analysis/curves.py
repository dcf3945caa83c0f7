"""Training curves from mmengine's ``vis_data/scalars.json``.

mmengine's ``LocalVisBackend`` appends one JSON object per line: training
lines (``loss``, ``loss_*``, ``lr``, ``time``, ``memory``, ``epoch``,
``iter``, ``step`` = iteration) and validation lines (``coco/bbox_mAP``,
``accuracy/top1`` ..., ``step`` = epoch or iteration, as the run counts).
"""
import json
import re
from typing import Dict, List, Optional, Sequence, Tuple

#: Bookkeeping keys, never plotted by default.
BOOKKEEPING = frozenset(('step', 'iter', 'epoch', 'time', 'data_time',
                         'memory', 'eta', 'base_lr'))
#: Validation keys plotted by default (the headline metrics).
METRIC = re.compile(r'(^|/)(bbox_mAP|segm_mAP|mAP|top1|accuracy_top-1|'
                    r'top-1|mIoU|aAcc)$')


def load_scalars(path: str) -> List[dict]:
    """The JSON lines of a scalars file (malformed lines skipped)."""
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def numeric_keys(records: Sequence[dict]) -> List[str]:
    keys = []
    for record in records:
        for key, value in record.items():
            if (key not in keys and isinstance(value, (int, float))
                    and not isinstance(value, bool)):
                keys.append(key)
    return keys


def default_keys(records: Sequence[dict]) -> List[str]:
    """``loss``, ``lr`` and the headline validation metrics present."""
    available = numeric_keys(records)
    keys = [k for k in ('loss', 'lr') if k in available]
    keys += [k for k in available if METRIC.search(k) and k not in keys]
    if not keys:
        keys = [k for k in available if k not in BOOKKEEPING][:6]
    return keys


def series(records: Sequence[dict], key: str,
           x_key: str = 'step') -> Tuple[List[float], List[float]]:
    """(xs, ys) of ``key`` over the lines that have it; lines without
    ``x_key`` are numbered by their order."""
    xs, ys = [], []
    for index, record in enumerate(records):
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs.append(record.get(x_key, index))
            ys.append(float(value))
    return xs, ys


def plot_scalars(paths: Sequence[str], out: str,
                 keys: Optional[Sequence[str]] = None,
                 labels: Optional[Sequence[str]] = None,
                 x_key: str = 'step') -> Tuple[str, List[str]]:
    """Plot ``keys`` of one or more scalars files into one PNG; returns the
    path and the keys plotted."""
    from .plotting import plot_curves
    loaded = [load_scalars(p) for p in paths]
    if not keys:
        keys = []
        for records in loaded:
            keys += [k for k in default_keys(records) if k not in keys]
    if not keys:
        raise ValueError(f'no numeric scalars in {list(paths)}')
    labels = list(labels or [])
    items: List[Dict] = []
    for index, (path, records) in enumerate(zip(paths, loaded)):
        label = labels[index] if index < len(labels) else path
        items.append(dict(label=label,
                          data={k: series(records, k, x_key) for k in keys}))
    plot_curves(out, items, keys, x_label=x_key)
    return out, list(keys)
