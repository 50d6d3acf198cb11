"""Each reviewed case's expected chance of a changed plan, from what was known at referral.

The reviewer comparison asks whether a reviewer changes more plans than their case mix predicts,
so every classified case needs an expected probability that does not already know its outcome:
the change-propensity model's out-of-fold score (core.case_scores), or, where the model was
skipped (a small warehouse), the change rate of the case's stratum of specialty x initial
procedure x urgency. Either way the probabilities are calibrated in the large per specialty, so a
specialty's expected changes equal its observed changes and a reviewer is measured against their
own specialty's practice (docs/method.md "Reviewer comparison"). A funnel of binary indicators
starts from such a case-mix model, checked before the funnel is drawn [funnel-workflow].
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.lib import stats
from pipelines.lib.marts.common import query
from pipelines.lib.vocabulary import CHANGED_OUTCOMES
from pipelines.lib.warehouse import table_exists

SCORES = "core.case_scores"
#: Scores of cases the model did not train on: out-of-fold ones, and the final model's for
#: cases classified after it was fitted (equally out of sample).
SCORE_BASES: tuple[str, ...] = ("out_of_fold", "model")
#: Fewer cases than this in a stratum and its rate is borrowed from the coarser one: below 30
#: the rate's standard error passes 0.09 and the reviewer's own cases dominate it.
MIN_STRATUM_CASES = 30
MODEL, STRATA = "propensity_model", "stratum_rate"
_COLUMNS = ("case_id", "reviewer_id", "specialty", "opinion_date", "changed", "expected", "basis")


def calibrated(cases: pl.DataFrame) -> pl.DataFrame:
    """`raw_expected` calibrated in the large per specialty into `expected` (stats.calibrate_in_the_large):
    each specialty's expected changes then equal its observed ones."""
    if cases.is_empty():
        return cases.with_columns(expected=pl.col("raw_expected"))
    work = cases.with_columns(_group=pl.col("specialty").rank("dense").cast(pl.Int64) - 1)
    observed = work.group_by("_group").agg(pl.col("changed").sum()).sort("_group")["changed"].to_numpy()
    expected = stats.calibrate_in_the_large(
        work["raw_expected"].to_numpy(), work["_group"].to_numpy(), observed
    )
    return cases.with_columns(expected=pl.Series(expected))


def case_expectations(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """case_id, reviewer_id, specialty, opinion_date, changed (0/1), expected (probability) and
    basis (`propensity_model` or `stratum_rate`) for every classified case with a reviewer,
    sorted by specialty, reviewer and opinion date."""
    cases = query(conn, "reviewer_cases", changed=list(CHANGED_OUTCOMES), min_stratum=MIN_STRATUM_CASES)
    if table_exists(conn, SCORES):
        scores = query(conn, "case_model_scores", bases=list(SCORE_BASES))
        cases = cases.join(scores, on="case_id", how="left", maintain_order="left")
    else:
        cases = cases.with_columns(model_probability=pl.lit(None, dtype=pl.Float64))
    cases = cases.with_columns(
        raw_expected=pl.coalesce("model_probability", "stratum_probability"),
        basis=pl.when(pl.col("model_probability").is_not_null())
        .then(pl.lit(MODEL))
        .otherwise(pl.lit(STRATA)),
    )
    return calibrated(cases).select(*_COLUMNS)
