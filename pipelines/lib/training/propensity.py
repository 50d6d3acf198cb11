"""The change-propensity model on warehouse data: training, artifact, card, case scores and targeting.

P(the second opinion changes the plan | what is known at referral), trained with patient-grouped
cross-validation; artifacts live beside the warehouse, never in git.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from models.text_classifier import load_model, save_model
from pipelines.lib.settings import Settings
from pipelines.lib.warehouse import artifacts_dir

PROPENSITY_MODEL_FILE = "change_propensity.skops"
PROPENSITY_METRICS_FILE = "change_propensity.metrics.json"
PROPENSITY_OOF_FILE = "change_propensity.out_of_fold.parquet"
PROPENSITY_LIMITATIONS = [
    "Learns who *was* changed by this programme's reviewers; a new reviewer panel or referral mix shifts it.",
    "Trained on classified cases only; unclassified and pending cases carry no label.",
    "A high score is a reason to route a referral to review, not evidence that the first plan was wrong.",
]

# Referral-time features for every staged case (pending ones included: they are what gets routed).
REFERRALS_SQL = """
SELECT c.case_id, c.patient_key, c.specialty, c.initial_procedure_code, p.tier AS initial_tier, c.age_band,
       c.sex, c.payer_type, c.urgency, c.diagnosis_code, c.region, o.outcome
FROM staging.cases c
LEFT JOIN reference.procedures p ON p.procedure_code = c.initial_procedure_code
LEFT JOIN core.case_outcomes o USING (case_id)
"""


def train_propensity_model(
    conn: duckdb.DuckDBPyConnection, warehouse: Path, settings: Settings
) -> dict[str, Any] | str:
    """Grouped-CV evaluation, one final fit, skops artifact, metrics JSON and model card.

    Returns the reason instead when there are too few classified cases to train on (a new or
    small warehouse): the run goes on, with no scores and no targeting table.
    """
    from models.cards import write_model_card
    from models.propensity import CLASSIFIED_OUTCOMES, cannot_train, labelled_cases, train_propensity

    cases = conn.sql(REFERRALS_SQL).pl()
    out = artifacts_dir(warehouse)
    reason = cannot_train(labelled_cases(cases))
    if reason:
        for name in (PROPENSITY_MODEL_FILE, PROPENSITY_METRICS_FILE, PROPENSITY_OOF_FILE):
            (out / name).unlink(missing_ok=True)
        return reason
    model, metrics = train_propensity(cases, settings.seed)
    save_model(model, out / PROPENSITY_MODEL_FILE)
    metrics.pop("out_of_fold").write_parquet(out / PROPENSITY_OOF_FILE)
    # The window of the cases it learned from (classified ones), not of every referral staged.
    dates = conn.execute(
        "SELECT min(c.referral_date), max(c.referral_date) FROM staging.cases c "
        "JOIN core.case_outcomes o USING (case_id) WHERE o.outcome IN "
        f"({', '.join(repr(x) for x in CLASSIFIED_OUTCOMES)})"
    ).fetchall()[0]
    window = f"referrals dated {dates[0]} to {dates[1]}"
    metrics["data_window"] = window
    (out / PROPENSITY_METRICS_FILE).write_text(json.dumps(metrics, indent=2, default=str))
    write_model_card(
        out / "change_propensity.md",
        "Change-propensity model",
        metrics,
        window,
        f"core.case_outcomes: {metrics['n']:,} classified cases",
        PROPENSITY_LIMITATIONS,
    )
    return metrics


def build_case_scores(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> int:
    """core.case_scores: change probability for every referral, times the saving expected when a
    case of that specialty and initial procedure is changed (mean projected_avoided of changed cases).

    A case the final model was fitted on gets its out-of-fold score (score_basis 'out_of_fold'):
    scoring it with the model that saw its label would overstate certainty. Pending and
    unclassified referrals — the ones a payer routes — get the final model's score.
    """
    from models.propensity import score_propensity

    folder = artifacts_dir(warehouse)
    if not (folder / PROPENSITY_MODEL_FILE).exists():  # too few classified cases to train on yet
        conn.execute(
            "CREATE OR REPLACE TABLE core.case_scores (case_id VARCHAR, specialty VARCHAR, "
            "change_probability DOUBLE, score_basis VARCHAR, expected_saving DOUBLE, "
            "expected_avoided DOUBLE)"
        )
        return 0
    scores = score_propensity(load_model(folder / PROPENSITY_MODEL_FILE), conn.sql(REFERRALS_SQL).pl())
    oof = pl.read_parquet(folder / PROPENSITY_OOF_FILE)
    scores = scores.join(oof, on="case_id", how="left").select(
        "case_id",
        pl.coalesce("oof_probability", "change_probability").alias("change_probability"),
        pl.when(pl.col("oof_probability").is_not_null())
        .then(pl.lit("out_of_fold"))
        .otherwise(pl.lit("model"))
        .alias("score_basis"),
    )
    conn.register("scores_frame", scores)
    conn.execute("""
        CREATE OR REPLACE TABLE core.case_scores AS
        WITH changed AS (
          SELECT c.specialty, o.initial_procedure_code, avg(c.projected_avoided) AS saving, count(*) AS n
          FROM core.case_costs c JOIN core.case_outcomes o USING (case_id)
          WHERE c.outcome NOT IN ('confirmed', 'unclassified') GROUP BY ALL),
        by_specialty AS (
          SELECT c.specialty, avg(c.projected_avoided) AS saving FROM core.case_costs c
          WHERE c.outcome NOT IN ('confirmed', 'unclassified') GROUP BY ALL)
        SELECT s.case_id, k.specialty, s.change_probability, s.score_basis,
               coalesce(CASE WHEN ch.n >= 11 THEN ch.saving END, bs.saving, 0) AS expected_saving,
               s.change_probability * coalesce(CASE WHEN ch.n >= 11 THEN ch.saving END, bs.saving, 0)
                 AS expected_avoided
        FROM scores_frame s JOIN staging.cases k USING (case_id)
        LEFT JOIN changed ch ON ch.specialty = k.specialty AND ch.initial_procedure_code = k.initial_procedure_code
        LEFT JOIN by_specialty bs ON bs.specialty = k.specialty""")
    conn.unregister("scores_frame")
    return int(conn.execute("SELECT count(*) FROM core.case_scores").fetchall()[0][0])


def build_targeting(conn: duckdb.DuckDBPyConnection, warehouse: Path) -> int:
    """marts.targeting: lift by decile of *out-of-fold* scores (patients the model did not see)."""
    path = artifacts_dir(warehouse) / PROPENSITY_METRICS_FILE
    if not path.exists():  # no model trained yet: an empty table with the mart's columns
        conn.execute(
            "CREATE OR REPLACE TABLE marts.targeting (decile INTEGER, n BIGINT, mean_score DOUBLE, "
            "observed_change_rate DOUBLE, lift DOUBLE, cumulative_lift DOUBLE)"
        )
        return 0
    lift = pl.DataFrame(json.loads(path.read_text())["lift"])
    conn.register("lift_frame", lift)
    conn.execute("CREATE OR REPLACE TABLE marts.targeting AS SELECT * FROM lift_frame ORDER BY decile")
    conn.unregister("lift_frame")
    return lift.height
