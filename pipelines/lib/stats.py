"""Interval estimates the dashboards publish: Wilson, p-chart, funnel limits, kappa, bootstrap,
and the reviewer comparison (case-mix expectation, over-dispersion, O/E limits, risk-adjusted CUSUM).

Everything is vectorised with numpy so a mart over a million cases costs a few array passes.
Sources are cited by their key in docs/sources.md: Wilson intervals [brown2001], exact binomial
funnel limits [spiegelhalter2005], over-dispersed O/E funnels from winsorised z-scores
[spiegelhalter2005b] with a DerSimonian-Laird between-reviewer variance [dersimonian1986],
Cohen's kappa [cohen1960] and its linearly weighted form [cohen1968] with raw agreement beside it
and a bootstrap interval (Landis & Koch benchmarks [landis-koch1977]), and the Bernoulli
risk-adjusted CUSUM [steiner2000] whose average run length comes from a Markov chain
[brook-evans1972].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize as spo
from scipy import stats as sps
from threadpoolctl import threadpool_limits  # installed with scikit-learn

FloatArray = NDArray[np.float64]
KappaWeights = Literal["linear", "quadratic"] | None


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


def _agreement_weights(k: int, weights: KappaWeights) -> FloatArray:
    """(K, K) agreement weights: 1 on the diagonal, falling with the distance between positions.

    Linear: 1 - |i - j| / (K - 1); quadratic: 1 - (i - j)^2 / (K - 1)^2; None: the identity
    (Cohen's unweighted kappa). Positions are the label order, so the labels must be ordinal and
    complete (every tier 0-4 present as a row and column, used or not).
    """
    i, j = np.indices((k, k))
    if weights is None:
        return (i == j).astype(float)
    scale = max(k - 1, 1)
    if weights == "linear":
        return 1.0 - np.abs(i - j) / scale
    if weights == "quadratic":
        return 1.0 - (i - j) ** 2 / scale**2
    raise ValueError(f"kappa weights must be None, 'linear' or 'quadratic', got {weights!r}")


def kappa_from_confusion(confusion: ArrayLike, weights: KappaWeights = None) -> tuple[FloatArray, FloatArray]:
    """Cohen's kappa and raw agreement from one (K, K) or a stack (..., K, K) of count matrices.

    kappa_w = (p_o - p_e) / (1 - p_e) with p_o = sum(w * O) / n and p_e = sum(w * r c^T) / n^2
    (Cohen 1968 [cohen1968]); with w the identity this is Cohen's kappa [cohen1960]. Linear
    weights give partial credit to near misses: on the invasiveness tier, a 4 -> 3 change
    disagrees less than a 4 -> 0. Raw agreement is always the unweighted share on the diagonal.
    NaN when chance agreement is 1 (both raters used one and the same label): kappa is undefined.
    """
    c = np.asarray(confusion, dtype=float)
    w = _agreement_weights(c.shape[-1], weights)
    n = c.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.trace(c, axis1=-2, axis2=-1) / n
        po = (c * w).sum(axis=(-2, -1)) / n
        chance = c.sum(axis=-1)[..., :, None] * c.sum(axis=-2)[..., None, :]
        pe = (chance * w).sum(axis=(-2, -1)) / (n * n)
        kappa = np.where(pe < 1.0 - 1e-12, (po - pe) / (1.0 - pe), np.nan)
    return kappa, raw


def kappa_interval(
    confusion: ArrayLike,
    resamples: int,
    seed: int | np.random.Generator,
    confidence: float = 0.95,
    weights: KappaWeights = None,
) -> tuple[float, float, float, float]:
    """(kappa, ci_low, ci_high, raw_agreement) with a case-resampling bootstrap interval.

    Kappa depends on the cases only through their confusion matrix, so resampling n cases with
    replacement is exactly a multinomial draw over the K*K cells: one vectorised call.
    `weights` as in `kappa_from_confusion` (None: Cohen's kappa; "linear": weighted kappa).
    """
    c = np.asarray(confusion, dtype=np.int64)
    n = int(c.sum())
    kappa, po = kappa_from_confusion(c, weights)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, c.ravel() / n, size=resamples).reshape(resamples, *c.shape)
    boot, _ = kappa_from_confusion(draws, weights)
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


# --- Reviewer comparison: expectation from case mix, over-dispersed O/E funnels, CUSUM -----------

#: Probabilities are kept this far from 0 and 1: a logit shift needs finite logits, and a case
#: the model calls certain must still add a little variance rather than divide by zero.
PROBABILITY_FLOOR = 1e-6


def calibrate_in_the_large(
    probability: ArrayLike, groups: ArrayLike, observed: ArrayLike, iterations: int = 60
) -> FloatArray:
    """Each group's probabilities moved by one shift on the logit scale so that they sum to the
    group's observed count: logit p' = logit p + delta_g with sum_g p' = O_g.

    Why: a reviewer is compared with what their specialty's reviewers do with such cases. A model
    whose scores run 5% low for one specialty would otherwise make every reviewer there look
    'higher than expected'; the stratum fallback is calibrated by construction, the model is not.
    A logit shift keeps every probability inside (0, 1) and the cases' order unchanged, which
    scaling would not. Newton's method on f(delta) = sum expit(logit p + delta) - O (derivative
    sum p'(1 - p')), all groups at once; steps are capped at 2 logits so a group whose observed
    count is 0 or all of its cases converges to the edge instead of overshooting.
    `groups` are integer codes 0..G-1; `observed[g]` is group g's count.
    """
    p = np.clip(np.asarray(probability, dtype=float), PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    g = np.asarray(groups, dtype=np.int64)
    target = np.asarray(observed, dtype=float)
    logit = np.log(p / (1.0 - p))
    delta = np.zeros(target.size)
    for _ in range(iterations):  # a fixed handful of array passes, not a loop over rows
        q = 1.0 / (1.0 + np.exp(-(logit + delta[g])))
        total = np.bincount(g, weights=q, minlength=target.size)
        slope = np.bincount(g, weights=q * (1.0 - q), minlength=target.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(slope > 0, (target - total) / slope, 0.0)
        delta += np.clip(step, -2.0, 2.0)
        if np.all(np.abs(target - total) <= 1e-9 * np.maximum(1.0, target)):
            break
    out = 1.0 / (1.0 + np.exp(-(logit + delta[g])))
    return np.clip(out, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)


def standardised_z(observed: ArrayLike, expected: ArrayLike, variance: ArrayLike) -> FloatArray:
    """z = (O - E) / sqrt(V): O observed events, E = sum p, V = sum p(1 - p) over a unit's cases.

    V is the variance of O when each case is an independent Bernoulli(p) trial (a Poisson-binomial
    count), so z is the unit's standardised distance from its case-mix expectation; NaN where V = 0.
    """
    o, e, v = (np.asarray(x, dtype=float) for x in (observed, expected, variance))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, (o - e) / np.sqrt(v), np.nan)


def winsorise(values: ArrayLike, fraction: float = 0.1) -> FloatArray:
    """Values beyond the `fraction` and 1 - `fraction` quantiles pulled in to those quantiles.

    Spiegelhalter [spiegelhalter2005b] winsorises z-scores at 10%/90% before estimating
    over-dispersion, so the outliers a funnel is for cannot widen the limits that should catch them.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return x
    low, high = np.quantile(x, [fraction, 1.0 - fraction])
    return np.clip(x, low, high)


def winsorised_normal_moment(fraction: float = 0.1) -> float:
    """E[z_w^2] for z ~ N(0, 1) winsorised at its `fraction` and 1 - `fraction` quantiles +-c:
    (1 - 2f) - 2 c phi(c) + 2 f c^2 (0.679 at 10%), the factor by which winsorising shrinks the
    mean square of normal z-scores."""
    c = float(sps.norm.ppf(1.0 - fraction))
    return (1.0 - 2.0 * fraction) - 2.0 * c * float(sps.norm.pdf(c)) + 2.0 * fraction * c * c


@dataclass(frozen=True)
class Dispersion:
    """Over-dispersion of one set of units (one specialty's reviewers) around their expectation.

    phi: the winsorised mean squared z, made consistent for normal z (1 when units differ by
    chance alone); statistic = units * phi is compared with chi-square on units - 1 degrees of
    freedom (the null expectation the DerSimonian-Laird estimator uses); tau2: the additive
    between-unit variance of O/E, 0 unless the test finds over-dispersion at `alpha`.
    """

    units: int
    phi: float
    statistic: float
    p_value: float
    tau2: float
    alpha: float

    @property
    def over_dispersed(self) -> bool:
        return self.tau2 > 0


def dispersion(
    z: ArrayLike, standard_error: ArrayLike, *, winsor: float = 0.1, alpha: float = 0.05
) -> Dispersion:
    """phi from winsorised z-scores and the DerSimonian-Laird tau^2 [dersimonian1986] for O/E.

    phi = (1/I) sum z_w^2 / m over the I units, z_w the z-scores winsorised at 10%/90%
    [spiegelhalter2005b] and m = `winsorised_normal_moment` (0.679); Q = I phi;
    p = P(chi2_{I-1} >= Q). When p < alpha, tau^2 = max(0, (Q - (I - 1)) / (sum w - sum w^2 / sum w))
    with w = 1 / s^2, s the standard error of a unit's O/E under the null (sqrt(V) / E). Units
    with a non-finite z or s are left out (no expected variation to measure them against).

    Why divide by m: winsorising normal z-scores at their own 10% and 90% quantiles shrinks their
    mean square to 0.679 of the variance, whatever that variance is. Left uncorrected, reviewers
    who differ by chance alone give phi near 0.68, the chi-square test then misses real
    over-dispersion and tau^2 comes out too small, so busy reviewers are flagged for ordinary
    spread: in the project's null simulation 11% were flagged at 95% and 1.6% at 99.8%, against
    6.5% and 0.5% with the correction (tests/marts/test_reviewer_comparison.py). The constant is the
    usual consistency factor of a winsorised variance; it keeps the robustness (the outliers still
    cannot inflate phi) and restores the scale.

    Why the additive tau^2 and not the multiplicative phi: reviewers genuinely differ (training,
    referral habits), by an amount that does not shrink with how many cases they review. Scaling
    the binomial variance by phi keeps the funnel's shape, so its limits still close in on a busy
    reviewer and flag them for a difference that is ordinary between reviewers; with tau^2 the
    limits never get narrower than the between-reviewer spread, while small reviewers keep the
    binomial width they need. Spiegelhalter finds the random-effects form the better founded of
    the two [spiegelhalter2005b].
    """
    zs = np.asarray(z, dtype=float)
    se = np.asarray(standard_error, dtype=float)
    keep = np.isfinite(zs) & np.isfinite(se) & (se > 0)
    zs, se = zs[keep], se[keep]
    units = int(zs.size)
    if units < 2:
        return Dispersion(units, float("nan"), float("nan"), float("nan"), 0.0, alpha)
    phi = float(np.mean(winsorise(zs, winsor) ** 2)) / winsorised_normal_moment(winsor)
    statistic = units * phi
    p_value = float(sps.chi2.sf(statistic, units - 1))
    tau2 = 0.0
    if p_value < alpha:
        w = 1.0 / se**2
        tau2 = max(0.0, (statistic - (units - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return Dispersion(units, phi, statistic, p_value, tau2, alpha)


def oe_limits(
    expected: ArrayLike, variance: ArrayLike, tau2: ArrayLike, coverage: float
) -> tuple[FloatArray, FloatArray]:
    """Funnel limits for an indirectly standardised ratio O/E around its target 1:
    1 -+ z_c sqrt(V / E^2 + tau^2), the lower clipped at 0; NaN where E or V is 0.

    With tau^2 = 0 these are the normal limits of the Poisson-binomial count; tau^2 > 0 adds the
    between-reviewer variance [spiegelhalter2005b]. Coverage 0.95 and 0.998 as for the raw funnel.
    """
    e, v, t = (np.asarray(x, dtype=float) for x in (expected, variance, tau2))
    z = _z(coverage)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = z * np.sqrt(v / (e * e) + t)
    ok = (e > 0) & (v > 0)
    return np.where(ok, np.maximum(1.0 - half, 0.0), np.nan), np.where(ok, 1.0 + half, np.nan)


def oe_interval(
    observed: ArrayLike, trials: ArrayLike, expected: ArrayLike, confidence: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Confidence interval of a unit's O/E: the Wilson interval of its rate O/n over its expected
    rate E/n (E is fixed by the case mix, so the ratio's uncertainty is the rate's)."""
    n = np.asarray(trials, dtype=float)
    e = np.asarray(expected, dtype=float)
    low, high = wilson_interval(observed, trials, confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(e > 0, n / e, np.nan)
    return low * scale, high * scale


def funnel_band(
    value: ArrayLike, low95: ArrayLike, high95: ArrayLike, low998: ArrayLike, high998: ArrayLike
) -> FloatArray:
    """Where a value sits in its funnel: 2 / -2 beyond the 99.8% limits above / below, 1 / -1
    beyond the 95% ones, 0 within; NaN where the value or a limit is missing. A value exactly on
    a limit is within it."""
    v, l95, h95, l998, h998 = (np.asarray(x, dtype=float) for x in (value, low95, high95, low998, high998))
    band = np.select([v > h998, v > h95, v < l998, v < l95], [2.0, 1.0, -2.0, -1.0], default=0.0)
    missing = np.isnan(v) | np.isnan(l95) | np.isnan(h95) | np.isnan(l998) | np.isnan(h998)
    return np.where(missing, np.nan, band)


def ra_cusum_scores(outcome: ArrayLike, probability: ArrayLike, odds_ratio: float) -> FloatArray:
    """Steiner et al.'s [steiner2000] log-likelihood-ratio score of each case, testing odds
    multiplied by R_A against the case's expected odds (R_0 = 1):

        W = y log(R_A) - log(1 - p + R_A p)

    y is 1 when the plan was changed, p the case's expected change probability. R_A > 1 watches for
    more changes than expected, R_A < 1 for fewer.
    """
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(probability, dtype=float)
    return y * np.log(odds_ratio) - np.log(1.0 - p + odds_ratio * p)


def cusum_path(scores: ArrayLike, groups: ArrayLike) -> FloatArray:
    """S_t = max(0, S_{t-1} + W_t) from S_0 = 0, restarted for every group, without a row loop.

    Rows must be sorted by group, then time. By Lindley's identity S_t = C_t - min(0, min_{s<=t} C_s)
    with C the running sum of W within the group. The running minimum is taken over the whole
    array after lowering each group by a step larger than any within-group range, so no group can
    see an earlier group's minimum.
    """
    w = np.asarray(scores, dtype=float)
    g = np.asarray(groups)
    if w.size == 0:
        return w
    start = np.r_[True, g[1:] != g[:-1]]
    first = np.flatnonzero(start)
    label = np.cumsum(start) - 1
    total = np.cumsum(w)
    before = np.r_[0.0, total][first]  # running sum before each group's first row
    c = total - before[label]
    step = 2.0 * np.abs(c).max() + 1.0
    running_min = np.minimum.accumulate(c - step * label) + step * label
    return c - np.minimum(running_min, 0.0)


def _score_atoms(
    probabilities: ArrayLike, odds_ratio: float, quantiles: int
) -> tuple[FloatArray, FloatArray]:
    """The in-control distribution of one case's score: atoms and their probabilities.

    The case mix enters as `quantiles` equally likely quantiles of the cases' probabilities;
    each contributes W(y=1) with probability p and W(y=0) with 1 - p (the case behaves as expected).
    """
    p = np.asarray(probabilities, dtype=float)
    p = np.quantile(p, (np.arange(quantiles) + 0.5) / quantiles) if p.size > quantiles else p
    mass = np.full(p.size, 1.0 / p.size)
    w1 = ra_cusum_scores(np.ones_like(p), p, odds_ratio)
    w0 = ra_cusum_scores(np.zeros_like(p), p, odds_ratio)
    return np.concatenate([w1, w0]), np.concatenate([mass * p, mass * (1.0 - p)])


def ra_cusum_arl(
    probabilities: ArrayLike, odds_ratio: float, threshold: float, *, states: int = 300, quantiles: int = 64
) -> float:
    """In-control average run length (cases until S first exceeds h) of the Bernoulli
    risk-adjusted CUSUM [steiner2000], by the Markov-chain approximation of Brook & Evans
    [brook-evans1972].

    [0, h] is cut into `states` cells of width d = h / (states - 1/2), cell j holding S near j d;
    from cell i a score W leads to cell round(max(0, i d + W) / d), or out (a signal) past h. With
    Q the transient transition matrix, the run lengths from each cell solve (I - Q) L = 1, and the
    ARL from S_0 = 0 is L_0. Case mix: `probabilities`, the expected change probability of the
    cases the chart will watch.
    """
    atoms, mass = _score_atoms(probabilities, odds_ratio, quantiles)
    d = threshold / (states - 0.5)
    value = np.maximum(0.0, np.arange(states)[:, None] * d + atoms[None, :])
    target = np.floor(value / d + 0.5).astype(np.int64)
    inside = value < threshold
    rows = np.broadcast_to(np.arange(states)[:, None], target.shape)
    weights = np.broadcast_to(mass[None, :], target.shape)
    q = np.bincount(
        (rows * states + np.minimum(target, states - 1))[inside],
        weights=weights[inside],
        minlength=states * states,
    ).reshape(states, states)
    try:
        run_lengths = np.linalg.solve(np.eye(states) - q, np.ones(states))
    except np.linalg.LinAlgError:  # the chart never leaves its cells: it cannot signal
        return float("inf")
    return float(run_lengths[0])


def ra_cusum_threshold(
    probabilities: ArrayLike, odds_ratio: float, arl: float, *, states: int = 300, quantiles: int = 64
) -> float:
    """The threshold h at which the risk-adjusted CUSUM's in-control ARL is `arl` cases.

    The ARL grows with h, so the root of log ARL(h) - log arl is bracketed (h doubled until the
    ARL passes the target) and found by Brent's method; the case mix is the one the chart watches.
    NaN when that case mix leaves nothing to watch (every case expected to change, or none: each
    case's score is then about 0 whatever happens), so the chart never signals.
    """
    atoms, mass = _score_atoms(probabilities, odds_ratio, quantiles)
    if float(np.sum(mass * np.abs(atoms))) < 1e-3:
        return float("nan")

    def gap(h: float) -> float:
        value = ra_cusum_arl(probabilities, odds_ratio, h, states=states, quantiles=quantiles)
        return float(np.log(value) - np.log(arl))

    # One BLAS thread: a few hundred small solves, where threads only contend on a shared machine
    # (a 300 x 300 solve took 69 ms on two busy threads, 4 ms on one).
    with threadpool_limits(limits=1, user_api="blas"):
        low, high = 1e-3, 1.0
        while gap(high) < 0:
            low, high = high, high * 2.0
            if high > 1e3:
                raise ValueError(f"ra_cusum_threshold: no threshold below 1000 reaches an ARL of {arl:g}")
        return float(spo.brentq(gap, low, high, xtol=1e-4))
