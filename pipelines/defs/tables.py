"""Warehouse tables as Dagster asset specs: one key per table (`schema/table`), its owner, tags,
kind and column schema, so the asset graph reads like docs/warehouse.md."""

from collections.abc import Iterable, Sequence

import dagster as dg

from pipelines.lib.landing.contracts import Contract
from pipelines.lib.landing.row_rules import sql_type

OWNERS = {
    "ingest": ["team:data-engineering"],
    "reference": ["team:data-engineering"],
    "core": ["team:clinical-quality"],
    "models": ["team:data-science"],
    "marts": ["team:clinical-quality"],
    "audit": ["team:data-engineering"],
    "dashboards": ["team:clinical-quality"],
}
#: Staging rows say where they came from (DESIGN "Warehouse"): these follow the contract's fields.
LINEAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("record_hash", "VARCHAR", "md5 of the row's contract fields: what makes two rows the same record"),
    ("source_file", "VARCHAR", "landing file the row was read from"),
    ("source_sha256", "VARCHAR", "sha256 of that file's bytes"),
    ("source_row", "BIGINT", "1-based data row in that file"),
    ("loaded_at", "TIMESTAMP", "when the row was staged"),
    ("run_id", "VARCHAR", "the run that staged it"),
)


def key(table: str) -> dg.AssetKey:
    """`core.case_outcomes` -> AssetKey(['core', 'case_outcomes'])."""
    return dg.AssetKey(table.split("."))


def keys(tables: Iterable[str]) -> list[dg.AssetKey]:
    return [key(t) for t in tables]


def contract_schema(contract: Contract) -> dg.TableSchema:
    """The staged table's columns as the contract defines them, plus the lineage columns."""
    columns = [
        dg.TableColumn(
            p.name,
            sql_type(p),
            description=p.description or None,
            constraints=dg.TableColumnConstraints(nullable=not p.required, unique=p.unique),
        )
        for p in contract.properties
    ]
    columns += [dg.TableColumn(name, kind, description=text) for name, kind, text in LINEAGE_COLUMNS]
    return dg.TableSchema(columns=columns)


def spec(
    table: str,
    description: str,
    *,
    group: str,
    deps: Sequence[str] = (),
    pii: bool = False,
    published: bool = False,
    kinds: Iterable[str] = ("duckdb",),
    schema: dg.TableSchema | None = None,
) -> dg.AssetSpec:
    """The AssetSpec of one warehouse table (or other output) with its real dependencies."""
    tags = {"pii": "pseudonymous"} if pii else {}
    if published:
        tags["published"] = "site"
    metadata = {"dagster/column_schema": schema} if schema is not None else {}
    return dg.AssetSpec(
        key(table),
        description=description,
        group_name=group,
        deps=keys(deps),
        owners=OWNERS[group],
        tags=tags,
        kinds=set(kinds),
        metadata=metadata,
    )
