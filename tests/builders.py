"""Test helpers: staged tables built directly in a DuckDB file, published series as records.

Frames use the input contract's columns (DESIGN "Inputs"), so the same records can be written
as landing CSVs for an end-to-end run (`write_landing_csv`) or straight into `staging.*` with
the warehouse types (`write_staging`) to test outcomes, costs and marts without ingest.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines.lib.reference.catalogue import read_catalogue, write_reference

CASES: dict[str, pl.DataType] = {
    "case_id": pl.Utf8(),
    "patient_key": pl.Utf8(),
    "specialty": pl.Utf8(),
    "referral_date": pl.Date(),
    "age_band": pl.Utf8(),
    "sex": pl.Utf8(),
    "region": pl.Utf8(),
    "payer_type": pl.Utf8(),
    "plan_id": pl.Utf8(),
    "diagnosis_code": pl.Utf8(),
    "initial_procedure_code": pl.Utf8(),
    "urgency": pl.Utf8(),
}
OPINIONS: dict[str, pl.DataType] = {
    "opinion_id": pl.Utf8(),
    "case_id": pl.Utf8(),
    "reviewer_id": pl.Utf8(),
    "opinion_date": pl.Date(),
    "recommendation": pl.Utf8(),
    "recommended_procedure_code": pl.Utf8(),
    "diagnosis_changed": pl.Boolean(),
    "summary_text": pl.Utf8(),
    "updated_at": pl.Datetime("us"),
}
FOLLOW_UPS: dict[str, pl.DataType] = {
    "case_id": pl.Utf8(),
    "procedure_code": pl.Utf8(),
    "service_date": pl.Date(),
    "allowed_amount": pl.Float64(),
}
PROCEDURE_COSTS: dict[str, pl.DataType] = {"procedure_code": pl.Utf8(), "cost_usd": pl.Float64()}

_DEFAULTS = {
    "patient_key": None,
    "referral_date": date(2024, 1, 10),
    "opinion_date": date(2024, 1, 24),
    "reviewer_id": "r1",
}


def frame(rows: list[dict], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Rows (dicts holding any subset of the contract's columns) as a frame of the full schema."""
    if not rows:
        return pl.DataFrame(schema=schema)
    filled = [{c: row.get(c, _DEFAULTS.get(c)) for c in schema} for row in rows]
    return pl.DataFrame(filled, schema=schema)


def cases_frame(rows: list[dict]) -> pl.DataFrame:
    out = frame(rows, CASES)
    return out.with_columns(pl.coalesce("patient_key", pl.lit("p-") + pl.col("case_id")).alias("patient_key"))


def opinions_frame(rows: list[dict]) -> pl.DataFrame:
    out = frame(rows, OPINIONS)
    return out.with_columns(pl.coalesce("opinion_id", pl.lit("o-") + pl.col("case_id")).alias("opinion_id"))


def write_staging(
    conn: duckdb.DuckDBPyConnection,
    cases: pl.DataFrame,
    opinions: pl.DataFrame,
    follow_ups: pl.DataFrame | None = None,
    procedure_costs: pl.DataFrame | None = None,
) -> None:
    """Create staging.cases/opinions/follow_ups/procedure_costs typed as docs/warehouse.md says."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS staging")
    loaded = datetime(2026, 1, 1)
    for name, data, schema in (
        ("cases", cases, CASES),
        ("opinions", opinions, OPINIONS),
        ("follow_ups", follow_ups, FOLLOW_UPS),
        ("procedure_costs", procedure_costs, PROCEDURE_COSTS),
    ):
        if data is None:
            data = pl.DataFrame(schema=schema)
        typed = data.select([pl.col(c).cast(t) for c, t in schema.items()]).with_columns(
            pl.lit(f"{name}.csv").alias("source_file"), pl.lit(loaded).alias("loaded_at")
        )
        conn.register("_staging_in", typed.to_arrow())
        conn.execute(f"CREATE OR REPLACE TABLE staging.{name} AS SELECT * FROM _staging_in")
        conn.unregister("_staging_in")
    # No opinion waits for its case here (ingest's tests cover waiting): the table exists, empty.
    conn.execute(
        "CREATE OR REPLACE TABLE staging.opinions_waiting AS "
        "SELECT *, CAST(NULL AS BIGINT) AS source_row FROM staging.opinions WHERE FALSE"
    )


def load_reference(conn: duckdb.DuckDBPyConnection) -> None:
    procedures, pathways = read_catalogue()
    write_reference(conn, procedures, pathways)


def write_landing_csv(directory: Path, **frames: pl.DataFrame) -> list[Path]:
    """Write each frame as `<record_type>.csv` (e.g. cases=..., opinions=...) for an ingest run."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for record_type, data in frames.items():
        path = directory / f"{record_type}.csv"
        data.write_csv(path)
        paths.append(path)
    return paths


# --- published series (docs/sources.md), rebuilt as records ---------------------------------


def epstein_2013_spine() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Epstein NE, Surg Neurol Int 2013;4(Suppl 5):S353: 183 second-opinion spine patients told to
    have surgery; 111 'unnecessary' (non_surgical), 61 'wrong'/overly extensive (a less invasive
    operation), 11 'right' (confirmed). Proposed operation: lumbar fusion 22630."""
    n_ns, n_less, n_conf = 111, 61, 11
    n = n_ns + n_less + n_conf
    ids = [f"eps-{i:03d}" for i in range(n)]
    cases = cases_frame(
        [{"case_id": i, "specialty": "spine", "initial_procedure_code": "22630"} for i in ids]
    )
    recs = (
        [{"recommendation": "conservative"}] * n_ns
        + [{"recommendation": "alternative_procedure", "recommended_procedure_code": "63047"}] * n_less
        + [{"recommendation": "proceed"}] * n_conf
    )
    opinions = opinions_frame(
        [{"case_id": i, "reviewer_id": "epstein", **r} for i, r in zip(ids, recs, strict=True)]
    )
    return cases, opinions


def graboys_1992_cardiology() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Graboys TB et al., JAMA 1992;268:2537: 168 followed patients recommended for coronary
    angiography; 134 judged not to need it (non_surgical), 28 deferred pending further studies,
    6 recommended (confirmed). Proposed procedure: catheterisation 93458."""
    n_ns, n_def, n_conf = 134, 28, 6
    n = n_ns + n_def + n_conf
    ids = [f"grb-{i:03d}" for i in range(n)]
    cases = cases_frame(
        [{"case_id": i, "specialty": "cardiology", "initial_procedure_code": "93458"} for i in ids]
    )
    recs = (
        [{"recommendation": "conservative"}] * n_ns
        + [{"recommendation": "further_testing"}] * n_def
        + [{"recommendation": "proceed", "recommended_procedure_code": "93458"}] * n_conf
    )
    opinions = opinions_frame(
        [{"case_id": i, "reviewer_id": "lown", **r} for i, r in zip(ids, recs, strict=True)]
    )
    return cases, opinions


# --- quick synthetic staging at scale (timing and mart tests; not the project's generator) ----


def synthetic_staging(
    n_cases: int, seed: int = 0, as_of: date = date(2026, 6, 30)
) -> dict[str, pl.DataFrame]:
    """Numpy-built staging frames: cases, opinions (about 5% pending), follow_ups, procedure_costs.

    Only what the outcome/cost/mart code needs, with every outcome, unknown codes, narratives,
    several reviewers per specialty, three years of dates and claims for about half the cases.
    """
    rng = np.random.default_rng(seed)
    procedures, _ = read_catalogue()
    surg = procedures.filter(pl.col("tier") >= 1)
    specialties = np.array(sorted(surg["specialty"].unique().to_list()))
    spec_idx = rng.integers(0, len(specialties), n_cases)
    specialty = specialties[spec_idx]
    # initial code: a random tier>=1 code of the specialty, 1% unknown
    codes_by_spec = [surg.filter(pl.col("specialty") == s)["procedure_code"].to_numpy() for s in specialties]
    pick = rng.random(n_cases)
    initial = np.empty(n_cases, dtype="<U5")
    recommended = np.empty(n_cases, dtype="<U5")
    for j, codes in enumerate(codes_by_spec):
        mask = spec_idx == j
        initial[mask] = codes[(pick[mask] * len(codes)).astype(int)]
        recommended[mask] = codes[rng.integers(0, len(codes), mask.sum())]
    initial[rng.random(n_cases) < 0.01] = "99999"
    start = np.datetime64(as_of) - np.timedelta64(3 * 365, "D")
    referral = start + rng.integers(0, 3 * 365 - 60, n_cases).astype("timedelta64[D]")
    turnaround = rng.gamma(2.0, 7.0, n_cases).astype(int)
    opinion = referral + turnaround.astype("timedelta64[D]")
    ids = np.char.add("c", np.arange(n_cases).astype(str))
    payer = np.array(["commercial", "medicare", "medicaid", "self_pay", "other"])[rng.integers(0, 5, n_cases)]
    cases = pl.DataFrame(
        {
            "case_id": ids,
            "patient_key": np.char.add("p", np.arange(n_cases).astype(str)),
            "specialty": specialty,
            "referral_date": referral,
            "age_band": np.array(["40-49", "50-59", "60-69", "70-79"])[rng.integers(0, 4, n_cases)],
            "sex": np.array(["F", "M"])[rng.integers(0, 2, n_cases)],
            "region": None,
            "payer_type": payer,
            "plan_id": np.char.add("plan", rng.integers(0, 40, n_cases).astype(str)),
            "diagnosis_code": None,
            "initial_procedure_code": initial,
            "urgency": "elective",
        },
        schema_overrides=CASES,
    )
    has_opinion = rng.random(n_cases) < 0.95
    kind = rng.choice(
        np.array(["conservative", "defer", "further_testing", "proceed", "code", "narrative", "unknown"]),
        size=n_cases,
        p=[0.30, 0.08, 0.04, 0.25, 0.25, 0.06, 0.02],
    )
    recommendation = np.where(np.isin(kind, ["code", "unknown"]), "alternative_procedure", kind)
    recommendation = np.where(recommendation == "narrative", "", recommendation)
    rec_code = np.where(kind == "code", recommended, np.where(kind == "unknown", "88888", ""))
    text = np.where(kind == "narrative", "Reviewer advised a trial of physiotherapy first.", "")
    reviewers = np.char.add(
        np.char.add(specialty.astype(str), "-r"), rng.integers(0, 25, n_cases).astype(str)
    )
    sel = np.flatnonzero(has_opinion)
    opinions = pl.DataFrame(
        {
            "opinion_id": np.char.add("o", sel.astype(str)),
            "case_id": ids[sel],
            "reviewer_id": reviewers[sel],
            "opinion_date": opinion[sel],
            "recommendation": recommendation[sel],
            "recommended_procedure_code": rec_code[sel],
            "diagnosis_changed": rng.random(len(sel)) < 0.2,
            "summary_text": text[sel],
            "updated_at": opinion[sel].astype("datetime64[us]"),
        },
        schema_overrides=OPINIONS,
    ).with_columns(
        [
            pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c)
            for c in ("recommendation", "recommended_procedure_code", "summary_text")
        ]
    )
    # follow-ups: half the opinion cases have an office visit; a third of those also a claim of
    # the initial code (leakage, or the confirmed surgery) within a year
    fu = sel[rng.random(len(sel)) < 0.5]
    visit = pl.DataFrame(
        {
            "case_id": ids[fu],
            "procedure_code": "99213",
            "service_date": opinion[fu] + rng.integers(10, 300, len(fu)).astype("timedelta64[D]"),
            "allowed_amount": 90.0,
        }
    )
    leak = fu[rng.random(len(fu)) < 0.33]
    surgery = pl.DataFrame(
        {
            "case_id": ids[leak],
            "procedure_code": initial[leak],
            "service_date": opinion[leak] + rng.integers(20, 500, len(leak)).astype("timedelta64[D]"),
            "allowed_amount": np.where(
                rng.random(len(leak)) < 0.7, rng.uniform(2_000, 40_000, len(leak)), np.nan
            ),
        }
    ).with_columns(pl.col("allowed_amount").fill_nan(None))
    follow_ups = pl.concat([visit, surgery]).cast(FOLLOW_UPS)  # type: ignore[arg-type]
    procedure_costs = pl.DataFrame({"procedure_code": ["22630", "27447"], "cost_usd": [31_000.0, 15_500.0]})
    return {
        "cases": cases,
        "opinions": opinions,
        "follow_ups": follow_ups,
        "procedure_costs": procedure_costs,
    }


def staged_warehouse(path: Path, frames: dict[str, pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    """A DuckDB file at `path` holding the reference catalogue and the given staging frames."""
    conn = duckdb.connect(str(path))
    load_reference(conn)
    write_staging(
        conn, frames["cases"], frames["opinions"], frames.get("follow_ups"), frames.get("procedure_costs")
    )
    return conn
