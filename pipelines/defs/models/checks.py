"""The text model's quality floor, as a WARN check: a weak model sends more cases to people, it
does not publish wrong numbers (labels below the probability threshold are never used)."""

import dagster as dg

from pipelines.defs.tables import key

TEXT_MODEL = "models.text_classifier"
F1_CHECK = "heldout_macro_f1_floor"
F1_DESCRIPTION = (
    "Held-out macro-F1 of the text model (phrasing groups it never saw) reaches text_model_f1_floor."
)


def text_model_specs() -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(F1_CHECK, asset=key(TEXT_MODEL), description=F1_DESCRIPTION)]


def text_model_result(macro_f1: float, floor: float, n_test: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=F1_CHECK,
        passed=macro_f1 >= floor,
        severity=dg.AssetCheckSeverity.WARN,
        description=F1_DESCRIPTION,
        metadata={"macro_f1": float(macro_f1), "floor": float(floor), "rows_checked": int(n_test)},
    )
