"""Model assets: train and evaluate the opinion text classifier and the change-propensity model."""


from pathlib import Path

import dagster as dg

from pipelines.checks_store import record_check_results
from pipelines.modelling import build_case_scores, build_targeting, train_propensity_model, train_text_model
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



PROPENSITY = dg.AssetKey(["models", "change_propensity"])
CASE_SCORES = dg.AssetKey(["core", "case_scores"])
TARGETING = dg.AssetKey(["marts", "targeting"])


@dg.asset(
    key=PROPENSITY, group_name="models", kinds={"scikitlearn"}, pool="duckdb_writer",
    deps=[["core", "case_outcomes"], ["staging", "cases"], ["reference", "procedures"]],
    description="P(second opinion changes the plan | what is known at referral), patient-grouped CV.",
)
def change_propensity(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        metrics = train_propensity_model(conn, Path(secondlook.warehouse), secondlook.settings())
    if isinstance(metrics, str):
        secondlook.say(f"propensity model: not trained ({metrics})")
        return dg.MaterializeResult(metadata={"trained": False, "reason": metrics})
    secondlook.say(f"propensity model: out-of-fold ROC AUC {metrics['roc_auc']:.3f}, "
                   f"top-decile lift {metrics['top_decile_lift']:.2f}")
    top = metrics["permutation_importance"][:3]
    return dg.MaterializeResult(metadata={
        "trained": True, "roc_auc": float(metrics["roc_auc"]), "brier": float(metrics["brier"]), "ece": float(metrics["ece"]),
        "top_decile_lift": float(metrics["top_decile_lift"]), "n": int(metrics["n"]),
        "top_features": ", ".join(f"{t['feature']} ({t['importance_mean']:.3f})" for t in top),
    })


@dg.asset(key=CASE_SCORES, group_name="core", kinds={"duckdb"}, pool="duckdb_writer",
          deps=[PROPENSITY, ["core", "case_costs"]],
          description="Change probability and expected cost avoided for every referral, pending ones included.")
def case_scores(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        n = build_case_scores(conn, Path(secondlook.warehouse))
    return dg.MaterializeResult(metadata={"dagster/row_count": n})


@dg.asset(key=TARGETING, group_name="marts", kinds={"duckdb"}, pool="duckdb_writer", deps=[PROPENSITY],
          description="Lift by decile of out-of-fold propensity scores: what routing the top decile buys.")
def targeting(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        n = build_targeting(conn, Path(secondlook.warehouse))
    return dg.MaterializeResult(metadata={"dagster/row_count": n})


model_assets = [text_classifier, change_propensity, case_scores, targeting]
