"""Models: train and evaluate the opinion text classifier and the change-propensity model."""

from pathlib import Path

import dagster as dg

from pipelines.defs.models.checks import TEXT_MODEL, text_model_result, text_model_specs
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import key, keys
from pipelines.generate.narratives import training_corpus
from pipelines.lib.training.propensity import train_propensity_model
from pipelines.lib.training.text import train_text_model

PROPENSITY = "models.change_propensity"


@dg.asset(
    key=key(TEXT_MODEL),
    group_name="models",
    kinds={"scikitlearn"},
    pool="duckdb_writer",
    owners=["team:data-science"],
    deps=keys(
        [
            "staging.opinions",
            "staging.cases",
            "reference.procedures",
            "staging.opinion_labels",
            "core.opinion_extractions",
        ]
    ),
    check_specs=text_model_specs(),
    description="Narrative -> outcome classifier for narrative-only opinions (rule 5), trained on rule-labelled "
    "narratives plus a generated corpus; saved with skops beside the warehouse, with its model card.",
)
def text_classifier(context: dg.AssetExecutionContext, secondlook: SecondLook):
    settings = secondlook.settings()
    with secondlook.writer() as conn:
        metrics = train_text_model(conn, Path(secondlook.warehouse), settings, training_corpus)
    at = metrics.get("at_threshold", {})
    trained = bool(metrics.get("trained", True))
    decision = metrics.get("trained_because") if trained else metrics.get("kept_because")
    secondlook.say(
        f"text model: {'trained' if trained else 'kept'} because {decision}; held-out macro-F1 "
        f"{metrics['macro_f1']:.3f} ({metrics['training_source']})"
    )
    yield dg.MaterializeResult(
        metadata={
            "macro_f1": float(metrics["macro_f1"]),
            "accuracy": float(metrics.get("accuracy", 0.0)),
            "ece": float(metrics.get("ece", 0.0)),
            "accuracy_at_threshold": float(at.get("accuracy_classified", 0.0)),
            "coverage_at_threshold": float(at.get("coverage", 0.0)),
            "n_train": int(metrics["n_train"]),
            "n_test": int(metrics["n_test"]),
            "training_source": metrics["training_source"],
            "trained": trained,
            "retrain_decision": str(decision),
            "last_trained": str(metrics.get("trained_at", "")),
        }
    )
    yield text_model_result(metrics["macro_f1"], settings.text_model_f1_floor, int(metrics["n_test"]))


@dg.asset(
    key=key(PROPENSITY),
    group_name="models",
    kinds={"scikitlearn"},
    pool="duckdb_writer",
    owners=["team:data-science"],
    deps=keys(["core.case_outcomes", "staging.cases", "reference.procedures"]),
    description="P(the second opinion changes the plan | what is known at referral), boosted trees with "
    "patient-grouped cross-validation; out-of-fold scores kept for the cases it learned from.",
)
def change_propensity(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        metrics = train_propensity_model(conn, Path(secondlook.warehouse), secondlook.settings())
    if isinstance(metrics, str):
        secondlook.say(f"propensity model: not trained ({metrics})")
        return dg.MaterializeResult(metadata={"trained": False, "reason": metrics})
    trained = bool(metrics.get("trained", True))
    secondlook.say(
        f"propensity model: {'trained' if trained else 'kept'} because {metrics.get('kept_because') if not trained else metrics.get('trained_because')}; "
        f"out-of-fold ROC AUC {metrics['roc_auc']:.3f}, top-decile lift {metrics['top_decile_lift']:.2f}"
    )
    top = metrics["permutation_importance"][:3]
    return dg.MaterializeResult(
        metadata={
            "trained": trained,
            "retrain_decision": str(
                metrics.get("trained_because") if trained else metrics.get("kept_because")
            ),
            "last_trained": str(metrics.get("trained_at", "")),
            "roc_auc": float(metrics["roc_auc"]),
            "brier": float(metrics["brier"]),
            "ece": float(metrics["ece"]),
            "top_decile_lift": float(metrics["top_decile_lift"]),
            "n": int(metrics["n"]),
            "top_features": ", ".join(f"{t['feature']} ({t['importance_mean']:.3f})" for t in top),
        }
    )
