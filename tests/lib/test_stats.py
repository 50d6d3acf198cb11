"""Interval estimates against reference implementations (statsmodels, scikit-learn, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from pipelines.lib import stats


def test_wilson_matches_statsmodels_over_a_grid_of_counts():
    ks, ns = np.meshgrid(np.arange(0, 31), np.array([1, 2, 5, 10, 30, 183, 1000]))
    mask = ks <= ns
    k, n = ks[mask], ns[mask]
    low, high = stats.wilson_interval(k, n)
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)


def test_wilson_at_99_percent_matches_statsmodels():
    low, high = stats.wilson_interval([3, 50], [40, 60], confidence=0.99)
    ref_low, ref_high = proportion_confint(np.array([3, 50]), np.array([40, 60]), alpha=0.01, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)


def test_wilson_is_nan_for_an_empty_denominator():
    low, high = stats.wilson_interval([0, 1], [0, 4])
    assert np.isnan(low[0]) and np.isnan(high[0])
    assert 0 < low[1] < 0.25 < high[1] < 1


def test_p_chart_limits_are_three_sigma_and_clipped():
    lcl, ucl = stats.p_chart_limits([0.2, 0.02], [100, 25])
    assert lcl[0] == pytest.approx(0.2 - 3 * 0.04)
    assert ucl[0] == pytest.approx(0.2 + 3 * 0.04)
    assert lcl[1] == 0.0  # 0.02 - 3 * 0.028 < 0
    assert ucl[1] == pytest.approx(0.02 + 3 * np.sqrt(0.02 * 0.98 / 25))


def test_funnel_limit_hand_computed_for_ten_fair_coins():
    # Binomial(10, 0.5): F(1) = 11/1024, F(2) = 56/1024; the 2.5% quantile is r = 2 and
    # alpha = (56/1024 - 0.025) / (45/1024) = 30.4 / 45, so the limit is (2 - alpha) / 10.
    # Upper: F(7) = 968/1024, F(8) = 1013/1024, r = 8, alpha = (1013 - 998.4) / 45.
    lower, upper = stats.funnel_limits(0.5, 10, 0.95)
    assert float(lower) == pytest.approx((2 - 30.4 / 45) / 10, abs=1e-12)
    assert float(upper) == pytest.approx((8 - 14.6 / 45) / 10, abs=1e-12)


@pytest.mark.parametrize("coverage", [0.95, 0.998])
def test_funnel_limits_lie_between_the_binomial_quantile_and_the_step_below(coverage):
    n = np.array([5, 12, 40, 150, 900])
    p = 0.3
    lower, upper = stats.funnel_limits(p, n, coverage)
    tail = (1 - coverage) / 2
    r_low = binom.ppf(tail, n, p)
    r_high = binom.ppf(1 - tail, n, p)
    assert np.all((r_low - 1) / n <= lower + 1e-12) and np.all(lower <= r_low / n + 1e-12)
    assert np.all((r_high - 1) / n <= upper + 1e-12) and np.all(upper <= r_high / n + 1e-12)


def test_funnel_limits_narrow_with_volume_and_approach_the_normal_limits():
    n = np.array([20, 200, 20000])
    lo95, hi95 = stats.funnel_limits(0.4, n, 0.95)
    lo998, hi998 = stats.funnel_limits(0.4, n, 0.998)
    assert np.all(np.diff(hi95 - lo95) < 0)
    assert np.all(lo998 < lo95) and np.all(hi998 > hi95)
    normal_hi = 0.4 + 1.959964 * np.sqrt(0.4 * 0.6 / 20000)
    assert hi95[-1] == pytest.approx(normal_hi, abs=2e-4)


def test_kappa_matches_sklearn_on_random_ratings():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 400)
    b = np.where(rng.random(400) < 0.6, a, rng.integers(0, 5, 400))
    matrix = stats.confusion_matrix(a, b, np.arange(5))
    kappa, raw = stats.kappa_from_confusion(matrix)
    assert float(kappa) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert float(raw) == pytest.approx(np.mean(a == b))


def test_kappa_matches_sklearn_with_string_labels_and_an_unused_label():
    a = np.array(["x", "y", "y", "z", "x", "x"])
    b = np.array(["x", "y", "z", "z", "y", "x"])
    labels = np.array(["z", "y", "x", "w"])
    kappa, _ = stats.kappa_from_confusion(stats.confusion_matrix(a, b, labels))
    assert float(kappa) == pytest.approx(cohen_kappa_score(a, b, labels=labels))


def test_kappa_is_nan_when_both_raters_use_one_label():
    kappa, raw = stats.kappa_from_confusion(np.array([[7, 0], [0, 0]]))
    assert np.isnan(kappa) and raw == 1.0


def test_kappa_interval_brackets_the_estimate_and_is_reproducible():
    matrix = np.array([[30, 5, 2], [6, 25, 4], [1, 3, 24]])
    first = stats.kappa_interval(matrix, 1000, seed=7)
    again = stats.kappa_interval(matrix, 1000, seed=7)
    kappa, low, high, raw = first
    assert first == again
    assert low < kappa < high
    assert raw == pytest.approx(79 / 100)
    assert 0.1 < high - low < 0.4


def test_bootstrap_sums_of_a_constant_have_no_spread():
    reps = stats.bootstrap_sums(np.full(50, 3.0), resamples=200, seed=1)
    assert reps.shape == (200, 1)
    np.testing.assert_allclose(reps, 150.0)


def test_bootstrap_sums_are_stratified_and_seeded():
    values = np.array([1.0, 2.0, 3.0, 10.0, 20.0])
    strata = np.array([0, 0, 0, 1, 1])
    a = stats.bootstrap_sums(values, strata, resamples=500, seed=11)
    b = stats.bootstrap_sums(values, strata, resamples=500, seed=11)
    np.testing.assert_array_equal(a, b)
    # each stratum keeps its size: stratum 0 sums three draws from {1,2,3}, stratum 1 two from {10,20}
    assert a[:, 0].min() >= 3 and a[:, 0].max() <= 9
    assert set(np.unique(a[:, 1])) <= {20.0, 30.0, 40.0}
    assert a[:, 0].mean() == pytest.approx(6.0, abs=0.15)


def test_grouped_bootstrap_keeps_the_variance_of_the_exact_case_bootstrap():
    rng = np.random.default_rng(5)
    x = rng.lognormal(8, 1.0, 5000)  # skewed, all values distinct: forces grouping
    reps = stats.bootstrap_sums(x, resamples=4000, seed=2, max_groups=32)
    exact_sd = np.sqrt(len(x) * x.var())  # sd of a sum of n draws with replacement
    assert reps.std() == pytest.approx(exact_sd, rel=0.05)
    assert reps.mean() == pytest.approx(x.sum(), rel=0.002)


def test_bootstrap_interval_coverage_is_near_95_percent():
    # 600 samples of 40 normal values, all bootstrapped in one call as 600 strata
    rng = np.random.default_rng(2024)
    sims, n, mu = 600, 40, 10.0
    data = rng.normal(mu, 3.0, (sims, n))
    strata = np.repeat(np.arange(sims), n)
    reps = stats.bootstrap_sums(data.ravel(), strata, n_strata=sims, resamples=1000, seed=9) / n
    low, high = stats.percentile_interval(reps)
    coverage = np.mean((low <= mu) & (mu <= high))
    assert 0.92 <= coverage <= 0.975


def test_bootstrap_rejects_missing_values():
    with pytest.raises(ValueError, match="NaN"):
        stats.bootstrap_sums(np.array([1.0, np.nan]))


def test_funnel_limits_at_the_edge_of_the_support_flag_nobody():
    """With a specialty rate of 1.0 every reviewer is at 100%: none may fall outside the limits."""
    from pipelines.lib.stats import funnel_limits

    _, hi = funnel_limits(1.0, np.array([5, 20, 200]), 0.998)
    assert hi.tolist() == [1.0, 1.0, 1.0]
    lo0, _ = funnel_limits(0.0, np.array([5, 20]), 0.95)
    assert lo0.tolist() == [0.0, 0.0]


def test_funnel_limits_follow_the_exact_binomial_quantiles() -> None:
    n = np.array([20, 100, 1000])
    low, high = stats.funnel_limits(np.full(3, 0.5), n, 0.95)
    # Spiegelhalter's interpolated limits sit within one case of the discrete binomial quantiles
    assert np.all(np.abs(high - binom.ppf(0.975, n, 0.5) / n) <= 1 / n)
    assert np.all(np.abs(low - binom.ppf(0.025, n, 0.5) / n) <= 1 / n)
    assert high[2] == pytest.approx(0.5 + 1.96 * np.sqrt(0.25 / 1000), abs=0.003)
    assert np.all(np.diff(high) < 0) and np.all(np.diff(low) > 0)  # the funnel narrows
    low_998, high_998 = stats.funnel_limits(np.full(3, 0.5), n, 0.998)
    assert np.all(high_998 >= high) and np.all(low_998 <= low)
