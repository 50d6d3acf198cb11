"""Model cards: a markdown page per trained model, written from the model's own metrics.

Why: a reader of a saved model (or of a run's artifacts folder) must be able to tell what it was
trained on, how it was evaluated and where it is weak without running anything. Every figure on
the card comes from the metrics dict returned by the training function — nothing is typed in —
so a card can never describe a better model than the one beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENERATED_CORPUS = "generated corpus"

_HEADLINES: tuple[tuple[str, str], ...] = (
    ("n", "rows evaluated"),
    ("n_train", "training rows"),
    ("n_calibration", "calibration rows"),
    ("n_test", "held-out rows"),
    ("n_groups_train", "phrasing groups in training"),
    ("n_groups_test", "phrasing groups held out"),
    ("n_patients", "patients"),
    ("macro_f1", "macro-F1 (held out)"),
    ("accuracy", "accuracy (held out)"),
    ("roc_auc", "ROC AUC (out of fold)"),
    ("brier", "Brier score"),
    ("ece", "expected calibration error"),
    ("base_rate", "observed change rate"),
    ("top_decile_lift", "lift of the top decile"),
    ("split", "evaluation split"),
    ("cv", "cross-validation"),
    ("classifier", "classifier"),
    ("seed", "seed"),
    ("trained_at", "last trained"),
    ("trained_because", "trained because"),
    ("code_version", "code version"),
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return lines


def render_model_card(
    name: str,
    metrics: Mapping[str, Any],
    data_window: str | tuple[Any, Any],
    training_source: str,
    limitations: Sequence[str],
) -> str:
    """The card's markdown (see write_model_card)."""
    window = data_window if isinstance(data_window, str) else f"{data_window[0]} to {data_window[1]}"
    lines = [
        f"# Model card: {name}",
        "",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from the model's own metrics.",
        "",
    ]
    augmented = (
        training_source.lower().startswith("warehouse") and GENERATED_CORPUS in training_source.lower()
    )
    if augmented:
        lines += [
            "> **Augmented with a generated corpus.** Rule-labelled warehouse narratives were joined by synthetic",
            "> ones that broaden the wording and fill rarely labelled outcomes. The held-out figures below mix",
            "> both; check the model on a hand-labelled sample of real narrative-only reports.",
            "",
        ]
    elif GENERATED_CORPUS in training_source.lower():
        lines += [
            "> **Trained on generated corpus.** The warehouse held too few labelled narratives, so this model",
            "> learned from synthetic narratives. Its scores on real reports are unknown until it is retrained",
            "> on labelled warehouse data; treat its labels as a triage aid for the review queue.",
            "",
        ]
    lines += ["## Training data", "", f"- Source: {training_source}", f"- Data window: {window}"]
    if metrics.get("classes_not_learned"):
        lines.append(
            "- Not learned (too few phrasing groups to learn and calibrate on unseen wording): "
            + ", ".join(metrics["classes_not_learned"])
        )
    lines.append("")

    lines += ["## Evaluation", ""]
    lines += [f"- {label}: {_fmt(metrics[key])}" for key, label in _HEADLINES if key in metrics]
    lines.append("")

    at = metrics.get("at_threshold")
    if isinstance(at, Mapping):
        lines += [
            f"At the review threshold {_fmt(at.get('threshold'))}: {_fmt(at.get('coverage'))} of held-out",
            f"narratives are classified (the rest go to the review queue), with accuracy "
            f"{_fmt(at.get('accuracy_classified'))} among those classified.",
            "",
        ]
    per_class = metrics.get("per_class")
    if isinstance(per_class, Mapping):
        rows = [{"class": k, **v} for k, v in per_class.items()]
        lines += ["### Per class", "", *_table(rows, ["class", "precision", "recall", "f1", "support"]), ""]
    matrix = metrics.get("confusion_matrix")
    labels = metrics.get("labels")
    if matrix and labels:
        rows = [
            {"true \\ predicted": lab, **dict(zip(labels, row, strict=True))}
            for lab, row in zip(labels, matrix, strict=True)
        ]
        lines += ["### Confusion matrix (rows: truth)", "", *_table(rows, ["true \\ predicted", *labels]), ""]
    bins = metrics.get("reliability") or metrics.get("calibration")
    if bins:
        lines += [
            "### Calibration (reliability bins)",
            "",
            *_table(bins, ["bin_low", "bin_high", "n", "mean_predicted", "observed_rate"]),
            "",
        ]
    importance = metrics.get("permutation_importance")
    if importance:
        lines += [
            "### Permutation importance (drop in ROC AUC)",
            "",
            *_table(importance, ["feature", "importance_mean", "importance_std"]),
            "",
        ]
    lift = metrics.get("lift")
    if lift:
        lines += [
            "### Lift by decile (1 = highest scores)",
            "",
            *_table(lift, ["decile", "n", "mean_score", "observed_change_rate", "lift", "cumulative_lift"]),
            "",
        ]
    extra = metrics.get("handwritten")
    if isinstance(extra, Mapping):
        lines += ["### Hand-written narratives (independent of the generator)", ""]
        lines += [f"- {k}: {_fmt(v)}" for k, v in extra.items()]
        lines.append("")

    sets = metrics.get("validation_sets")
    if isinstance(sets, Mapping) and sets:
        lines += [
            "### The text path on hand-written narratives (written independently of the generator)",
            "",
            "Rule 5 as a run applies it: extraction through rules 1-4, this model as second reader, needs_review",
            "where they disagree. Accuracy counts an unclassified narrative as wrong.",
            "",
        ]
        for name, fig in sets.items():
            lines.append(
                f"- {name}: accuracy {_fmt(fig['accuracy'])}, coverage {_fmt(fig['coverage'])}, "
                f"precision when classified {_fmt(fig['precision_classified'])} (n={_fmt(fig['n'])})"
            )
        lines.append("")
        for name, fig in sets.items():
            rows = [{"class": k, **v} for k, v in fig["per_class"].items()]
            lines += [
                f"Per class, {name}:",
                "",
                *_table(rows, ["class", "precision", "recall", "f1", "support"]),
                "",
            ]
    human = metrics.get("human_labels")
    if isinstance(human, Mapping):
        lines += ["### On people's labels", ""]
        if human.get("accuracy") is not None:
            lines.append(
                f"- extraction accuracy {_fmt(human['accuracy'])} (95% Wilson {_fmt(human['ci_low'])} to "
                f"{_fmt(human['ci_high'])}), {human['basis']}"
            )
        else:
            lines.append(f"- not yet validated: {human.get('basis', 'no labels')}")
        lines.append("")

    lines += ["## Limitations", ""]
    lines += [f"- {item}" for item in limitations] or ["- None recorded."]
    lines.append("")
    return "\n".join(lines)


def write_model_card(
    path: Path | str,
    name: str,
    metrics: Mapping[str, Any],
    data_window: str | tuple[Any, Any],
    training_source: str,
    limitations: Sequence[str],
) -> Path:
    """Write the markdown card for a model; returns the path written.

    `training_source` is free text ("warehouse: 12,000 labelled narratives"); when it mentions
    the generated corpus (GENERATED_CORPUS) the card opens with a warning saying so.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        render_model_card(name, metrics, data_window, training_source, limitations), encoding="utf-8"
    )
    return path
