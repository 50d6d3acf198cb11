"""Model evaluation helpers shared by the text classifier and the change-propensity model.

Why a module of its own: both models report the same kinds of evidence (per-class precision and
recall, reliability of the probabilities, what a threshold buys), and the model cards, asset
metadata and notebooks all read these plain dicts / Polars frames rather than model internals.
Everything here is vectorised numpy/Polars and knows nothing of Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]
) -> dict[str, object]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Labels absent from both y_true and y_pred still appear (with zeros) so run-over-run metadata
    keeps the same shape.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    present = [lab for lab, s in zip(labels, support, strict=True) if s > 0]
    return {
        "n": int(y_true.size),
        "accuracy": float(np.mean(y_true == y_pred)) if y_true.size else float("nan"),
        # Macro-F1 over the classes present in the truth: a class the test set lacks cannot be
        # scored, and counting it as 0 would punish the split rather than the model.
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
        if present
        else float("nan"),
        "per_class": {
            lab: {
                "precision": float(p),
                "recall": float(r),
                "f1": float(f),
                "support": int(s),
            }
            for lab, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "labels": labels,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def reliability_bins(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> pl.DataFrame:
    """Reliability diagram data: per equal-width confidence bin, mean confidence vs observed rate.

    For a multiclass model pass the top-class probability and whether the top class was right;
    for a binary model pass P(positive) and the 0/1 outcome. Empty bins are omitted.
    """
    confidence = np.clip(np.asarray(confidence, dtype=float), 0.0, 1.0)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    return (
        pl.DataFrame({"bin": idx, "confidence": confidence, "correct": correct})
        .group_by("bin")
        .agg(
            pl.len().alias("n"),
            pl.col("confidence").mean().alias("mean_predicted"),
            pl.col("correct").mean().alias("observed_rate"),
        )
        .with_columns(
            (pl.col("bin") / n_bins).alias("bin_low"),
            ((pl.col("bin") + 1) / n_bins).alias("bin_high"),
        )
        .sort("bin")
        .select("bin_low", "bin_high", "n", "mean_predicted", "observed_rate")
    )


def expected_calibration_error(bins: pl.DataFrame) -> float:
    """Weighted mean gap between predicted and observed rates over reliability bins (ECE)."""
    total = bins["n"].sum()
    if not total:
        return float("nan")
    gap = (bins["mean_predicted"] - bins["observed_rate"]).abs() * bins["n"]
    return float(gap.sum()) / float(total)


def threshold_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, probability: np.ndarray, threshold: float
) -> dict[str, float]:
    """What the review threshold buys: coverage (share classified) and accuracy among those.

    Below the threshold a case goes to people (marts.review_queue), so the two numbers trade off:
    a higher threshold means fewer mistakes but more reading.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    keep = np.asarray(probability, dtype=float) >= threshold
    n_kept = int(keep.sum())
    return {
        "threshold": float(threshold),
        "coverage": float(keep.mean()) if keep.size else float("nan"),
        "n_classified": n_kept,
        "accuracy_classified": float(np.mean(y_true[keep] == y_pred[keep])) if n_kept else float("nan"),
    }


def group_folds(groups: np.ndarray, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded K-fold split in which every group (e.g. a patient) falls in exactly one test fold.

    Why not sklearn's GroupKFold(shuffle=True): it tests membership group by group, which is
    quadratic and takes minutes at a few hundred thousand patients; this is one factorisation
    and one permutation.
    """
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(codes.max()) + 1 if codes.size else 0
    fold_of_group = np.random.default_rng(seed).permutation(n_groups) % n_splits
    fold = fold_of_group[codes]
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_splits)]


def lift_by_decile(y_true: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    """Targeting table: deciles of the score (1 = highest), observed change rate and lift.

    Lift is the decile's observed rate over the overall rate; cumulative lift is that of deciles
    1..k together, i.e. what a payer gains by routing only its top k tenths of referrals to a
    second opinion. Ties are broken by position so deciles have near-equal sizes.
    """
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(score, dtype=float)
    n = y.size
    if n == 0:
        return pl.DataFrame(
            schema={
                "decile": pl.Int32,
                "n": pl.UInt32,
                "mean_score": pl.Float64,
                "observed_change_rate": pl.Float64,
                "lift": pl.Float64,
                "cumulative_lift": pl.Float64,
            }
        )
    order = np.argsort(-s, kind="stable")
    decile = np.empty(n, dtype=np.int32)
    decile[order] = (np.arange(n) * 10 // n).astype(np.int32) + 1
    base = y.mean()
    return (
        pl.DataFrame({"decile": decile, "y": y, "score": s})
        .group_by("decile")
        .agg(
            pl.len().alias("n"),
            pl.col("score").mean().alias("mean_score"),
            pl.col("y").mean().alias("observed_change_rate"),
            pl.col("y").sum().alias("_hits"),
        )
        .sort("decile")
        .with_columns(
            (pl.col("observed_change_rate") / base if base > 0 else pl.lit(None, dtype=pl.Float64)).alias(
                "lift"
            ),
            (
                (pl.col("_hits").cum_sum() / pl.col("n").cum_sum()) / base
                if base > 0
                else pl.lit(None, dtype=pl.Float64)
            ).alias("cumulative_lift"),
        )
        .drop("_hits")
    )
