"""Change-propensity model: how likely a second opinion is to change the plan, known at referral.

For payers deciding which referrals to route to a second opinion (issue 4): the probability that
the opinion's outcome is anything other than *confirmed*, from what is known when the referral is
made — specialty, initial procedure and its tier, age band, sex, payer type, urgency, diagnosis
chapter and region. Published change rates differ mostly by specialty and procedure (spine
non-confirmation of 60-94%, [epstein2013], [lenza2017]; elective surgery
overall 9-28%, #61-#63), so those features are expected to dominate; the model's permutation
importances say whether they do.

Why these choices:
- Gradient-boosted trees on ordinal-encoded categories: interactions such as specialty x
  procedure x urgency matter and need no hand-built crosses; rare categories (a region seen a few
  times) are pooled as infrequent so they cannot be memorised.
- Cross-validation is grouped by patient_key: one patient's several referrals share unrecorded
  traits, and scoring a patient the model has trained on would flatter it.
- Only classified cases are labelled; unclassified and pending cases have no outcome to learn.
- Training is capped (`stratified_sample`, applied by the caller): past about 200k classified
  cases the out-of-fold AUC barely moves while the fits grow linearly (525 s at 10M cases on
  every case), so the model learns from a sample stratified by specialty and label, and scores
  every case.
- Permutation importance is measured on a held-out sample (at most 50k): on patients outside
  the training sample with the final model when there are any, else on each fold's test rows.
- The trees use `threads` OpenMP threads. On a machine shared with other jobs, OpenMP's spinning
  workers once made a 6,000-case fit take 178 s instead of 3 s, so the threads are capped with
  threadpoolctl and wait passively (OMP_WAIT_POLICY, set in models/__init__.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits  # installed with scikit-learn

from models.evaluation import expected_calibration_error, group_folds, lift_by_decile, reliability_bins
from models.text_classifier import OUTCOME_LABELS

__all__ = [
    "CLASSIFIED_OUTCOMES",
    "FEATURES",
    "lift_by_decile",
    "propensity_features",
    "score_propensity",
    "stratified_sample",
    "train_propensity",
]

CLASSIFIED_OUTCOMES: tuple[str, ...] = OUTCOME_LABELS  # the outcomes a review can reach
CATEGORICAL: tuple[str, ...] = (
    "specialty",
    "initial_procedure_code",
    "age_band",
    "sex",
    "payer_type",
    "urgency",
    "diagnosis_chapter",
    "region",
)
NUMERIC: tuple[str, ...] = ("initial_tier",)
FEATURES: tuple[str, ...] = CATEGORICAL + NUMERIC


def propensity_features(cases: pl.DataFrame) -> pl.DataFrame:
    """The referral-time features, in a fixed order; absent optional columns become nulls.

    diagnosis_chapter is the first letter of the ICD-10-CM code (M = musculoskeletal, I =
    circulatory, ...): the full code is too sparse to learn from, the chapter is not.
    """

    def col(name: str, dtype: Any) -> pl.Expr:
        return pl.col(name).cast(dtype) if name in cases.columns else pl.lit(None, dtype=dtype).alias(name)

    return cases.select(
        col("specialty", pl.String).str.to_lowercase(),
        col("initial_procedure_code", pl.String),
        col("age_band", pl.String),
        col("sex", pl.String).str.to_uppercase(),
        col("payer_type", pl.String).str.to_lowercase(),
        col("urgency", pl.String).str.to_lowercase(),
        col("diagnosis_code", pl.String)
        .str.strip_chars()
        .str.slice(0, 1)
        .str.to_uppercase()
        .alias("diagnosis_chapter"),
        col("region", pl.String).str.to_uppercase(),
        # An unknown tier (code not in the catalogue) is -1, below every real tier: the trees keep
        # it apart with one split, and a column that is missing throughout (every initial code of
        # a fold unknown) would otherwise break their binning of an all-NaN feature.
        col("initial_tier", pl.Float64).fill_null(-1.0),
    )


def build_propensity_pipeline(seed: int) -> Pipeline:
    """Ordinal-encoded categories (infrequent pooled, unknown -> missing) into boosted trees."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        min_frequency=20,
        max_categories=200,  # trees take at most 255 categories per feature
    )
    columns = ColumnTransformer(
        [("categories", encoder, list(CATEGORICAL)), ("numbers", "passthrough", list(NUMERIC))]
    )
    trees = HistGradientBoostingClassifier(
        learning_rate=0.1,
        max_iter=100,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=list(range(len(CATEGORICAL))),
        early_stopping=False,
        random_state=seed,
    )
    return Pipeline([("columns", columns), ("trees", trees)])


def labelled_cases(cases: pl.DataFrame) -> pl.DataFrame:
    """Classified cases only, with label changed = outcome other than confirmed."""
    return cases.filter(pl.col("outcome").is_in(list(CLASSIFIED_OUTCOMES))).with_columns(
        (pl.col("outcome") != "confirmed").cast(pl.Int8).alias("changed")
    )


MIN_LABELLED_CASES = 50  # below this, grouped 3-fold CV has too few cases per fold to mean anything


def cannot_train(labelled: pl.DataFrame) -> str | None:
    """Why the model cannot be trained on these labelled cases, or None when it can."""
    if labelled.height < MIN_LABELLED_CASES or labelled["changed"].n_unique() < 2:
        return (
            f"need at least {MIN_LABELLED_CASES} classified cases with both changed and confirmed plans, "
            f"got {labelled.height}"
        )
    return None


def stratified_sample(labelled: pl.DataFrame, max_cases: int, seed: int) -> pl.DataFrame:
    """At most about `max_cases` labelled cases, each stratum of specialty x changed keeping its share.

    Proportional allocation (each stratum keeps round(share x max_cases) rows, at least one), so
    the sample's change rate and specialty mix are the population's and the model's probabilities
    need no re-weighting. Rows are drawn by a seeded hash of case_id: the same cases are drawn
    whatever order the rows arrive in. The warehouse path draws the same sample in SQL
    (pipelines/lib/training/sql/propensity.sql) so that 10M rows never cross into Python.
    """
    if labelled.height <= max_cases:
        return labelled
    fraction = max_cases / labelled.height
    strata = [pl.col("specialty").cast(pl.String).str.to_lowercase(), pl.col("changed")]
    return labelled.filter(
        pl.col("case_id").cast(pl.String).hash(seed).rank("ordinal").over(strata)
        <= (pl.len().over(strata) * fraction).round().clip(lower_bound=1)
    )


def train_propensity(
    cases: pl.DataFrame,
    seed: int,
    n_splits: int = 3,
    importance_rows: int = 50_000,
    threads: int = 1,
    holdout: pl.DataFrame | None = None,
) -> tuple[Pipeline, dict[str, Any]]:
    """Grouped cross-validation by patient for the metrics, then one fit on every labelled case given.

    `cases` is what the model learns from (already sampled by the caller when capped: see
    `stratified_sample`). `holdout`, when given, holds labelled cases of patients outside
    `cases`: the final model's ROC AUC on them is reported (`roc_auc_holdout`) and permutation
    importance is measured on at most `importance_rows` of them. Without it, importance is
    measured on a seeded sample of the out-of-fold rows (at most `importance_rows` in all), each
    with its fold's own model, so importance is always measured on patients the model did not see.

    Metrics: out-of-fold ROC AUC (overall and per fold), Brier score, reliability bins and ECE,
    lift by decile and permutation importance.
    """
    with threadpool_limits(limits=threads, user_api="openmp"):
        model, metrics = _train_propensity(cases, seed, n_splits, importance_rows, holdout)
    metrics["threads"] = int(threads)
    return model, metrics


def _permutation(trees: Any, encoded: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """features x repeats drop in ROC AUC when each feature is shuffled.

    The columns are shuffled after encoding: the encoder maps each column on its own, so shuffling
    an encoded column is shuffling the raw one, and the 27 re-scorings skip 27 re-encodings.
    """
    result = permutation_importance(trees, encoded, y, scoring="roc_auc", n_repeats=3, random_state=seed)
    return np.asarray(result.importances)


def _train_propensity(
    cases: pl.DataFrame, seed: int, n_splits: int, importance_rows: int, holdout: pl.DataFrame | None
) -> tuple[Pipeline, dict[str, Any]]:
    data = labelled_cases(cases)
    reason = cannot_train(data)
    if reason:
        raise ValueError(reason)
    # The encoder (each category's code, rare ones pooled: no label is read) is fitted once on the
    # training sample and shared by the fold models: refitting it per fold re-sorted the same
    # strings four times (13 of 35 s at 1M cases) and would change no code a tree splits on.
    template = build_propensity_pipeline(seed)
    columns = template.named_steps["columns"]
    X = columns.fit_transform(propensity_features(data).to_pandas())  # the encoder takes pandas
    y = data["changed"].to_numpy()
    groups = (
        data["patient_key"].cast(pl.String).to_numpy()
        if "patient_key" in data.columns
        else data["case_id"].cast(pl.String).to_numpy()
    )
    n_splits = max(2, min(n_splits, np.unique(groups).size))

    oof = np.empty(y.size, dtype=float)
    fold_auc: list[float] = []
    importances: list[np.ndarray] = []
    rng = np.random.default_rng(seed)
    held = labelled_cases(holdout) if holdout is not None else None
    use_holdout = held is not None and held.height > 0 and held["changed"].n_unique() == 2
    for fold, (train_idx, test_idx) in enumerate(group_folds(groups, n_splits, seed)):
        model = clone(template.named_steps["trees"]).fit(X[train_idx], y[train_idx])
        oof[test_idx] = model.predict_proba(X[test_idx])[:, 1]
        if np.unique(y[test_idx]).size == 2:
            fold_auc.append(float(roc_auc_score(y[test_idx], oof[test_idx])))
        if not use_holdout:
            size = min(test_idx.size, importance_rows // n_splits)
            sample = rng.choice(test_idx, size=size, replace=False)
            importances.append(_permutation(model, X[sample], y[sample], seed + fold))

    trees = clone(template.named_steps["trees"]).fit(X, y)
    final = Pipeline([("columns", columns), ("trees", trees)])
    extra: dict[str, Any] = {}
    if use_holdout and held is not None:
        held = (
            held.sample(n=min(held.height, importance_rows), seed=seed)
            if held.height > importance_rows
            else held
        )
        X_held, y_held = columns.transform(propensity_features(held).to_pandas()), held["changed"].to_numpy()
        extra["roc_auc_holdout"] = float(roc_auc_score(y_held, trees.predict_proba(X_held)[:, 1]))
        extra["n_holdout"] = int(y_held.size)
        importances.append(_permutation(trees, X_held, y_held, seed))
    bins = reliability_bins(oof, y)
    stacked = np.hstack(importances)  # features x (folds * repeats)
    importance = pl.DataFrame(
        {
            "feature": list(FEATURES),
            "importance_mean": stacked.mean(axis=1),
            "importance_std": stacked.std(axis=1),
        }
    ).sort("importance_mean", descending=True)
    lift = lift_by_decile(y, oof)
    metrics: dict[str, Any] = {
        # Per-case out-of-fold scores: the honest score for a case the final model was fitted on.
        "out_of_fold": pl.DataFrame({"case_id": data["case_id"].cast(pl.String), "oof_probability": oof}),
        "n": int(y.size),
        "n_patients": int(np.unique(groups).size),
        "base_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, oof)),
        "roc_auc_folds": fold_auc,
        "brier": float(brier_score_loss(y, oof)),
        "calibration": bins.to_dicts(),
        "ece": expected_calibration_error(bins),
        "permutation_importance": importance.to_dicts(),
        "lift": lift.to_dicts(),
        "top_decile_lift": float(lift["lift"][0]) if lift.height else float("nan"),
        "cv": f"{n_splits}-fold cross-validation grouped by patient_key, out-of-fold predictions",
        "importance_on": "held-out patients, final model" if use_holdout else "out-of-fold rows, fold models",
        "seed": int(seed),
        **extra,
    }
    return final, metrics


def score_propensity(model: Pipeline, cases: pl.DataFrame, threads: int = 1) -> pl.DataFrame:
    """case_id, change_probability for every case given (labelled or not: it is a referral score).

    Each distinct combination of features is scored once (at 200k referrals about half are
    repeats, and more as a warehouse grows): the trees' cost follows the combinations, not the cases.
    """
    if cases.height == 0:
        return pl.DataFrame(schema={"case_id": pl.String, "change_probability": pl.Float64})
    features = propensity_features(cases)
    distinct = features.unique(maintain_order=True)
    with threadpool_limits(limits=threads, user_api="openmp"):
        proba = model.predict_proba(distinct)[:, 1]
    scored = distinct.with_columns(change_probability=pl.Series(proba.astype(np.float64)))
    probability = features.join(
        scored, on=list(FEATURES), how="left", nulls_equal=True, maintain_order="left"
    )["change_probability"]
    return pl.DataFrame({"case_id": cases["case_id"].cast(pl.String), "change_probability": probability})
