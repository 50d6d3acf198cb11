"""Model assets: train and evaluate the opinion text classifier and the change-propensity model."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from pipelines.checks_store import record_check_results
from pipelines.modelling import train_text_model
from pipelines.resources import SecondLook

TEXT_MODEL = dg.AssetKey(["models", "text_classifier"])
F1_CHECK = "heldout_macro_f1_floor"


@dg.asset(
    key=TEXT_MODEL, group_name="models", kinds={"scikitlearn"}, pool="duckdb_writer",
    deps=[["staging", "opinions"], ["staging", "cases"], ["reference", "procedures"]],
    check_specs=[dg.AssetCheckSpec(F1_CHECK, asset=TEXT_MODEL,
                                   description="Held-out macro-F1 (group split) reaches text_model_f1_floor")],
    description="Narrative -> outcome classifier (design rule 5), trained on rule-labelled narratives.",
)
def text_classifier(context: dg.AssetExecutionContext, secondlook: SecondLook):
    settings = secondlook.settings()
    with secondlook.writer() as conn:
        metrics = train_text_model(conn, Path(secondlook.warehouse), settings)
        passed = metrics["macro_f1"] >= settings.text_model_f1_floor
        record_check_results(conn, context.run_id, "models.text_classifier", [
            (F1_CHECK, passed, "ERROR", f"held-out macro-F1 >= {settings.text_model_f1_floor}",
             {"macro_f1": metrics["macro_f1"]})])
    at = metrics.get("at_threshold", {})
    secondlook.say(f"text model: held-out macro-F1 {metrics['macro_f1']:.3f} ({metrics['training_source']})")
    yield dg.MaterializeResult(metadata={
        "macro_f1": float(metrics["macro_f1"]),
        "accuracy": float(metrics.get("accuracy", 0.0)),
        "ece": float(metrics.get("ece", 0.0)),
        "accuracy_at_threshold": float(at.get("accuracy_classified", 0.0)),
        "coverage_at_threshold": float(at.get("coverage", 0.0)),
        "n_train": int(metrics["n_train"]), "n_test": int(metrics["n_test"]),
        "training_source": metrics["training_source"],
    })
    yield dg.AssetCheckResult(check_name=F1_CHECK, passed=passed, metadata={
        "macro_f1": float(metrics["macro_f1"]), "floor": settings.text_model_f1_floor})


model_assets = [text_classifier]
