"""The change-propensity model on warehouse data: training, artifact, card, case scores and targeting.

P(the second opinion changes the plan | what is known at referral), trained with patient-grouped
cross-validation on a capped stratified sample of the classified cases and scored on every case in
batches; artifacts live beside the warehouse, never in git.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from models.text_classifier import load_model, save_model
from pipelines.lib.settings import Settings
from pipelines.lib.sqlfiles import queries
from pipelines.lib.warehouse import artifacts_dir

PROPENSITY_MODEL_FILE = "change_propensity.skops"
PROPENSITY_METRICS_FILE = "change_propensity.metrics.json"
PROPENSITY_OOF_FILE = "change_propensity.out_of_fold.parquet"
PROPENSITY_LIMITATIONS = [
    "Learns who *was* changed by this programme's reviewers; a new reviewer panel or referral mix shifts it.",
    "Trained on classified cases only; unclassified and pending cases carry no label.",
    "A high score is a reason to route a referral to review, not evidence that the first plan was wrong.",
]

SQL_FILE = Path(__file__).with_name("sql") / "propensity.sql"
#: Referrals scored per batch: the features of a 10M-case warehouse never sit in memory at once.
SCORE_BATCH_ROWS = 500_000


def _sql(name: str) -> str:
    return queries(SQL_FILE)[name]


#: Referral-time features of every staged case, with its outcome (notebooks read it too).
REFERRALS_SQL = _sql("referrals")


def model_threads(settings: Settings) -> int:
    """The OpenMP threads the trees get: the setting, or (0) every core this process may run on."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(settings.model_threads or available, available))


def _referrals_view(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"CREATE OR REPLACE TEMP VIEW propensity_referrals AS {_sql('referrals')}")


def propensity_code_version(settings: Settings) -> str:
    """The model's code version: its modules, its SQL and the settings that shape its training."""
    import models.propensity as model_module
    from pipelines.lib.training.policy import code_version

    shaping = {
        k: getattr(settings, k) for k in ("seed", "propensity_max_train_cases", "propensity_importance_rows")
    }
    files = [Path(__file__), SQL_FILE, Path(model_module.__file__ or "")]
    return code_version(files, shaping)


def train_propensity_model(
    conn: duckdb.DuckDBPyConnection, warehouse: Path, settings: Settings
) -> dict[str, Any] | str:
    """Grouped-CV evaluation, one final fit, skops artifact, metrics JSON and model card.

    The model learns from at most `propensity_max_train_cases` classified cases, a sample
    stratified by specialty and label drawn in DuckDB; labelled cases of other patients are the
    held-out set of its permutation importance. Returns the reason instead when there are too
    few classified cases to train on (a new or small warehouse): the run goes on, with no scores
    and no targeting table.
    """
    from models.cards import write_model_card
    from models.propensity import CLASSIFIED_OUTCOMES, cannot_train, labelled_cases, train_propensity
    from pipelines.lib.training.policy import SIGNATURE_BUCKETS, kept_or_reason, training_record

    classified = list(CLASSIFIED_OUTCOMES)
    _referrals_view(conn)
    n_labelled = int(conn.execute(_sql("labelled_count"), {"classified": classified}).fetchall()[0][0])
    out = artifacts_dir(warehouse)
    signature = {
        str(b): int(n)
        for b, n in conn.execute(
            _sql("training_signature"), {"classified": classified, "buckets": SIGNATURE_BUCKETS}
        ).fetchall()
    }
    version = propensity_code_version(settings)
    kept, why = kept_or_reason(
        out,
        PROPENSITY_MODEL_FILE,
        PROPENSITY_METRICS_FILE,
        signature,
        version,
        settings.retrain_changed_share,
        settings.retrain,
    )
    if kept is not None:
        return kept
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE propensity_sample AS {_sql('training_sample')}",
        {"classified": classified, "cap": settings.propensity_max_train_cases, "seed": settings.seed},
    )
    cases = conn.sql("SELECT * FROM propensity_sample").pl()
    reason = cannot_train(labelled_cases(cases))
    if reason:
        for name in (PROPENSITY_MODEL_FILE, PROPENSITY_METRICS_FILE, PROPENSITY_OOF_FILE):
            (out / name).unlink(missing_ok=True)
        return reason
    holdout = conn.sql(
        _sql("holdout_sample"),
        params={"classified": classified, "rows": settings.propensity_importance_rows, "seed": settings.seed},
    ).pl()
    threads = model_threads(settings)
    model, metrics = train_propensity(
        cases,
        settings.seed,
        importance_rows=settings.propensity_importance_rows,
        threads=threads,
        holdout=holdout if holdout.height else None,
    )
    conn.execute("DROP TABLE IF EXISTS propensity_sample")
    metrics["n_labelled"] = n_labelled
    metrics.update(training_record(why, version, signature))
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
    sampled = (
        f"a sample of {metrics['n']:,} of {n_labelled:,} classified cases, stratified by specialty and "
        "changed/confirmed"
        if metrics["n"] < n_labelled
        else f"{metrics['n']:,} classified cases"
    )
    write_model_card(
        out / "change_propensity.md",
        "Change-propensity model",
        metrics,
        window,
        f"core.case_outcomes: {sampled}",
        PROPENSITY_LIMITATIONS,
    )
    return metrics


def build_case_scores(conn: duckdb.DuckDBPyConnection, warehouse: Path, threads: int = 1) -> int:
    """core.case_scores: change probability for every referral, times the saving expected when a
    case of that specialty and initial procedure is changed (mean projected_avoided of changed cases).

    A case the final model was fitted on gets its out-of-fold score (score_basis 'out_of_fold'):
    scoring it with the model that saw its label would overstate certainty. Every other referral —
    pending, unclassified, or classified but outside the training sample — gets the final model's
    score ('model'). Referrals are scored in batches of SCORE_BATCH_ROWS straight from DuckDB.
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
    model = load_model(folder / PROPENSITY_MODEL_FILE)
    reader = conn.sql(_sql("referrals")).to_arrow_reader(SCORE_BATCH_ROWS)
    batches = [score_propensity(model, pl.DataFrame(pl.from_arrow(batch)), threads) for batch in reader]
    scores = pl.concat(batches) if batches else score_propensity(model, pl.DataFrame())
    conn.register("propensity_scores", scores)
    conn.execute(
        f"CREATE OR REPLACE TABLE core.case_scores AS {_sql('case_scores')}",
        {"oof": str(folder / PROPENSITY_OOF_FILE)},
    )
    conn.unregister("propensity_scores")
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
