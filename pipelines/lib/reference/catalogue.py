"""The reference catalogue: procedure families, invasiveness tiers, reference prices and pathways.

The catalogue is versioned data (`pipelines/catalogue/*.csv`) rather than code so that a price
or a tier can be reviewed and changed in one line with its source next to it. Descriptions are
our own plain words: CPT descriptor text is licensed by the AMA and is not shipped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.landing.contracts import load_contracts
from pipelines.lib.landing.files import read_raw
from pipelines.lib.landing.row_rules import q, validation_sql
from pipelines.lib.vocabulary import SPECIALTIES
from pipelines.lib.warehouse import write_table

CATALOGUE_DIR = Path(__file__).with_name("data")

CONTRACTS = {"procedures": "reference_procedures", "pathways": "reference_pathways"}

PROCEDURE_SCHEMA: dict[str, pl.DataType] = {
    "procedure_code": pl.Utf8(),
    "description": pl.Utf8(),
    "specialty": pl.Utf8(),
    "family": pl.Utf8(),
    "tier": pl.Int32(),
    "cost_usd": pl.Float64(),
    "cost_basis": pl.Utf8(),
    "cost_year": pl.Int32(),
    "cost_source": pl.Utf8(),
    "cost_is_estimate": pl.Boolean(),
}
PATHWAY_SCHEMA: dict[str, pl.DataType] = {
    "specialty": pl.Utf8(),
    "conservative_cost_usd": pl.Float64(),
    "conservative_source": pl.Utf8(),
    "workup_cost_usd": pl.Float64(),
    "workup_source": pl.Utf8(),
    "default_leakage": pl.Float64(),
    "leakage_source": pl.Utf8(),
    "baseline_completion": pl.Float64(),
    "baseline_completion_source": pl.Utf8(),
    "source": pl.Utf8(),
}


def read_catalogue(directory: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read procedures.csv and pathways.csv with fixed types (codes stay text: 0-led, J7298).

    Raises ValueError listing every problem when the files break their contracts
    (data_contracts/reference_*.yaml) or the cross-row rules below, so a bad edit fails the run
    at load time instead of silently mis-pricing cases.
    """
    directory = directory or CATALOGUE_DIR
    problems = [
        p for name in CONTRACTS for p in contract_problems(directory / f"{name}.csv", CONTRACTS[name])
    ]
    if problems:
        raise ValueError("reference catalogue is invalid: " + "; ".join(problems))
    procedures = pl.read_csv(directory / "procedures.csv", schema=PROCEDURE_SCHEMA)
    pathways = pl.read_csv(directory / "pathways.csv", schema=PATHWAY_SCHEMA)
    procedures = procedures.with_columns(pl.col("procedure_code").str.strip_chars().str.to_uppercase())
    problems = validate_catalogue(procedures, pathways)
    if problems:
        raise ValueError("reference catalogue is invalid: " + "; ".join(problems))
    return procedures, pathways


def contract_problems(path: Path, contract_name: str) -> list[str]:
    """Row rules of the file's contract, compiled exactly as for landing files: `file row N: field:rule`."""
    contract = load_contracts()[contract_name]
    conn = duckdb.connect()
    try:
        names = read_raw(conn, path, "csv", "catalogue_raw")
        missing = [c for c in contract.columns if c not in names]
        if missing:
            return [f"{path.name}: missing column(s) {', '.join(missing)}"]
        checked = validation_sql(contract, "catalogue_raw", names, dt.date.today())
        rows = conn.execute(
            f"SELECT _row_number, _reasons FROM ({checked}) WHERE len(_reasons) > 0 ORDER BY _row_number"
        ).fetchall()
        problems = [f"{path.name} row {n}: {', '.join(reasons)}" for n, reasons in rows]
        for prop in (p for p in contract.properties if p.unique):
            dupes = conn.execute(
                f"SELECT {q(prop.name)} FROM catalogue_raw GROUP BY 1 HAVING count(*) > 1 ORDER BY 1"
            ).fetchall()
            problems += [f"{path.name}: {prop.name}:not_unique ({value})" for (value,) in dupes]
        return problems
    finally:
        conn.close()


def validate_catalogue(procedures: pl.DataFrame, pathways: pl.DataFrame) -> list[str]:
    """Rules across rows and columns that a per-row contract cannot state."""
    problems: list[str] = []
    unsourced = procedures.filter(
        (pl.col("cost_basis") == "estimate") & ~pl.col("cost_is_estimate").fill_null(False)
    )
    if unsourced.height:
        problems.append(
            f"cost_basis estimate without cost_is_estimate for {unsourced['procedure_code'].to_list()}"
        )
    unlabelled = procedures.filter(
        pl.col("cost_is_estimate").fill_null(False) & ~pl.col("cost_source").str.contains("(?i)estimate")
    )
    if unlabelled.height:
        problems.append(
            f"estimated price not labelled 'estimate' in cost_source for {unlabelled['procedure_code'].to_list()}"
        )
    missing = set(SPECIALTIES) - set(pathways["specialty"].to_list())
    if missing:
        problems.append(f"pathways: no row for {sorted(missing)}")
    return problems


def write_reference(
    conn: duckdb.DuckDBPyConnection, procedures: pl.DataFrame, pathways: pl.DataFrame
) -> None:
    """Replace reference.procedures and reference.pathways with the given frames."""
    conn.execute("CREATE SCHEMA IF NOT EXISTS reference")
    for table, frame, schema in (
        ("procedures", procedures, PROCEDURE_SCHEMA),
        ("pathways", pathways, PATHWAY_SCHEMA),
    ):
        write_table(conn, f"reference.{table}", frame.select([pl.col(c).cast(t) for c, t in schema.items()]))
