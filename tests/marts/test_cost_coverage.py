"""The 95% interval of the net covers the truth about 95% of the time, estimation of c, l and prices included.

A simulated world where the truth is set: each of many small programmes ("worlds", one per
stratum label) draws its cases' outcomes from a known mix, a baseline completion c, a leakage
l per changed outcome and a price per code; claims follow from them. The cost stage runs on
all worlds at once (each world is a specialty of its own, with its own codes, so worlds do not
share estimates) and every world's true expected net, n x E[E0 - E1] - fee x n, is compared
with its interval. Identification as the method states it: a covered patient has some claim in
every horizon (here a routine visit), an uncovered one none at all, so the closed cases with no
claims that the rates leave out are missing at random.
"""

from __future__ import annotations

import time
from datetime import date

import duckdb
import numpy as np
import polars as pl

from pipelines.lib.core.costs import build_case_costs
from pipelines.lib.marts.common import MartContext
from pipelines.lib.marts.costs import build_cost_impact
from pipelines.lib.settings import load_settings
from pipelines.lib.warehouse import write_table

WORLDS, CASES = 500, 800
FEE = 750.0
OUTCOMES = ("confirmed", "less_invasive", "non_surgical", "deferred", "more_invasive", "alternative")
MIX = np.array([0.30, 0.15, 0.20, 0.15, 0.10, 0.10])
ADHERENCE = 0.85  # share of procedure plans billed
COVERED = 0.9
START, THROUGH = date(2022, 1, 1), date(2025, 6, 30)


def world_frames(seed: int) -> tuple[dict[str, pl.DataFrame], np.ndarray]:
    """Staging-like frames for WORLDS worlds and each world's true expected net."""
    rng = np.random.default_rng(seed)
    w = np.arange(WORLDS)
    names = np.char.add("w", w.astype(str))
    c = rng.uniform(0.80, 0.98, WORLDS)
    leak = np.column_stack(
        [
            rng.uniform(0.05, 0.20, WORLDS),  # less_invasive
            rng.uniform(0.10, 0.30, WORLDS),  # non_surgical
            rng.uniform(0.20, 0.40, WORLDS),  # deferred
            rng.uniform(0.02, 0.10, WORLDS),  # more_invasive
            rng.uniform(0.05, 0.15, WORLDS),  # alternative
        ]
    )
    p_init = rng.uniform(15_000, 30_000, WORLDS)
    p_rec = np.column_stack([p_init * rng.uniform(0.3, 0.6, WORLDS), p_init * 1.4, p_init * 0.9])
    conservative, workup = rng.uniform(500, 2_000, WORLDS), rng.uniform(800, 1_500, WORLDS)
    # truth: E[E0 - E1] per case with the world's own parameters
    e0 = c * p_init + (1 - c) * conservative
    plan = np.column_stack([p_rec[:, 0], conservative, workup, p_rec[:, 1], p_rec[:, 2]])
    saving = e0[:, None] - plan - leak * p_init[:, None]
    truth = CASES * (saving * MIX[1:]).sum(axis=1) - FEE * CASES

    n = WORLDS * CASES
    world = np.repeat(w, CASES)
    outcome = rng.choice(len(OUTCOMES), size=n, p=MIX)
    opinion = np.datetime64(START) + rng.integers(0, 1100, n).astype("timedelta64[D]")
    codes = np.char.add(names[:, None], np.array(["A", "B", "C", "D"])[None, :])  # initial, less, more, alt
    rec_col = np.select([outcome == 1, outcome == 4, outcome == 5], [1, 2, 3], 0)
    case_id = np.char.add("c", np.arange(n).astype(str))
    outcomes = pl.DataFrame(
        {
            "case_id": case_id,
            "patient_key": np.char.add("p", np.arange(n).astype(str)),
            "specialty": names[world],
            "payer_type": "commercial",
            "plan_id": None,
            "outcome": np.array(OUTCOMES)[outcome],
            "opinion_date": opinion,
            "initial_procedure_code": codes[world, 0],
            "recommended_procedure_code": np.where(rec_col > 0, codes[world, rec_col], ""),
        },
        schema_overrides={"plan_id": pl.Utf8},
    ).with_columns(pl.col("recommended_procedure_code").replace("", None))
    covered = rng.random(n) < COVERED
    day = lambda lo, hi: opinion + rng.integers(lo, hi, n).astype("timedelta64[D]")  # noqa: E731
    u = rng.random(n)
    leak_p = np.where(outcome == 0, 0.0, leak[world, np.maximum(outcome - 1, 0)])
    events = [
        # (who, code column, price, day): a covered patient is seen in claims, an uncovered one never
        (covered, None, 90.0, day(5, 300)),  # routine visit inside every horizon
        (covered & (outcome == 0) & (u < c[world]), 0, p_init[world], day(10, 330)),  # first plan done
        (covered & (outcome > 0) & (u < leak_p), 0, p_init[world], day(20, 340)),  # surgery anyway
        (covered & (rec_col > 0) & (rng.random(n) < ADHERENCE), rec_col, None, day(10, 200)),  # the plan
    ]
    parts = []
    for who, col, price, when in events:
        idx = np.flatnonzero(who)
        if col is None:
            code = np.full(idx.size, "99213")
        elif isinstance(col, int):
            code = codes[world[idx], col]
        else:
            code = codes[world[idx], col[idx]]
        mean = (
            np.full(idx.size, price)
            if np.isscalar(price)
            else (price[idx] if price is not None else p_rec[world[idx], rec_col[idx] - 1])
        )
        parts.append(
            pl.DataFrame(
                {
                    "case_id": case_id[idx],
                    "procedure_code": code,
                    "service_date": when[idx],
                    "allowed_amount": mean * (1 + 0.15 * rng.standard_normal(idx.size)),
                }
            )
        )
    follow_ups = pl.concat(parts)
    catalogue = pl.DataFrame(
        {
            "procedure_code": codes.ravel(),
            "description": "simulated",
            "specialty": np.repeat(names, 4),
            "family": np.char.add(np.repeat(names, 4), np.tile(np.array(["-a", "-b", "-c", "-d"]), WORLDS)),
            "tier": np.tile(np.array([3, 2, 4, 3]), WORLDS),
            "cost_usd": np.column_stack([p_init, p_rec]).ravel(),
            "cost_basis": "estimate",
            "cost_year": 2025,
            "cost_source": "estimate: simulated",
            "cost_is_estimate": True,
        }
    )
    pathways = pl.DataFrame(
        {
            "specialty": names,
            "conservative_cost_usd": conservative,
            "conservative_source": "simulated",
            "workup_cost_usd": workup,
            "workup_source": "simulated",
            "default_leakage": 0.2,
            "leakage_source": "simulated",
            "baseline_completion": 1.0,
            "baseline_completion_source": "assumed",
            "source": "simulated",
        }
    )
    frames = {
        "core.case_outcomes": outcomes,
        "staging.follow_ups": follow_ups,
        "reference.procedures": catalogue,
        "reference.pathways": pathways,
    }
    return frames, truth


def test_the_net_interval_covers_the_true_net_at_its_stated_rate():
    started = time.perf_counter()
    frames, truth = world_frames(seed=1)
    conn = duckdb.connect()
    for table, frame in frames.items():
        write_table(conn, table, frame)
    settings = load_settings(env={}).replace(
        claims_through=THROUGH, program_fee_usd=FEE, bootstrap_resamples=1000, seed=7
    )
    build_case_costs(conn, settings)
    # every world's rates rest on its own cases: no fallback distorts the known world
    bases = conn.sql(
        "SELECT DISTINCT basis FROM core.leakage_rates UNION SELECT DISTINCT basis FROM core.baseline_rates"
    ).fetchall()
    assert {b for (b,) in bases} <= {"observed", "pooled"}
    observed_share = conn.sql("SELECT avg((basis = 'observed')::INT) FROM core.leakage_rates").fetchall()[0][
        0
    ]
    assert observed_share > 0.98
    build_cost_impact(conn, MartContext(settings, "coverage"))
    impact = conn.sql(
        "SELECT specialty, net_avoided, net_ci_low, net_ci_high FROM marts.cost_impact WHERE specialty <> 'all' "
        "ORDER BY specialty"
    ).pl()
    order = np.argsort(np.char.add("w", np.arange(WORLDS).astype(str)))
    true_net = truth[order]  # marts are sorted by specialty name: w0, w1, w10, ...
    assert impact["specialty"].to_list() == sorted(f"w{i}" for i in range(WORLDS))
    inside = (impact["net_ci_low"].to_numpy() <= true_net) & (true_net <= impact["net_ci_high"].to_numpy())
    coverage = float(inside.mean())
    error = impact["net_avoided"].to_numpy() - true_net
    seconds = time.perf_counter() - started
    print(
        f"\ncoverage of the true net by the 95% interval: {coverage:.1%} of {WORLDS} worlds "
        f"({CASES} cases each); mean error {error.mean():,.0f} USD against a mean net of "
        f"{true_net.mean():,.0f}; {seconds:.1f} s"
    )
    assert 0.93 <= coverage <= 0.97
    # calibrated, not only covering: the intervals' width matches the estimates' actual spread
    width = (impact["net_ci_high"] - impact["net_ci_low"]).to_numpy() / (2 * 1.959964)
    assert 0.85 < width.mean() / error.std() < 1.15
    # unbiased: the mean error is small against its own standard error
    assert abs(error.mean()) < 3 * error.std() / np.sqrt(WORLDS)
