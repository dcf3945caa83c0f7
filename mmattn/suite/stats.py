"""Summaries over seeds and paired differences to a baseline.

A metric measured with ``n`` seeds is summarised by its mean, its sample
standard deviation (``ddof=1``) and the two-sided Student-t confidence
interval of the mean, ``mean ± t(1 - α/2, n - 1) · s / √n``. A variant is
compared with the baseline on the seeds both ran: the per-seed differences
``dᵢ = xᵢ - bᵢ`` (same seed: same data order and initialisation of the
shared parts) are summarised the same way (the paired t-interval), and the
difference is called clear when that interval excludes 0.
"""
import math
from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and confidence interval of ``n``
    values; ``std`` and the interval are None for fewer than 2 values."""
    n: int
    mean: float
    std: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> Optional[float]:
        if self.ci_low is None:
            return None
        return (self.ci_high - self.ci_low) / 2

    @property
    def excludes_zero(self) -> Optional[bool]:
        """Whether the interval lies wholly on one side of 0 (None without
        an interval)."""
        if self.ci_low is None:
            return None
        return self.ci_low > 0 or self.ci_high < 0


def summarize(values: Sequence[float],
              confidence: float = CONFIDENCE) -> Summary:
    """The :class:`Summary` of ``values`` (at least one, all finite)."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f'summarize: need a non-empty list of numbers, got '
                         f'{values!r}')
    if not np.all(np.isfinite(array)):
        raise ValueError(f'summarize: values must be finite, got {values!r}')
    if not 0 < confidence < 1:
        raise ValueError(f'summarize: confidence must lie in (0, 1), got '
                         f'{confidence}')
    mean = float(array.mean())
    if array.size < 2:
        return Summary(1, mean, None, None, None, confidence)
    if np.all(array == array[0]):
        # No spread (np.std can give 1e-17 here, and scipy a nan interval).
        return Summary(array.size, mean, 0.0, mean, mean, confidence)
    std = float(array.std(ddof=1))
    low, high = stats.t.interval(confidence, array.size - 1, loc=mean,
                                 scale=std / math.sqrt(array.size))
    return Summary(array.size, mean, std, float(low), float(high),
                   confidence)


def paired_difference(values: Mapping[int, float],
                      baseline: Mapping[int, float],
                      confidence: float = CONFIDENCE) -> Optional[Summary]:
    """The :class:`Summary` of ``values[seed] - baseline[seed]`` over the
    seeds both have (None when they share none)."""
    seeds = sorted(set(values) & set(baseline))
    if not seeds:
        return None
    return summarize([values[s] - baseline[s] for s in seeds], confidence)


def by_seed(rows: Sequence[Dict], key: str) -> Dict[int, float]:
    """``{seed: row[key]}`` of the rows that have ``key``."""
    return {row['seed']: row[key] for row in rows
            if row.get(key) is not None}
