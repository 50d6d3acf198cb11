"""Bootstrap intervals of cost avoided that carry the estimation of `c`, every `l` and the observed prices.

Why a bootstrap of its own: `c`, `l` and the observed prices are estimated from the same cases
whose savings they price, so holding them fixed inside the resampling understates the
uncertainty (a 95% interval covered the truth 86% of the time in simulation). Each replicate
resamples cases and re-estimates all three, fallbacks included (pipelines.lib.core.rates).

How it stays fast at a million cases (one machine, 1,000 replicates):
- Cases that agree on everything the estimates and the formula use (specialty, outcome, initial
  and recommended code, closure, evidence, billing) are interchangeable, so resampling n cases
  of a specialty is a multinomial draw of how many times each such *key* is taken: one array of
  shape (replicates, keys) instead of (replicates, cases). Keys number a few thousand.
- Within a key only the observed cost O of a verified case varies; the sum of its draws is
  added as count x mean + sqrt(count x variance) x Z (the within-group normal term of
  stats.bootstrap_sums).
- An observed price is the mean allowed amount of a code's claims. A replicate's claim count M*
  of the code follows from the key counts; the mean of M* resampled amounts is redrawn as
  mean + SD x Z / sqrt(M*), and the code falls back to the catalogue when M* < 11, as the point
  estimate would.

Stratified by specialty: each specialty keeps its number of reviews, so its programme cost is a
fixed number (reviews x fee), as it is for the payer; the interval is for the savings of these
reviews, not of a differently sized programme. Segments (payer type, plan) are resampled within
each segment, with the replicate's `c`, `l` and prices of the main draw; within a segment the
procedures of a key vary and enter by the same normal term (their mean and covariance), and a
price's redraw enters linearly through the segment's counts of that code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.lib.core.claims import LEAKAGE_OUTCOMES, PRICED_CHANGE_OUTCOMES
from pipelines.lib.core.prices import MIN_CLAIMS_OBSERVED_PRICE
from pipelines.lib.core.rates import completion_in_force, leakage_in_force

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
#: The flags of a case that the estimates and the formula read (sql/cost_cases.sql).
FLAGS: tuple[str, ...] = ("priced", "unpriced", "closed", "c_den", "c_num", "l_den", "l_num", "verified")
OUTCOME_INDEX = {o: i for i, o in enumerate(LEAKAGE_OUTCOMES)}


@dataclass(frozen=True)
class PriceModel:
    """What a replicate needs to re-price every code used by a priced case."""

    codes: list[str]
    point: FloatArray  # the price in force (core.prices)
    fixed: NDArray[np.bool_]  # payer prices, and codes never priced by claims, do not move
    mean: FloatArray
    sd: FloatArray
    fallback: FloatArray  # the catalogue price (else the observed mean) when M* < 11
    outside: FloatArray  # claims with an amount of cases not resampled (pending, unknown ids)


@dataclass(frozen=True)
class RateModel:
    """The specialties (strata) and what their rates fall back to."""

    specialties: list[str]
    reference_c: FloatArray
    default_l: FloatArray
    conservative: FloatArray
    workup: FloatArray
    min_cases: int
    discount: float


@dataclass
class Keys:
    """Interchangeable cases: one row per key, its count and what the formula reads of it."""

    stratum: IntArray
    spec: IntArray
    outcome: IntArray  # index into LEAKAGE_OUTCOMES, -1 for confirmed / unclassified
    n: IntArray
    init: IntArray  # code index of the initial procedure, -1 where not priced
    rec: IntArray  # code index of the recommended procedure (priced changes), else -1
    flags: dict[str, NDArray[np.bool_]]
    o_mean: FloatArray
    o_var: FloatArray
    claims: FloatArray  # (keys, codes): mean claims with an amount per case, for M*


@dataclass(frozen=True)
class Replicates:
    """Per replicate (rows) and stratum (columns): the totals an interval is taken from."""

    gross: FloatArray
    deferred: FloatArray
    realized: FloatArray
    cohort: FloatArray


def price_model(prices: pl.DataFrame, codes: list[str], outside: dict[str, float]) -> PriceModel:
    """The codes' prices in force and, for those that claims may price, their claims' mean and SD."""
    table = pl.DataFrame({"procedure_code": codes}, schema={"procedure_code": pl.Utf8}).join(
        prices, on="procedure_code", how="left"
    )
    point = table["price"].fill_null(np.nan).to_numpy().astype(float)
    observable = (table["payer_price"].is_null() & (table["n_observed_claims"].fill_null(0) > 0)).to_numpy()
    mean = table["observed_mean"].fill_null(np.nan).to_numpy().astype(float)
    fallback = table["catalogue_price"].fill_null(np.nan).to_numpy().astype(float)
    return PriceModel(
        codes=codes,
        point=point,
        fixed=~observable,
        mean=mean,
        sd=table["observed_sd"].fill_null(0.0).to_numpy().astype(float),
        fallback=np.where(np.isnan(fallback), mean, fallback),
        outside=np.array([outside.get(c, 0.0) for c in codes], dtype=float),
    )


def rate_model(
    baseline: pl.DataFrame, leakage: pl.DataFrame, pathways: pl.DataFrame, min_cases: int, discount: float
) -> RateModel:
    specialties = sorted(set(baseline["specialty"].to_list()))
    frame = pl.DataFrame({"specialty": specialties})
    ref = frame.join(baseline.select("specialty", "reference_rate"), on="specialty", how="left")
    default = frame.join(
        leakage.group_by("specialty").agg(pl.col("default_leakage").first()), on="specialty", how="left"
    )
    paths = frame.join(
        pathways.select("specialty", "conservative_cost_usd", "workup_cost_usd"), on="specialty", how="left"
    )
    return RateModel(
        specialties=specialties,
        reference_c=ref["reference_rate"].fill_null(1.0).to_numpy().astype(float),
        default_l=default["default_leakage"].fill_null(np.nan).to_numpy().astype(float),
        conservative=paths["conservative_cost_usd"].fill_null(0.0).to_numpy().astype(float),
        workup=paths["workup_cost_usd"].fill_null(0.0).to_numpy().astype(float),
        min_cases=int(min_cases),
        discount=float(discount),
    )


KEY_COLUMNS: tuple[str, ...] = ("specialty", "outcome", "initial_code", "recommended_code", *FLAGS)


def codes_of(keys: pl.DataFrame) -> list[str]:
    """The codes a priced key names (sql/cost_keys.sql): the only prices the formula reads."""
    used = pl.concat(
        [keys.select(pl.col("initial_code").alias("c")), keys.select(pl.col("recommended_code").alias("c"))]
    )
    return sorted(used["c"].drop_nulls().unique().to_list())


def keys_from(
    grouped: pl.DataFrame, claims: pl.DataFrame | None, specialties: list[str], codes: list[str]
) -> Keys:
    """Keys (sql/cost_keys.sql, one row per key) as arrays, in strata by specialty.

    `claims` (sql/cost_key_claims.sql: key columns, code, n_claims) gives each key's mean claims
    with an amount per case, for the replicates' claim count of each code.
    """
    code_index = {c: i for i, c in enumerate(codes)}
    spec_index = {s: i for i, s in enumerate(specialties)}
    unknown = set(grouped["specialty"].unique().to_list()) - set(specialties)
    if unknown:
        raise ValueError(
            f"core.case_costs names specialties without a row in core.baseline_rates: {sorted(unknown)}"
        )
    grouped = grouped.sort(list(KEY_COLUMNS), nulls_last=True).with_row_index("_key")
    matrix = np.zeros((grouped.height, len(codes)))
    if claims is not None and claims.height and grouped.height and codes:
        per_key = claims.filter(pl.col("code").is_in(codes)).join(
            grouped.select("_key", "n", *KEY_COLUMNS), on=list(KEY_COLUMNS), nulls_equal=True
        )
        if per_key.height:
            rows = per_key["_key"].to_numpy().astype(np.int64)
            cols = per_key["code"].replace_strict(code_index, return_dtype=pl.Int64).to_numpy()
            np.add.at(matrix, (rows, cols), per_key["n_claims"].to_numpy() / per_key["n"].to_numpy())

    def idx(col: str) -> IntArray:
        return grouped[col].replace_strict(code_index, default=-1, return_dtype=pl.Int64).to_numpy()

    spec = grouped["specialty"].replace_strict(spec_index, return_dtype=pl.Int64).to_numpy()
    return Keys(
        stratum=spec,
        spec=spec,
        outcome=grouped["outcome"]
        .replace_strict(OUTCOME_INDEX, default=-1, return_dtype=pl.Int64)
        .to_numpy(),
        n=grouped["n"].to_numpy().astype(np.int64),
        init=idx("initial_code"),
        rec=idx("recommended_code"),
        flags={f: grouped[f].to_numpy().astype(bool) for f in FLAGS},
        o_mean=grouped["o_mean"].fill_null(0.0).to_numpy().astype(float),
        o_var=grouped["o_var"].fill_null(0.0).to_numpy().astype(float),
        claims=matrix,
    )


def draw_counts(keys: Keys, n_strata: int, resamples: int, rng: np.random.Generator) -> FloatArray:
    """(replicates, keys): how often each key is taken when each stratum's cases are resampled."""
    draws = np.zeros((resamples, keys.n.size))
    for j in range(n_strata):
        mine = np.flatnonzero(keys.stratum == j)
        total = int(keys.n[mine].sum())
        if total:
            draws[:, mine] = rng.multinomial(total, keys.n[mine] / total, size=resamples)
    return draws


def rates_and_prices(
    keys: Keys,
    draws: FloatArray,
    rates: RateModel,
    prices: PriceModel,
    rng: np.random.Generator | None,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(c, l, P) per replicate, re-estimated from the drawn keys: shapes (R, S), (R, S, O), (R, codes).

    Without `rng` nothing is redrawn (the point estimate, when `draws` are the keys' own counts).
    """
    s_count, o_count = len(rates.specialties), len(LEAKAGE_OUTCOMES)
    spec_onehot = np.zeros((keys.n.size, s_count))
    spec_onehot[np.arange(keys.n.size), keys.spec] = 1.0
    f = keys.flags
    n_c = draws @ (spec_onehot * f["c_den"][:, None])
    k_c = draws @ (spec_onehot * f["c_num"][:, None])
    cell = np.zeros((keys.n.size, s_count * o_count))
    changed = keys.outcome >= 0
    cell[np.flatnonzero(changed), (keys.spec * o_count + keys.outcome)[changed]] = 1.0
    n_l = (draws @ (cell * f["l_den"][:, None])).reshape(-1, s_count, o_count)
    k_l = (draws @ (cell * f["l_num"][:, None])).reshape(-1, s_count, o_count)
    c, _ = completion_in_force(n_c, k_c, rates.reference_c, rates.min_cases)
    leak, _ = leakage_in_force(n_l, k_l, rates.default_l, rates.min_cases)
    m_star = draws @ keys.claims + prices.outside
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = 0.0 if rng is None else rng.standard_normal(m_star.shape) * prices.sd / np.sqrt(m_star)
        observed = np.where(m_star > 0, prices.mean + noise, np.nan)
    redrawn = np.where(m_star >= MIN_CLAIMS_OBSERVED_PRICE, observed, prices.fallback)
    p = np.where(prices.fixed, prices.point, redrawn)
    return c, leak, np.nan_to_num(p, nan=0.0)


def _unit_values(
    keys: Keys, c: FloatArray, leak: FloatArray, p: FloatArray, rates: RateModel
) -> tuple[FloatArray, FloatArray]:
    """(projected avoided, E0) per case of each key and replicate: shape (R, keys)."""
    has_init, has_rec = keys.init >= 0, keys.rec >= 0
    p_init = np.where(has_init, p[:, np.maximum(keys.init, 0)], 0.0)
    p_rec = np.where(has_rec, p[:, np.maximum(keys.rec, 0)], 0.0)
    conservative = rates.conservative[keys.spec]
    o = np.maximum(keys.outcome, 0)
    pathway_cost = np.where(
        keys.outcome == OUTCOME_INDEX["non_surgical"],
        conservative,
        np.where(keys.outcome == OUTCOME_INDEX["deferred"], rates.workup[keys.spec], 0.0),
    )
    priced_change = np.isin(keys.outcome, [OUTCOME_INDEX[x] for x in PRICED_CHANGE_OUTCOMES])
    plan = np.where(priced_change, p_rec, pathway_cost)
    c_k = c[:, keys.spec]
    l_k = leak[:, keys.spec, o]
    e0 = c_k * p_init + (1.0 - c_k) * conservative
    e1 = plan + l_k * p_init
    gross = np.where(keys.flags["priced"], (e0 - e1) * rates.discount, 0.0)
    return gross, e0


def sum_by(values: FloatArray, group: IntArray, n_groups: int) -> FloatArray:
    """Column sums of `values` (replicates, items) per group of the items: shape (replicates, n_groups)."""
    out = np.zeros((values.shape[0], n_groups))
    if group.size == 0:
        return out
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    out[:, g[starts]] = np.add.reduceat(values[:, order], starts, axis=1)
    return out


def _by_stratum(values: FloatArray, keys: Keys, n_strata: int) -> FloatArray:
    return sum_by(values, keys.stratum, n_strata)


def totals(
    keys: Keys,
    draws: FloatArray,
    c: FloatArray,
    leak: FloatArray,
    p: FloatArray,
    rates: RateModel,
    n_strata: int,
    rng: np.random.Generator | None,
) -> Replicates:
    """Gross, deferred line, verified gross and closed cohort per replicate and stratum."""
    gross_unit, e0 = _unit_values(keys, c, leak, p, rates)
    deferred = keys.outcome == OUTCOME_INDEX["deferred"]
    verified = keys.flags["verified"]
    o_sum = draws * keys.o_mean
    if rng is not None:
        o_sum = o_sum + np.sqrt(draws * keys.o_var) * rng.standard_normal(draws.shape)
    realized = np.where(verified, draws * e0 - o_sum, 0.0)
    return Replicates(
        gross=_by_stratum(draws * gross_unit, keys, n_strata),
        deferred=_by_stratum(np.where(deferred, draws * gross_unit, 0.0), keys, n_strata),
        realized=_by_stratum(realized, keys, n_strata),
        cohort=_by_stratum(draws * keys.flags["closed"], keys, n_strata),
    )


@dataclass(frozen=True)
class MainDraw:
    """The main (by specialty) bootstrap: its replicates and the re-estimated c, l and P behind them."""

    specialties: list[str]
    replicates: Replicates
    c: FloatArray
    leak: FloatArray
    p: FloatArray
    prices: PriceModel
    rates: RateModel


def main_bootstrap(
    grouped: pl.DataFrame,
    claims: pl.DataFrame | None,
    outside: dict[str, float],
    prices: pl.DataFrame,
    rates: RateModel,
    resamples: int,
    seed: int,
) -> MainDraw:
    """Resample cases within specialties; re-estimate c, every l and the observed prices each time."""
    codes = codes_of(grouped)
    model = price_model(prices, codes, outside)
    keys = keys_from(grouped, claims, rates.specialties, codes)
    strata = len(rates.specialties)
    rng = np.random.default_rng(seed)
    draws = draw_counts(keys, strata, resamples, rng)
    c, leak, p = rates_and_prices(keys, draws, rates, model, rng)
    return MainDraw(
        rates.specialties, totals(keys, draws, c, leak, p, rates, strata, rng), c, leak, p, model, rates
    )


def point_totals(
    grouped: pl.DataFrame,
    claims: pl.DataFrame | None,
    outside: dict[str, float],
    prices: pl.DataFrame,
    rates: RateModel,
) -> Replicates:
    """The replicate arithmetic on the observed counts, nothing redrawn: equals the case-level sums."""
    codes = codes_of(grouped)
    keys = keys_from(grouped, claims, rates.specialties, codes)
    draws = keys.n[None, :].astype(float)
    c, leak, p = rates_and_prices(keys, draws, rates, price_model(prices, codes, outside), None)
    return totals(keys, draws, c, leak, p, rates, len(rates.specialties), None)


SEGMENT_FLAGS: tuple[str, ...] = ("priced", "verified", "closed")


def _moment(grouped: pl.DataFrame, a: str, b: str) -> FloatArray:
    """Within-key covariance of two case values."""
    first, second = sorted((a, b), key=("x_init", "x_rec", "x_o").index)
    return (
        grouped[f"s_{first}_{second}"].to_numpy()
        - grouped[f"m_{a}"].to_numpy() * grouped[f"m_{b}"].to_numpy()
    )


def segment_bootstrap(
    seg_keys: pl.DataFrame, seg_codes: pl.DataFrame, main: MainDraw, seed: int
) -> tuple[list[str], Replicates]:
    """Replicates per segment of one dimension: cases resampled within each segment, priced with
    the main draw's c, l and P of the same replicate (their correlation with the segment's own
    draw is not kept: it is small unless a segment holds most of a specialty's cases).

    `seg_keys` (sql/cost_segment_keys.sql) holds coarse keys: within a key the procedures vary,
    and for the replicate's c and l the key's gross is linear in the sums of P(initial) and
    P(plan) over its draws, so its within-key noise is one normal term with the variance of that
    combination (likewise the verified saving, E0 - O). `seg_codes` (sql/cost_segment_codes.sql)
    carries the segment's counts per code, through which a redrawn price enters linearly.
    """
    labels = sorted(seg_keys["segment"].unique().to_list())
    seg_index = {v: i for i, v in enumerate(labels)}
    spec_index = {s: i for i, s in enumerate(main.specialties)}
    grouped = seg_keys.with_columns(
        pl.col("segment").replace_strict(seg_index, return_dtype=pl.Int64).alias("_seg"),
        pl.col("specialty").replace_strict(spec_index, default=0, return_dtype=pl.Int64).alias("_spec"),
        pl.col("outcome").replace_strict(OUTCOME_INDEX, default=-1, return_dtype=pl.Int64).alias("_o"),
    ).sort("_seg", "_spec", "_o", *SEGMENT_FLAGS)
    rng = np.random.default_rng([seed, 1])
    resamples, n_seg = main.c.shape[0], len(labels)
    rates, o_count = main.rates, len(LEAKAGE_OUTCOMES)
    k = grouped.height
    seg, spec, outc = (grouped[c].to_numpy() for c in ("_seg", "_spec", "_o"))
    n = grouped["n"].to_numpy()
    flags = {f: grouped[f].to_numpy().astype(bool) for f in SEGMENT_FLAGS}
    m_init, m_rec, m_o = (grouped[f"m_{x}"].to_numpy() for x in ("x_init", "x_rec", "x_o"))
    v_ii, v_rr, v_oo = (_moment(grouped, x, x) for x in ("x_init", "x_rec", "x_o"))
    v_ir, v_io = _moment(grouped, "x_init", "x_rec"), _moment(grouped, "x_init", "x_o")
    draws = np.zeros((resamples, k))
    for j in range(n_seg):
        mine = np.flatnonzero(seg == j)
        total = int(n[mine].sum())
        if total:
            draws[:, mine] = rng.multinomial(total, n[mine] / total, size=resamples)
    o = np.maximum(outc, 0)
    c_k, l_k = main.c[:, spec], main.leak[:, spec, o]
    conservative = rates.conservative[spec]
    pathway = np.where(
        outc == OUTCOME_INDEX["non_surgical"],
        conservative,
        np.where(outc == OUTCOME_INDEX["deferred"], rates.workup[spec], 0.0),
    )
    priced_change = np.isin(outc, [OUTCOME_INDEX[x] for x in PRICED_CHANGE_OUTCOMES])
    a = c_k - l_k  # the weight of P(initial) in E0 - E1
    plan_mean = np.where(priced_change, m_rec, pathway)
    unit = a * m_init + (1.0 - c_k) * conservative - plan_mean
    var_g = a * a * v_ii + np.where(priced_change, v_rr - 2.0 * a * v_ir, 0.0)
    gross = draws * unit + np.sqrt(draws * np.clip(var_g, 0.0, None)) * rng.standard_normal(draws.shape)
    gross = np.where(flags["priced"], gross * rates.discount, 0.0)
    var_r = c_k * c_k * v_ii - 2.0 * c_k * v_io + v_oo
    realized = draws * (c_k * m_init + (1.0 - c_k) * conservative - m_o) + np.sqrt(
        draws * np.clip(var_r, 0.0, None)
    ) * rng.standard_normal(draws.shape)
    realized = np.where(flags["verified"], realized, 0.0)
    deferred = outc == OUTCOME_INDEX["deferred"]
    out = {
        "gross": sum_by(gross, seg, n_seg),
        "deferred": sum_by(gross[:, deferred], seg[deferred], n_seg),
        "realized": sum_by(realized, seg, n_seg),
        "cohort": sum_by(draws[:, flags["closed"]], seg[flags["closed"]], n_seg),
    }
    # A replicate's price of a code differs from the price in force: it enters linearly through the
    # segment's own counts of that code (its product with the count's resampling noise is dropped).
    delta = main.p - np.nan_to_num(main.prices.point)
    code_index = {c: i for i, c in enumerate(main.prices.codes)}
    counted = seg_codes.filter(pl.col("code").is_in(main.prices.codes)).with_columns(
        pl.col("segment").replace_strict(seg_index, return_dtype=pl.Int64).alias("_seg"),
        pl.col("specialty").replace_strict(spec_index, return_dtype=pl.Int64).alias("_spec"),
        pl.col("outcome").replace_strict(OUTCOME_INDEX, return_dtype=pl.Int64).alias("_o"),
        pl.col("code").replace_strict(code_index, return_dtype=pl.Int64).alias("_code"),
    )
    initial = counted.filter(pl.col("role") == "initial")
    cells = initial.select("_seg", "_spec", "_o").unique().sort("_seg", "_spec", "_o").with_row_index("_cell")
    per_code = initial.join(cells, on=["_seg", "_spec", "_o"])
    weight = np.zeros((cells.height, len(code_index)))
    weight_v = np.zeros((cells.height, len(code_index)))
    rows, cols = per_code["_cell"].to_numpy().astype(np.int64), per_code["_code"].to_numpy()
    np.add.at(weight, (rows, cols), per_code["n"].to_numpy())
    np.add.at(weight_v, (rows, cols), per_code["nv"].to_numpy())
    s_count = len(main.specialties)
    cell_seg, cell_spec, cell_o = (cells[c].to_numpy() for c in ("_seg", "_spec", "_o"))
    c_cell = main.c[:, cell_spec]
    l_cell = main.leak.reshape(resamples, s_count * o_count)[:, cell_spec * o_count + cell_o]
    g_shift = rates.discount * (c_cell - l_cell) * (delta @ weight.T)
    cell_deferred = cell_o == OUTCOME_INDEX["deferred"]
    out["gross"] += sum_by(g_shift, cell_seg, n_seg)
    out["deferred"] += sum_by(g_shift[:, cell_deferred], cell_seg[cell_deferred], n_seg)
    out["realized"] += sum_by(c_cell * (delta @ weight_v.T), cell_seg, n_seg)
    rec = counted.filter(pl.col("role") == "recommended")
    if rec.height:
        rec_shift = rates.discount * delta[:, rec["_code"].to_numpy()] * rec["n"].to_numpy()
        out["gross"] -= sum_by(rec_shift, rec["_seg"].to_numpy(), n_seg)
    return labels, Replicates(**out)
