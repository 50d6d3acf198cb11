"""The reference catalogue: procedure families, invasiveness tiers, reference prices and pathways.

The catalogue is versioned data (`pipelines/catalogue/*.csv`) rather than code so that a price
or a tier can be reviewed and changed in one line with its source next to it. Descriptions are
our own plain words: CPT descriptor text is licensed by the AMA and is not shipped.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

CATALOGUE_DIR = Path(__file__).with_name("catalogue")

SPECIALTIES: tuple[str, ...] = (
    "cardiology",
    "spine",
    "orthopedics",
    "oncology",
    "general_surgery",
    "gynecology",
    "urology",
)
COST_BASES: tuple[str, ...] = ("medicare_payment", "hospital_cost", "commercial_price", "estimate")

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
    "source": pl.Utf8(),
}


def read_catalogue(directory: Path | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read procedures.csv and pathways.csv with fixed types (codes stay text: 0-led, J7298).

    Raises ValueError listing every problem when the files break the catalogue's rules, so a
    bad edit fails the run at load time instead of silently mis-pricing cases.
    """
    directory = directory or CATALOGUE_DIR
    procedures = pl.read_csv(directory / "procedures.csv", schema=PROCEDURE_SCHEMA)
    pathways = pl.read_csv(directory / "pathways.csv", schema=PATHWAY_SCHEMA)
    procedures = procedures.with_columns(pl.col("procedure_code").str.strip_chars().str.to_uppercase())
    problems = validate_catalogue(procedures, pathways)
    if problems:
        raise ValueError("reference catalogue is invalid: " + "; ".join(problems))
    return procedures, pathways


def validate_catalogue(procedures: pl.DataFrame, pathways: pl.DataFrame) -> list[str]:
    """Every rule the rest of the pipeline relies on; an empty list means the catalogue is usable."""
    problems: list[str] = []
    dupes = procedures.filter(pl.col("procedure_code").is_duplicated())["procedure_code"].unique()
    if len(dupes):
        problems.append(f"duplicate procedure_code {sorted(dupes.to_list())}")
    for column in ("procedure_code", "description", "specialty", "family", "tier", "cost_usd", "cost_source"):
        n_null = procedures[column].null_count()
        if n_null:
            problems.append(f"procedures.{column} has {n_null} empty values")
    bad_tier = procedures.filter(~pl.col("tier").is_between(0, 4))
    if bad_tier.height:
        problems.append(f"tier outside 0-4 for {bad_tier['procedure_code'].to_list()}")
    bad_cost = procedures.filter(pl.col("cost_usd") < 0)
    if bad_cost.height:
        problems.append(f"negative cost_usd for {bad_cost['procedure_code'].to_list()}")
    bad_basis = procedures.filter(~pl.col("cost_basis").is_in(COST_BASES))
    if bad_basis.height:
        problems.append(f"cost_basis not one of {COST_BASES} for {bad_basis['procedure_code'].to_list()}")
    unsourced = procedures.filter(
        (pl.col("cost_basis") == "estimate") & ~pl.col("cost_is_estimate").fill_null(False)
    )
    if unsourced.height:
        problems.append(f"cost_basis estimate without cost_is_estimate for {unsourced['procedure_code'].to_list()}")
    unlabelled = procedures.filter(
        pl.col("cost_is_estimate").fill_null(False) & ~pl.col("cost_source").str.contains("(?i)estimate")
    )
    if unlabelled.height:
        problems.append(f"estimated price not labelled 'estimate' in cost_source for {unlabelled['procedure_code'].to_list()}")
    for frame, name in ((procedures, "procedures"), (pathways, "pathways")):
        unknown = set(frame["specialty"].drop_nulls().to_list()) - set(SPECIALTIES)
        if unknown:
            problems.append(f"{name}: unknown specialty {sorted(unknown)}")
    missing = set(SPECIALTIES) - set(pathways["specialty"].to_list())
    if missing:
        problems.append(f"pathways: no row for {sorted(missing)}")
    if pathways["specialty"].is_duplicated().any():
        problems.append("pathways: duplicate specialty")
    for column in ("conservative_cost_usd", "workup_cost_usd"):
        if (pathways[column].fill_null(-1) < 0).any():
            problems.append(f"pathways.{column} must be present and >= 0")
    if (~pathways["default_leakage"].fill_null(-1).is_between(0, 1)).any():
        problems.append("pathways.default_leakage must be in [0, 1]")
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
        typed = frame.select([pl.col(c).cast(t) for c, t in schema.items()])
        view = f"_reference_{table}"
        conn.register(view, typed.to_arrow())
        try:
            conn.execute(f"CREATE OR REPLACE TABLE reference.{table} AS SELECT * FROM {view}")
        finally:
            conn.unregister(view)
