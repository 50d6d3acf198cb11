"""Interval estimates against reference implementations (statsmodels, scikit-learn, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, chi2
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


# --- weighted kappa ---------------------------------------------------------------------------


def test_linearly_weighted_kappa_matches_sklearn_on_ordinal_tiers():
    rng = np.random.default_rng(12)
    a = rng.integers(0, 5, 600)
    # the second rater mostly agrees, else moves one tier, sometimes anywhere
    step = rng.choice([-1, 1], 600)
    b = np.where(
        rng.random(600) < 0.5,
        a,
        np.where(rng.random(600) < 0.7, np.clip(a + step, 0, 4), rng.integers(0, 5, 600)),
    )
    matrix = stats.confusion_matrix(a, b, np.arange(5))
    weighted, raw = stats.kappa_from_confusion(matrix, weights="linear")
    expected = cohen_kappa_score(a, b, labels=np.arange(5), weights="linear")
    assert float(weighted) == pytest.approx(expected, abs=1e-12)
    assert float(raw) == pytest.approx(np.mean(a == b))  # raw agreement stays the unweighted share
    quadratic, _ = stats.kappa_from_confusion(matrix, weights="quadratic")
    assert float(quadratic) == pytest.approx(
        cohen_kappa_score(a, b, labels=np.arange(5), weights="quadratic"), abs=1e-12
    )


def test_weighted_kappa_keeps_the_distance_of_a_tier_nobody_used():
    # tiers 2 and 3 never appear: with the labels fixed, 1 -> 4 is still three tiers apart, not one step
    a = np.array([0, 0, 1, 1, 4, 4, 0, 4, 1, 0])
    b = np.array([0, 1, 1, 4, 4, 1, 4, 0, 1, 0])
    weighted, _ = stats.kappa_from_confusion(stats.confusion_matrix(a, b, np.arange(5)), weights="linear")
    assert float(weighted) == pytest.approx(
        cohen_kappa_score(a, b, labels=np.arange(5), weights="linear"), abs=1e-12
    )
    assert float(weighted) != pytest.approx(cohen_kappa_score(a, b, weights="linear"))  # positions matter


def test_weighted_kappa_credits_near_misses_that_cohens_kappa_counts_as_misses():
    near = np.array([[40, 10, 0], [10, 40, 10], [0, 10, 40]])  # every disagreement one tier off
    weighted, _ = stats.kappa_from_confusion(near, weights="linear")
    unweighted, _ = stats.kappa_from_confusion(near)
    assert float(weighted) > float(unweighted)


def test_weighted_kappa_interval_brackets_the_estimate_and_is_reproducible():
    matrix = np.array(
        [[30, 5, 2, 0, 0], [6, 25, 4, 1, 0], [1, 3, 24, 5, 0], [0, 0, 4, 20, 3], [0, 1, 0, 2, 15]]
    )
    first = stats.kappa_interval(matrix, 1000, seed=5, weights="linear")
    assert first == stats.kappa_interval(matrix, 1000, seed=5, weights="linear")
    kappa, low, high, raw = first
    assert kappa == pytest.approx(float(stats.kappa_from_confusion(matrix, weights="linear")[0]))
    assert low < kappa < high and 0.05 < high - low < 0.3
    assert raw == pytest.approx(114 / 151)


def test_unknown_kappa_weights_are_refused():
    with pytest.raises(ValueError, match="linear"):
        stats.kappa_from_confusion(np.eye(3), weights="cubic")  # type: ignore[arg-type]


# --- expectation, over-dispersion, O/E limits --------------------------------------------------


def test_calibration_in_the_large_matches_each_group_total_and_keeps_the_order():
    rng = np.random.default_rng(4)
    p = rng.beta(2, 5, 3000)
    groups = rng.integers(0, 3, 3000)
    observed = np.array([600.0, 150.0, 2.0])
    q = stats.calibrate_in_the_large(p, groups, observed)
    np.testing.assert_allclose(np.bincount(groups, weights=q), observed, rtol=1e-8)
    for g in range(3):
        mine = groups == g
        assert np.array_equal(np.argsort(p[mine], kind="stable"), np.argsort(q[mine], kind="stable"))
    # a logit shift: the odds of every case in a group move by one factor
    odds = lambda x: x / (1 - x)  # noqa: E731
    ratio = odds(q[groups == 1]) / odds(np.clip(p[groups == 1], 1e-6, 1 - 1e-6))
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)


def test_standardised_z_uses_the_poisson_binomial_variance():
    z = stats.standardised_z([30, 10], [20.0, 10.0], [16.0, 0.0])
    assert z[0] == pytest.approx(10 / 4) and np.isnan(z[1])


def test_winsorising_pulls_the_tails_to_the_10th_and_90th_percentiles():
    x = np.arange(11, dtype=float)  # quantiles 1 and 9 (linear interpolation)
    np.testing.assert_array_equal(stats.winsorise(x), [1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9])


def test_winsorising_normal_z_at_10_percent_keeps_68_percent_of_their_mean_square():
    z = np.random.default_rng(0).standard_normal(400_000) * 3.0  # any scale
    moment = np.mean(stats.winsorise(z) ** 2) / 9.0
    assert stats.winsorised_normal_moment(0.1) == pytest.approx(0.6786545589528744, abs=1e-12)
    assert moment == pytest.approx(stats.winsorised_normal_moment(0.1), abs=0.005)


def test_dispersion_hand_computed():
    z = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 2.5, 4.0, -0.5, 1.5])
    se = np.array([0.1, 0.2, 0.1, 0.3, 0.2, 0.1, 0.15, 0.05, 0.25, 0.2])
    d = stats.dispersion(z, se)
    low, high = np.quantile(z, [0.1, 0.9])  # -1.2 and 2.65
    phi = np.mean(np.clip(z, low, high) ** 2) / 0.6786545589528744
    assert (low, high) == (pytest.approx(-1.2), pytest.approx(2.65))
    assert d.units == 10 and d.phi == pytest.approx(phi) and d.statistic == pytest.approx(10 * phi)
    assert d.p_value == pytest.approx(chi2.sf(10 * phi, 9))
    w = 1 / se**2
    assert d.p_value < 0.05
    assert d.tau2 == pytest.approx((10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum()))
    assert d.over_dispersed


def test_chance_spread_gives_phi_near_one_and_rarely_widens():
    # 1,000 specialties of 60 reviewers whose z-scores are pure chance
    rng = np.random.default_rng(8)
    runs = [stats.dispersion(rng.standard_normal(60), np.full(60, 0.1)) for _ in range(1000)]
    phi = np.array([d.phi for d in runs])
    widened = np.mean([d.over_dispersed for d in runs])
    print(f"chance alone: mean phi {phi.mean():.3f}, widened in {widened:.1%} of specialties")
    assert phi.mean() == pytest.approx(1.0, abs=0.03)  # the rescaled winsorised mean square is consistent
    # the winsorised phi varies more than a chi-square statistic, so the nominal 5% test widens
    # somewhat more often (about 9%): it errs towards wider limits, i.e. fewer flags
    assert 0.03 < widened < 0.13
    assert np.mean([d.tau2 for d in runs]) < 0.001
    few = stats.dispersion([1.0], [0.1])
    assert np.isnan(few.phi) and few.tau2 == 0.0


def test_oe_limits_widen_by_tau2_and_never_narrow_below_it():
    e = np.array([10.0, 100.0, 10_000.0])
    v = e * 0.7
    lo, hi = stats.oe_limits(e, v, 0.0, 0.95)
    np.testing.assert_allclose(hi - 1, 1.959964 * np.sqrt(0.7 / e), rtol=1e-6)
    lo_t, hi_t = stats.oe_limits(e, v, 0.04, 0.95)
    assert np.all(hi_t > hi) and np.all(lo_t < lo)
    assert hi_t[-1] == pytest.approx(1 + 1.959964 * np.sqrt(0.7 / 10_000 + 0.04), rel=1e-6)
    assert hi_t[-1] - 1 > 1.959964 * 0.2  # the floor: tau = 0.2
    lo_small, _ = stats.oe_limits(np.array([1.0]), np.array([0.9]), 0.0, 0.998)
    assert lo_small[0] == 0.0  # clipped at zero


def test_oe_interval_is_the_wilson_interval_of_the_rate_over_the_expected_rate():
    low, high = stats.oe_interval([30], [100], [20.0])
    w_low, w_high = stats.wilson_interval(30, 100)
    assert low[0] == pytest.approx(float(w_low) * 5) and high[0] == pytest.approx(float(w_high) * 5)
    assert low[0] < 1.5 < high[0]


def test_funnel_band_orders_the_limits_and_treats_the_edge_as_within():
    band = stats.funnel_band([0.5, 0.7, 0.95, 1.0, 1.2, 1.31, np.nan], 0.8, 1.2, 0.7, 1.3)
    assert band[:6].tolist() == [-2.0, -1.0, 0.0, 0.0, 0.0, 2.0] and np.isnan(band[6])
    assert stats.funnel_band([1.25], 0.8, 1.2, 0.7, 1.3).tolist() == [1.0]


# --- risk-adjusted CUSUM -------------------------------------------------------------------------


def test_ra_cusum_against_a_hand_computed_sequence():
    # Steiner et al. 2000 with R_A = 2: W = y log 2 - log(1 + p).
    #   case  p    y   W                          S = max(0, S + W)
    #   1     0.2  1   0.693147 - 0.182322 =  0.510826   0.510826
    #   2     0.5  1   0.693147 - 0.405465 =  0.287682   0.798508
    #   3     0.8  0   -log 1.8            = -0.587787   0.210721
    #   4     0.5  0   -log 1.5            = -0.405465   0 (floored)
    #   5     0.2  1                          0.510826   0.510826
    # then a second reviewer starts again from 0:
    #   6     0.5  0                         -0.405465   0
    #   7     0.5  1                          0.287682   0.287682
    p = np.array([0.2, 0.5, 0.8, 0.5, 0.2, 0.5, 0.5])
    y = np.array([1, 1, 0, 0, 1, 0, 1])
    w = stats.ra_cusum_scores(y, p, 2.0)
    np.testing.assert_allclose(
        w, [0.510826, 0.287682, -0.587787, -0.405465, 0.510826, -0.405465, 0.287682], atol=1e-6
    )
    path = stats.cusum_path(w, np.array(["a"] * 5 + ["b"] * 2))
    np.testing.assert_allclose(path, [0.510826, 0.798508, 0.210721, 0.0, 0.510826, 0.0, 0.287682], atol=1e-6)
    # R_A = 1/2 watches for fewer changes: W = -y log 2 - log(1 - p/2)
    down = stats.ra_cusum_scores(np.array([0, 1]), np.array([0.5, 0.5]), 0.5)
    np.testing.assert_allclose(down, [-np.log(0.75), -np.log(2) - np.log(0.75)])


def test_cusum_path_equals_the_recursion_over_many_groups():
    rng = np.random.default_rng(21)
    groups = np.sort(rng.integers(0, 300, 20_000))
    w = rng.normal(-0.05, 0.5, groups.size)
    path = stats.cusum_path(w, groups)
    s, expected = 0.0, np.empty_like(w)
    for i, (wi, g) in enumerate(zip(w, groups, strict=True)):  # the reference: a plain loop
        s = max(0.0, (0.0 if i and g != groups[i - 1] else s) + wi)
        expected[i] = s
    np.testing.assert_allclose(path, expected, atol=1e-9)


def _simulated_run_lengths(p_mix, odds_ratio, threshold, chains, rng):
    """Cases until S > h for `chains` in-control charts, cases drawn from the case mix."""
    s = np.zeros(chains)
    length = np.zeros(chains)
    alive = np.ones(chains, dtype=bool)
    t = 0
    while alive.any():
        t += 1
        p = rng.choice(p_mix, chains)
        s = np.maximum(0.0, s + stats.ra_cusum_scores(rng.random(chains) < p, p, odds_ratio))
        hit = alive & (s > threshold)
        length[hit] = t
        alive &= ~hit
    return length


@pytest.mark.parametrize("odds_ratio", [2.0, 0.5])
def test_cusum_threshold_gives_the_stated_in_control_run_length(odds_ratio):
    rng = np.random.default_rng(99)
    p_mix = rng.beta(2, 3, 4000)  # a case mix centred near 40% changes
    h = stats.ra_cusum_threshold(p_mix, odds_ratio, 400)
    assert stats.ra_cusum_arl(p_mix, odds_ratio, h) == pytest.approx(400, rel=0.01)
    simulated = _simulated_run_lengths(p_mix, odds_ratio, h, 4000, rng).mean()
    print(f"R={odds_ratio}: h={h:.3f}, Markov-chain ARL 400, simulated {simulated:.0f}")
    assert simulated == pytest.approx(400, rel=0.08)
    # a larger ARL needs a larger threshold
    assert stats.ra_cusum_threshold(p_mix, odds_ratio, 4000) > h
