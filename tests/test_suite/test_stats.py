"""The suite's interval math agrees with scipy's t-tests."""
import numpy as np
import pytest
from scipy import stats

from mmattn.suite.stats import paired_difference, summarize


@pytest.mark.parametrize('values', [
    [0.61, 0.64, 0.66],
    [0.5, 0.52],
    [0.3, 0.35, 0.29, 0.4, 0.31, 0.33],
])
@pytest.mark.parametrize('confidence', [0.95, 0.9])
def test_interval_of_the_mean_is_scipys_one_sample_t_interval(values,
                                                              confidence):
    summary = summarize(values, confidence)
    expected = stats.ttest_1samp(values, 0).confidence_interval(confidence)
    assert summary.n == len(values)
    assert summary.mean == pytest.approx(np.mean(values))
    assert summary.std == pytest.approx(np.std(values, ddof=1))
    assert (summary.ci_low, summary.ci_high) == pytest.approx(
        (expected.low, expected.high))


def test_paired_difference_is_scipys_paired_t_interval():
    variant = {0: 0.644, 1: 0.673, 2: 0.651, 3: 0.662}
    baseline = {0: 0.652, 1: 0.641, 2: 0.630, 3: 0.648, 7: 0.9}
    difference = paired_difference(variant, baseline)
    seeds = [0, 1, 2, 3]  # seed 7 has no partner
    result = stats.ttest_rel([variant[s] for s in seeds],
                             [baseline[s] for s in seeds])
    interval = result.confidence_interval(0.95)
    assert difference.n == 4
    assert difference.mean == pytest.approx(
        np.mean([variant[s] - baseline[s] for s in seeds]))
    assert (difference.ci_low, difference.ci_high) == pytest.approx(
        (interval.low, interval.high))
    # The interval excludes 0 exactly when the two-sided test rejects at 5%.
    assert difference.excludes_zero == (result.pvalue < 0.05)


def test_excludes_zero_on_a_clear_difference():
    clear = paired_difference({0: 0.70, 1: 0.71, 2: 0.72},
                              {0: 0.60, 1: 0.60, 2: 0.61})
    assert clear.excludes_zero is True and clear.ci_low > 0
    unclear = paired_difference({0: 0.70, 1: 0.60, 2: 0.72},
                                {0: 0.60, 1: 0.70, 2: 0.61})
    assert unclear.excludes_zero is False


def test_edge_cases():
    single = summarize([0.5])
    assert (single.n, single.mean, single.std, single.ci_low) == \
        (1, 0.5, None, None)
    assert single.excludes_zero is None
    constant = summarize([0.4, 0.4, 0.4])
    assert (constant.std, constant.ci_low, constant.ci_high) == \
        pytest.approx((0.0, 0.4, 0.4))
    assert paired_difference({0: 1.0}, {1: 1.0}) is None
    for bad in ([], [float('nan'), 1.0], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match='summarize'):
            summarize(bad)
    with pytest.raises(ValueError, match='confidence'):
        summarize([1.0, 2.0], confidence=95)
