"""The warehouse data dictionary: one source (docs/warehouse.yaml), two outputs.

docs/warehouse.md is rendered from it for people reading the repository, and every run writes it
into the warehouse as `COMMENT ON` each table and column, so any DuckDB client (the CLI's
`.schema`, DBeaver, `duckdb_columns()`) shows what a column means beside its name. Writing both
from one file is what keeps them the same; a test renders the Markdown and compares, and another
fails when a run writes a table or column the dictionary does not name.

Staging tables take their columns from their data contract (the contract's property
descriptions) plus the lineage columns every staged row carries, so an input field is described
once, in its contract.

`python -m pipelines.lib.dictionary` rewrites docs/warehouse.md after the YAML changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

from pipelines.lib.landing.contracts import load_contracts
from pipelines.lib.landing.naming import lit, q

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "docs" / "warehouse.yaml"
MARKDOWN = ROOT / "docs" / "warehouse.md"


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    #: (column, description) in the table's order; "" where the name says it all.
    columns: tuple[tuple[str, str], ...]
    contract: str | None = None


@dataclass(frozen=True)
class Section:
    title: str
    tables: tuple[Table, ...]
    after: str = ""


@dataclass(frozen=True)
class Dictionary:
    intro: str
    sections: tuple[Section, ...]

    @property
    def tables(self) -> dict[str, Table]:
        return {t.name: t for s in self.sections for t in s.tables}


def _contract_columns(record_type: str, lineage: dict[str, str]) -> tuple[tuple[str, str], ...]:
    contract = load_contracts()[record_type]
    fields = [(p.name, " ".join(p.description.split())) for p in contract.properties]
    return (*fields, *lineage.items())


def _table(raw: dict[str, Any], lineage: dict[str, str]) -> Table:
    contract = raw.get("contract")
    if contract:
        columns = _contract_columns(contract, lineage)
    else:
        columns = tuple((str(k), str(v or "")) for k, v in (raw.get("columns") or {}).items())
    return Table(raw["name"], " ".join(str(raw["description"]).split()), columns, contract)


@cache
def load(path: Path = SOURCE) -> Dictionary:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    lineage = {str(k): str(v) for k, v in doc["lineage_columns"].items()}
    sections = tuple(
        Section(s["title"], tuple(_table(t, lineage) for t in s["tables"]), str(s.get("after") or ""))
        for s in doc["sections"]
    )
    return Dictionary(str(doc["intro"]), sections)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(dictionary: Dictionary | None = None) -> str:
    """docs/warehouse.md: per section, a table of tables with their columns and what each holds."""
    d = dictionary or load()
    out = [
        "# Warehouse data dictionary",
        "",
        "<!-- Rendered from docs/warehouse.yaml by `python -m pipelines.lib.dictionary`: edit the YAML. "
        "The same text is each table's and column's DuckDB comment. -->",
        "",
        d.intro.strip(),
        "",
    ]
    for section in d.sections:
        out += [f"## {section.title}", "", "| table | what it holds | columns |", "| --- | --- | --- |"]
        for t in section.tables:
            cols = ", ".join(f"{c} ({desc})" if desc else c for c, desc in t.columns)
            source = (
                f" Fields of the `{t.contract}` contract, then the lineage columns." if t.contract else ""
            )
            out.append(f"| {t.name} | {_cell(t.description + source)} | {_cell(cols)} |")
        out.append("")
        if section.after.strip():
            out += [section.after.strip(), ""]
    return "\n".join(out)


def written_columns(conn: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the warehouse's schemas with its columns, as the run left them."""
    rows = conn.execute(
        "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND NOT internal AND schema_name <> 'main' "
        "ORDER BY schema_name, table_name, column_index"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def undocumented(conn: duckdb.DuckDBPyConnection, dictionary: Dictionary | None = None) -> list[str]:
    """`table` or `table.column` for everything written that the dictionary does not name."""
    known = (dictionary or load()).tables
    missing = []
    for table, columns in written_columns(conn).items():
        if table not in known:
            missing.append(table)
            continue
        named = {c for c, _ in known[table].columns}
        missing += [f"{table}.{c}" for c in columns if c not in named]
    return missing


def apply_comments(conn: duckdb.DuckDBPyConnection, dictionary: Dictionary | None = None) -> int:
    """COMMENT ON every written table and column the dictionary describes; returns how many.

    Run after every table is written: CREATE OR REPLACE drops a table's comments with it.
    """
    known = (dictionary or load()).tables
    statements = []
    for table, columns in written_columns(conn).items():
        doc = known.get(table)
        if doc is None:
            continue
        schema, name = table.split(".")
        statements.append(f"COMMENT ON TABLE {q(schema)}.{q(name)} IS {lit(doc.description)}")
        present = set(columns)
        statements += [
            f"COMMENT ON COLUMN {q(schema)}.{q(name)}.{q(c)} IS {lit(desc)}"
            for c, desc in doc.columns
            if desc and c in present
        ]
    if statements:
        conn.execute(";\n".join(statements))
    return len(statements)


if __name__ == "__main__":
    MARKDOWN.write_text(render_markdown(), encoding="utf-8")
    print(f"wrote {MARKDOWN}")
