"""Great Expectations 1.x suites compiled from the same contracts, run on staged tables.

GX 1.x has no DuckDB engine and no Polars support, and dagster-ge needs GX < 1.0, so this small
adapter of our own hands GX a pandas frame taken from DuckDB through Arrow, on an ephemeral
context. Each expectation carries the contract rule it came from (`meta.rule`), so the Dagster
check built from it is named after one line of YAML. Rules that need another table (the case's
referral date) or several fields (at least one signal) are expressed on derived columns that the
frame query adds.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from pipelines.lib.landing.contracts import Contract, Rule
from pipelines.lib.landing.row_rules import q

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
logging.getLogger("great_expectations").setLevel(logging.ERROR)

SIGNAL_COLUMN = "_signal_count"
REFERENCE_PREFIX = "_ref_"


@dataclass(frozen=True)
class ExpectationOutcome:
    rule: str
    expectation: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    sample: list[Any] = field(default_factory=list)

    @property
    def check_name(self) -> str:
        return check_name(self.rule)


def check_name(reason: str) -> str:
    """Dagster check names allow letters, digits and underscores: `a:b` -> `a__b`."""
    return reason.replace(":", "__")


def _expectation(rule: Rule, today: dt.date) -> dict[str, Any] | None:
    col = rule.field
    meta = {"rule": rule.reason, "description": rule.description}

    def exp(kind: str, **kwargs: Any) -> dict[str, Any]:
        return {"type": kind, "kwargs": kwargs, "meta": meta}

    match rule.kind:
        case "required":
            return exp("expect_column_values_to_not_be_null", column=col)
        case "type":
            return exp("expect_column_to_exist", column=col)
        case "invalid_value":
            return exp("expect_column_values_to_be_in_set", column=col, value_set=list(rule.params["values"]))
        case "pattern":
            return exp("expect_column_values_to_match_regex", column=col, regex=rule.params["pattern"])
        case "minimum":
            return exp("expect_column_values_to_be_between", column=col, min_value=rule.params["minimum"])
        case "maximum":
            return exp("expect_column_values_to_be_between", column=col, max_value=rule.params["maximum"])
        case "unique":
            return exp("expect_column_values_to_be_unique", column=col)
    impl = rule.params.get("rule")
    if impl == "not_after_today":
        return exp("expect_column_values_to_be_between", column=col, max_value=pd.Timestamp(today))
    if impl == "not_before_reference":
        return exp(
            "expect_column_pair_values_a_to_be_greater_than_b",
            column_A=col,
            column_B=REFERENCE_PREFIX + rule.params["reference"].split(".")[1],
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    if impl == "not_before_field":
        return exp(
            "expect_column_pair_values_a_to_be_greater_than_b",
            column_A=col,
            column_B=rule.params["field"],
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    if impl == "any_present":
        return exp("expect_column_values_to_be_between", column=SIGNAL_COLUMN, min_value=1)
    return None


def expectations_for(contract: Contract, today: dt.date) -> list[dict[str, Any]]:
    """The GX suite of a contract, one expectation per rule, as GX 1.x expectation dicts."""
    out = [e for e in (_expectation(r, today) for r in contract.rules) if e is not None]
    if contract.record_type == "opinions":  # staging.opinions holds the latest version only
        out.append(
            {
                "type": "expect_column_values_to_be_unique",
                "kwargs": {"column": "opinion_id"},
                "meta": {
                    "rule": "opinion_id:version_conflict",
                    "description": "one latest version per opinion_id",
                },
            }
        )
    return out


def frame_query(contract: Contract, table: str, max_rows: int, seed: int) -> str:
    """SQL for the pandas frame GX validates: the staged table plus derived columns, sampled
    reproducibly when larger than max_rows."""
    cols = [f"t.{q(c)}" for c in contract.columns]
    joins = ""
    for rule in contract.rules:
        if rule.params.get("rule") == "not_before_reference":
            ref_table, ref_col = rule.params["reference"].split(".")
            cols.append(f"r.{q(ref_col)} AS {q(REFERENCE_PREFIX + ref_col)}")
            joins = f" LEFT JOIN staging.{ref_table} r USING (case_id)"
        if rule.params.get("rule") == "any_present":
            present = " + ".join(f"CAST(t.{q(c)} IS NOT NULL AS INTEGER)" for c in rule.params["properties"])
            cols.append(f"({present}) AS {SIGNAL_COLUMN}")
    sample = f" USING SAMPLE reservoir({max_rows} ROWS) REPEATABLE ({seed})"
    return f"SELECT {', '.join(cols)} FROM (SELECT * FROM {table}{sample}) t{joins}"


def validate_frame(
    frame: pd.DataFrame, expectations: list[dict[str, Any]], name: str
) -> list[ExpectationOutcome]:
    """Run expectations on a pandas frame with an ephemeral GX context."""
    import great_expectations as gx  # imported lazily: it costs ~3 s and only checks need it

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = {"globally": False}  # type: ignore[assignment]
    batch = (
        ctx.data_sources.add_pandas(name).add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
    )
    suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(data=batch, suite=suite, name=name))
    with warnings.catch_warnings():  # GX's own regex metrics warn about capture groups in our patterns
        warnings.simplefilter("ignore", UserWarning)
        result = vd.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    outcomes = []
    for r in result.results:
        cfg = r.expectation_config
        assert cfg is not None  # every result of a suite run carries the expectation it ran
        rule = (cfg.meta or {}).get("rule", cfg.type)
        private = cfg.type == "expect_column_values_to_not_match_regex_list"  # never echo free text
        sample = [] if private else [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:3]]
        outcomes.append(
            ExpectationOutcome(
                rule,
                cfg.type,
                bool(r.success),
                r.result.get("element_count"),
                r.result.get("unexpected_count"),
                sample,
            )
        )
    return outcomes


def validate_table(
    conn: duckdb.DuckDBPyConnection, contract: Contract, table: str, today: dt.date, max_rows: int, seed: int
) -> list[ExpectationOutcome]:
    """Validate a staged table (DuckDB hands dates to pandas as datetime64, which GX compares)."""
    frame = conn.execute(frame_query(contract, table, max_rows, seed)).df()
    return validate_frame(frame, expectations_for(contract, today), contract.record_type)
