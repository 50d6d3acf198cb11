"""Interval estimates the dashboards publish: Wilson, p-chart, funnel limits, kappa, bootstrap.

Everything is vectorised with numpy so a mart over a million cases costs a few array passes.
Method choices follow literature.md §4: Wilson intervals (Brown, Cai & DasGupta, Stat Sci 2001),
exact binomial funnel limits (Spiegelhalter, Stat Med 2005), Cohen's kappa with raw agreement
beside it and a bootstrap interval (Landis & Koch 1977 benchmarks).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

FloatArray = NDArray[np.float64]


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score limits for k of n; NaN where n is 0.

    Wilson rather than Wald because outcome cells are often small (a specialty's deferred cases
    in one month): Wald's coverage is erratic there and its limits leave [0, 1].
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


def p_chart_limits(
    center: ArrayLike, trials: ArrayLike, sigmas: float = 3.0
) -> tuple[FloatArray, FloatArray]:
    """Shewhart p-chart limits centre +- sigmas * sqrt(p(1-p)/n), clipped to [0, 1]; NaN where n is 0."""
    p = np.asarray(center, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = sigmas * np.sqrt(p * (1.0 - p) / n)
    lcl = np.where(n > 0, np.clip(p - half, 0.0, 1.0), np.nan)
    ucl = np.where(n > 0, np.clip(p + half, 0.0, 1.0), np.nan)
    return lcl, ucl


def funnel_limits(target: ArrayLike, trials: ArrayLike, coverage: float) -> tuple[FloatArray, FloatArray]:
    """Exact binomial funnel-plot limits around `target` for units of size `trials`.

    Spiegelhalter (Stat Med 2005, appendix): r_p is the binomial p-quantile, and the limit is
    interpolated as (r_p - alpha) / n with alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1)), which
    smooths the step function of the discrete quantile into a continuous funnel. Coverage 0.95
    and 0.998 are the 'alert' and 'alarm' limits (about 2 and 3 SD).
    """
    theta = np.asarray(target, dtype=float)
    n = np.asarray(trials, dtype=float)
    theta, n = np.broadcast_arrays(theta, n)
    tail = (1.0 - coverage) / 2.0
    out = []
    for p, edge in ((tail, 0.0), (1.0 - tail, 1.0)):
        r = sps.binom.ppf(p, n, theta)
        f_r = sps.binom.cdf(r, n, theta)
        f_r1 = sps.binom.cdf(r - 1, n, theta)
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.where(f_r > f_r1, (f_r - p) / (f_r - f_r1), 0.0)
            limit = (r - alpha) / n
        # A quantile at the end of the support (0 or n) cannot be passed: the limit is that end,
        # else a specialty rate of 1.0 would flag every reviewer at 100% as 'high'.
        at_edge = (r <= 0) if edge == 0.0 else (r >= n)
        limit = np.where(at_edge, edge, limit)
        out.append(np.where(n > 0, np.clip(limit, 0.0, 1.0), np.nan))
    return out[0], out[1]


def confusion_matrix(first: ArrayLike, second: ArrayLike, labels: ArrayLike) -> NDArray[np.int64]:
    """Counts of (first, second) label pairs, rows = first rater, in the order of `labels`."""
    labels = np.asarray(labels)
    order = np.argsort(labels)
    ranked = labels[order]

    def index(values: ArrayLike) -> NDArray[np.int64]:
        v = np.asarray(values)
        pos = np.clip(np.searchsorted(ranked, v), 0, len(ranked) - 1)
        if not np.array_equal(ranked[pos], v):
            raise ValueError("confusion_matrix: a value is not among the labels")
        return order[pos]

    a, b = index(first), index(second)
    k = len(labels)
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k)


def kappa_from_confusion(confusion: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Cohen's kappa and raw agreement from one (K, K) or a stack (..., K, K) of count matrices.

    NaN when chance agreement is 1 (both raters used one and the same label): kappa is undefined.
    """
    c = np.asarray(confusion, dtype=float)
    n = c.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        po = np.trace(c, axis1=-2, axis2=-1) / n
        pe = (c.sum(axis=-1) * c.sum(axis=-2)).sum(axis=-1) / (n * n)
        kappa = np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)
    return kappa, po


def kappa_interval(
    confusion: ArrayLike,
    resamples: int,
    seed: int | np.random.Generator,
    confidence: float = 0.95,
) -> tuple[float, float, float, float]:
    """(kappa, ci_low, ci_high, raw_agreement) with a case-resampling bootstrap interval.

    Kappa depends on the cases only through their confusion matrix, so resampling n cases with
    replacement is exactly a multinomial draw over the K*K cells: one vectorised call.
    """
    c = np.asarray(confusion, dtype=np.int64)
    n = int(c.sum())
    kappa, po = kappa_from_confusion(c)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, c.ravel() / n, size=resamples).reshape(resamples, *c.shape)
    boot, _ = kappa_from_confusion(draws)
    low, high = percentile_interval(boot, confidence)
    return float(kappa), float(low), float(high), float(po)


def percentile_interval(
    replicates: ArrayLike, confidence: float = 0.95, axis: int = 0
) -> tuple[FloatArray, FloatArray]:
    """Percentile bootstrap interval along `axis`, ignoring NaN replicates."""
    r = np.asarray(replicates, dtype=float)
    tail = (1.0 - confidence) / 2.0
    with np.errstate(all="ignore"):
        if np.isnan(r).all():
            shape = np.delete(np.array(r.shape), axis)
            return np.full(shape, np.nan), np.full(shape, np.nan)
        low, high = np.nanquantile(r, [tail, 1.0 - tail], axis=axis)
    return low, high


def bootstrap_sums(
    values: ArrayLike,
    strata: ArrayLike | None = None,
    *,
    n_strata: int | None = None,
    resamples: int = 1000,
    seed: int | np.random.Generator = 0,
    max_groups: int = 512,
    draw_budget: int = 4_000_000,
) -> FloatArray:
    """Bootstrap replicates of the per-stratum sum of `values`: shape (resamples, n_strata).

    Cases are resampled with replacement within each stratum (a stratified bootstrap: each
    specialty keeps its case count, so the programme cost per stratum is fixed and totals over
    strata are the row sums of the result). `strata` holds integer codes 0..n_strata-1.

    Why not a (resamples x cases) weight matrix: for a million cases that is 10^9 random draws.
    Resampling n cases is a multinomial draw of how many times each case is taken; cases with
    equal values are interchangeable, so drawing counts per distinct value is exact. When a
    stratum has more than `max_groups` distinct values, its sorted values are cut into
    `max_groups` equal-count groups: the group counts are drawn exactly, and the sum of c draws
    within a group (mean m, variance v) is added as c*m + sqrt(c*v)*Z, a within-group normal
    approximation that keeps the full variance. Cost: resamples x groups per stratum, so the
    group limit shrinks (never below 32) to keep resamples x groups x strata near `draw_budget`
    when there are many strata (e.g. one per health plan).
    """
    x = np.asarray(values, dtype=float)
    if np.isnan(x).any():
        raise ValueError("bootstrap_sums: values contain NaN; map missing values to 0 or drop them first")
    s = np.zeros(len(x), dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    k = int(n_strata if n_strata is not None else (s.max() + 1 if len(s) else 1))
    rng = np.random.default_rng(seed)
    max_groups = max(32, min(max_groups, draw_budget // max(1, resamples * k)))
    out = np.zeros((resamples, k))
    order = np.lexsort((x, s))
    xs, ss = x[order], s[order]
    bounds = np.searchsorted(ss, np.arange(k + 1))
    for j in range(k):
        xj = xs[bounds[j] : bounds[j + 1]]
        n = len(xj)
        if n == 0:
            continue
        starts = np.concatenate(([0], np.flatnonzero(np.diff(xj)) + 1))  # xj is sorted
        uniq, counts = xj[starts], np.diff(np.append(starts, n))
        if len(uniq) <= max_groups:
            draws = rng.multinomial(n, counts / n, size=resamples)
            out[:, j] = draws @ uniq
            continue
        edges = np.linspace(0, n, max_groups + 1).round().astype(np.int64)
        sizes = np.diff(edges)
        sums = np.add.reduceat(xj, edges[:-1])
        means = sums / sizes
        sq = np.add.reduceat((xj - np.repeat(means, sizes)) ** 2, edges[:-1])
        variances = sq / sizes
        draws = rng.multinomial(n, sizes / n, size=resamples)
        out[:, j] = draws @ means + np.sqrt(draws @ variances) * rng.standard_normal(resamples)
    return out
