"""The end-of-run summary a person reads: files, rows, outcomes by specialty, money, checks.

Everything here is read back from the warehouse, so the summary shows what was stored, not what
the run believed it stored.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.lib.marts.quality import waiting_opinions
from pipelines.lib.settings import Settings
from pipelines.lib.vocabulary import OUTCOMES
from pipelines.lib.warehouse import table_exists


def _money(x: float | None) -> str:
    if x is None:
        return "n/a"
    sign = "-" if x < 0 else ""
    return f"{sign}${abs(x):,.0f}"


def rows_section(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Rows read, loaded, quarantined and duplicate by this run and by every run the warehouse
    holds, side by side: the outcome table below covers the whole warehouse, not this run."""
    ((*values,),) = conn.execute(
        """
        SELECT sum(rows_read) FILTER (run_id = $run), sum(rows_loaded) FILTER (run_id = $run),
               sum(rows_quarantined) FILTER (run_id = $run), sum(rows_duplicate) FILTER (run_id = $run),
               sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_duplicate)
        FROM audit.ingest_files""",
        {"run": run_id},
    ).fetchall()
    counts = [int(v or 0) for v in values]
    run, warehouse = counts[:4], counts[4:]
    identity = "holds" if run[0] == sum(run[1:]) and warehouse[0] == sum(warehouse[1:]) else "BROKEN"
    lines = [
        f"Rows (read = loaded + quarantined + duplicate: identity {identity}):",
        f"  {'':<12} {'this run':>12} {'all runs (warehouse)':>22}",
    ]
    for label, a, b in zip(("read", "loaded", "quarantined", "duplicate"), run, warehouse, strict=True):
        lines.append(f"  {label:<12} {a:>12,} {b:>22,}")
    return lines


@dataclass(frozen=True)
class LoadCounts:
    """What the exit status is decided from: rows loaded by the run and by every run, and the
    files of the run that were refused whole or could not be read (`--strict`)."""

    loaded_this_run: int
    loaded_in_warehouse: int
    refused_files: tuple[str, ...]


STRICT_STATUSES = ("rejected", "unparseable")


def load_counts(conn: duckdb.DuckDBPyConnection, run_id: str) -> LoadCounts:
    ((this, total),) = conn.execute(
        "SELECT coalesce(sum(rows_loaded) FILTER (run_id = ?), 0), coalesce(sum(rows_loaded), 0) "
        "FROM audit.ingest_files",
        [run_id],
    ).fetchall()
    refused = conn.execute(
        f"SELECT file_name || ' (' || status || ')' FROM audit.ingest_files WHERE run_id = ? "
        f"AND status IN {STRICT_STATUSES} ORDER BY file_name",
        [run_id],
    ).fetchall()
    return LoadCounts(int(this), int(total), tuple(r[0] for r in refused))


def how_read_section(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Per file of this run: what was detected and undone when it differs from the contract's
    plain form (UTF-8, comma, ISO dates), and the columns that were ignored (never stored)."""
    rows = conn.execute(
        """
        SELECT file_name, encoding, delimiter, decimal_separator, date_format, normalised, ignored_columns
        FROM audit.ingest_files WHERE run_id = ? AND (
          coalesce(encoding, 'UTF-8') <> 'UTF-8' OR coalesce(delimiter, ',') <> ','
          OR coalesce(decimal_separator, '.') <> '.' OR len(coalesce(normalised, [])) > 0
          OR len(coalesce(ignored_columns, [])) > 0)
        ORDER BY file_name""",
        [run_id],
    ).fetchall()
    lines = []
    for name, encoding, delimiter, decimal, dates, normalised, ignored in rows:
        read = [
            part
            for part in (
                encoding if encoding not in (None, "UTF-8") else None,
                f"delimiter {'tab' if delimiter == chr(9) else repr(delimiter)}"
                if delimiter not in (None, ",")
                else None,
                "decimal comma" if decimal == "," else None,
                f"dates {dates}" if dates not in (None, "yyyy-mm-dd") else None,
            )
            if part
        ]
        if read or normalised:
            lines.append(
                f"  {name}: read as {', '.join(read) or 'written'}"
                + "".join(f"; {n}" for n in normalised or [])
            )
        if ignored:
            lines.append(
                f"  {name}: ignored column(s), not in the contract and never stored: {', '.join(ignored)}"
            )
    return ["How files were read:", *lines] if lines else []


def files_section(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT status, count(*) FROM audit.ingest_files WHERE run_id = ? GROUP BY 1 ORDER BY 1",
        [run_id],
    ).fetchall()
    if not rows:
        return ["Files: none in the landing folder this run", *rows_section(conn, run_id)]
    out = ["Files: " + ", ".join(f"{n} {status}" for status, n in rows)]
    out += rows_section(conn, run_id)
    out += how_read_section(conn, run_id)
    for name, status, err in conn.execute(
        "SELECT file_name, status, error FROM audit.ingest_files WHERE run_id = ? AND error IS NOT NULL "
        "ORDER BY file_name",
        [run_id],
    ).fetchall():
        out.append(f"  ! {name}: {status}: {err}")
    reasons = conn.execute(
        """
        SELECT reason, count(*) AS n, arg_min(file_name || ' row ' || row_number, row_number) AS first
        FROM (SELECT file_name, row_number, unnest(reasons) AS reason FROM quarantine.rows WHERE run_id = ?)
        GROUP BY 1 ORDER BY n DESC, reason LIMIT 12""",
        [run_id],
    ).fetchall()
    if reasons:
        out.append("Quarantined rows by rule (first example):")
        out += [f"  {reason:<34} {n:>8,}  e.g. {first}" for reason, n, first in reasons]
    return out


ORPHANS_LISTED = 10


def _as_of(conn: duckdb.DuckDBPyConnection, run_id: str) -> dt.date:
    """The date the run judged everything against (audit.runs), else today."""
    if table_exists(conn, "audit.runs"):
        rows = conn.execute("SELECT max(as_of) FROM audit.runs WHERE run_id = ?", [run_id]).fetchall()
        if rows and rows[0][0] is not None:
            return rows[0][0]
    return dt.date.today()


def waiting_section(conn: duckdb.DuckDBPyConnection, run_id: str, settings: Settings) -> list[str]:
    """Opinions whose case has not arrived: their count and the age of the oldest, and, past
    orphan_after_days, each orphan by name (for people to chase; never published)."""
    if not table_exists(conn, "staging.opinions_waiting"):
        return []
    days = settings.orphan_after_days
    waiting = waiting_opinions(conn, _as_of(conn, run_id), days)
    if waiting.is_empty():
        return ["Waiting opinions (case not arrived yet): none"]
    orphans = waiting.filter("orphan")
    lines = [
        f"Waiting opinions (case not arrived yet): {waiting.height:,}, the oldest waiting "
        f"{waiting['waiting_days'].max()} days; {orphans.height:,} orphan(s) waiting {days} days or more"
    ]
    for row in orphans.head(ORPHANS_LISTED).iter_rows(named=True):
        lines.append(
            f"  ! orphan opinion {row['opinion_id']} (case {row['case_id']}, {row['source_file']}): "
            f"waiting {row['waiting_days']} days since {row['arrived']}"
        )
    if orphans.height > ORPHANS_LISTED:
        lines.append(f"  ... and {orphans.height - ORPHANS_LISTED:,} more in staging.opinions_waiting")
    return lines


def outcomes_section(conn: duckdb.DuckDBPyConnection) -> list[str]:
    if not table_exists(conn, "marts.outcome_rates"):
        return []
    rows = conn.execute("SELECT specialty, outcome, n, total FROM marts.outcome_rates").fetchall()
    table: dict[str, dict[str, int]] = {}
    for spec, outcome, n, total in rows:
        table.setdefault(spec, {})[outcome] = int(n)
        table[spec]["total"] = int(total)
    heads = ["specialty", *[o.replace("_", " ") for o in OUTCOMES], "total"]
    widths = [16] + [max(9, len(h)) for h in heads[1:]]
    lines = [
        "Cases by outcome (whole warehouse):",
        "  "
        + " ".join(
            h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(heads, widths, strict=True))
        ),
    ]
    for spec in sorted(table, key=lambda s: (s == "all", s)):
        vals = [table[spec].get(o, 0) for o in OUTCOMES] + [table[spec].get("total", 0)]
        cells = [spec.ljust(widths[0])] + [f"{v:,}".rjust(w) for v, w in zip(vals, widths[1:], strict=True)]
        lines.append("  " + " ".join(cells))
    pending, refused = pending_counts(conn)
    unclassified = conn.execute(
        "SELECT reason, count(*) FROM core.case_outcomes WHERE outcome = 'unclassified' "
        "GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    detail = ", ".join(f"{r}: {n:,}" for r, n in unclassified) or "none"
    lines.append(
        f"Pending (no opinion yet, not in rates): {pending:,}; opinion quarantined (every opinion of "
        f"the case was refused: see the quarantined rows, not in rates): {refused:,}; "
        f"unclassified by reason: {detail}"
    )
    lines += text_section(conn)
    return lines


def pending_counts(conn: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(cases with no opinion yet, cases whose only opinions were quarantined): core.pending_cases
    holds both, and a case whose opinion arrived and was refused is not waiting for one."""
    ((pending, refused),) = conn.execute("""
        SELECT count(*) FILTER (q.case_id IS NULL), count(*) FILTER (q.case_id IS NOT NULL)
        FROM core.pending_cases p LEFT JOIN (
          SELECT DISTINCT json_extract_string(record, '$.case_id') AS case_id
          FROM quarantine.rows WHERE record_type = 'opinions') q USING (case_id)""").fetchall()
    return int(pending), int(refused)


def payer_prices_section(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Which payer prices are in force, and which of their codes the catalogue does not know
    (priced, but nothing in the catalogue's families or tiers refers to them)."""
    if not table_exists(conn, "staging.procedure_costs") or not table_exists(conn, "reference.procedures"):
        return []
    rows = conn.execute("""
        SELECT upper(trim(pc.procedure_code)) AS code, r.procedure_code IS NOT NULL AS known,
               any_value(pc.source_file) AS file
        FROM staging.procedure_costs pc
        LEFT JOIN reference.procedures r ON upper(trim(r.procedure_code)) = upper(trim(pc.procedure_code))
        GROUP BY ALL ORDER BY code""").fetchall()
    if not rows:
        return ["Payer prices: none in force (prices are observed claims or the catalogue)"]
    unknown = [code for code, known, _ in rows if not known]
    files = sorted({f for *_, f in rows})
    line = (
        f"Payer prices in force: {len(rows):,} code(s) from {', '.join(files)}; "
        f"{len(rows) - len(unknown):,} matched the catalogue (their price replaces its price)"
    )
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10:,} more" if len(unknown) > 10 else "")
        line += f"; {len(unknown):,} unknown to the catalogue: {shown}"
    return [line]


def text_section(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Rule 5 in numbers: what decided the narrative-only cases, and the labels people gave."""
    if not table_exists(conn, "marts.outcome_provenance"):
        return []
    row = conn.execute(
        "SELECT sum(n_structured), sum(n_text_extraction), sum(n_text_model), sum(n_human), "
        "any_value(text_accuracy_basis) FROM marts.outcome_provenance WHERE specialty = 'all'"
    ).fetchall()[0]
    waiting = 0
    if table_exists(conn, "staging.opinion_labels"):
        waiting = conn.execute(
            "SELECT count(DISTINCT opinion_id) FROM staging.opinion_labels "
            "WHERE opinion_id NOT IN (SELECT opinion_id FROM staging.opinions)"
        ).fetchall()[0][0]
    return [
        f"Decided by: structured fields {int(row[0] or 0):,}, text extraction {int(row[1] or 0):,}, "
        f"text model {int(row[2] or 0):,}, people's labels {int(row[3] or 0):,}; text path: {row[4]}; "
        f"labels waiting for their opinion: {waiting:,}"
    ]


def money_section(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Projected and verified net, the claims-through date, the price basis of the gross, unpriced changes."""
    if not table_exists(conn, "marts.cost_impact"):
        return []
    row = conn.execute("""SELECT n_cases, gross_avoided, program_cost, net_avoided, net_ci_low, net_ci_high, roi,
                                 n_verified, realized_avoided, verified_net, verified_ci_low, verified_ci_high,
                                 n_closed_cohort, deferred_avoided, unpriced_changes
                          FROM marts.cost_impact WHERE specialty = 'all'""").fetchall()
    if not row:
        return []
    n, gross, fee, net, lo, hi, roi, n_ver, realized, v_net, v_lo, v_hi, cohort, deferred, unpriced = row[0]
    lines = [
        f"Net cost avoided (projected): {_money(net)} (95% CI {_money(lo)} to {_money(hi)}) over {n:,} reviewed cases",
        f"  gross {_money(gross)} - program cost {_money(fee)}; ROI {roi:.2f}"
        if roi is not None
        else f"  gross {_money(gross)} - program cost {_money(fee)}",
        f"  of which deferred (provisional): {_money(deferred)}; unpriced changes (claim nothing): {unpriced or 0:,}",
        f"Net cost avoided (verified): {_money(v_net)} (95% CI {_money(v_lo)} to {_money(v_hi)}): "
        f"{_money(realized)} verified on {n_ver or 0:,} cases, less the fee for all {cohort or 0:,} reviews "
        "whose horizon has closed",
    ]
    if table_exists(conn, "marts.cost_assumptions"):
        a = conn.execute(
            "SELECT claims_through, claims_through_basis, price_basis_summary FROM marts.cost_assumptions "
            "WHERE specialty = 'all'"
        ).fetchall()
        if a:
            through, basis, prices = a[0]
            lines.append(f"Claims through {through or 'none'} ({basis}); price basis of the gross: {prices}")
    return lines


def checks_section(conn: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT check_name, asset, passed FROM audit.check_results WHERE run_id = ?", [run_id]
    ).fetchall()
    if not rows:
        return []
    failed = [f"{asset}:{name}" for name, asset, passed in rows if not passed]
    line = f"Checks: {len(rows) - len(failed)} passed, {len(failed)} failed"
    return [line] + [f"  ! failed: {f}" for f in failed[:20]]


def models_section(artifacts: Path | None) -> list[str]:
    """What each model learned from and how it scored on data it did not see."""
    if artifacts is None:
        return []
    lines = []
    text = artifacts / "text_classifier.metrics.json"
    if text.exists():
        m = json.loads(text.read_text())
        at = m.get("at_threshold", {})
        lines.append(
            f"Text model: held-out macro-F1 {m['macro_f1']:.3f}; at threshold {at.get('threshold')}: "
            f"{at.get('coverage', 0):.0%} classified, accuracy {at.get('accuracy_classified', 0):.3f}"
        )
        lines.append(f"  trained on {m['training_source']}")
    prop = artifacts / "change_propensity.metrics.json"
    if not prop.exists():
        lines.append("Change-propensity model: not trained (too few classified cases yet)")
    else:
        m = json.loads(prop.read_text())
        lines.append(
            f"Change-propensity model: out-of-fold ROC AUC {m['roc_auc']:.3f}, "
            f"top-decile lift {m['top_decile_lift']:.2f} ({m['n']:,} classified cases)"
        )
        if m.get("trained_at"):
            lines.append(
                f"  last trained {m['trained_at']} because {m.get('trained_because')}"
                + (f"; this run: {m['last_decision']}" if m.get("last_decision") else "")
            )
    return lines


def render(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    settings: Settings,
    artifacts: Path | None = None,
    *,
    published: bool = True,
) -> str:
    """The summary of run `run_id`. A run that did not publish shows only what it read and checked:
    the outcome and money tables may be a previous run's, and are not printed beside this one's files."""
    lines = files_section(conn, run_id) + waiting_section(conn, run_id, settings)
    if published:
        lines += outcomes_section(conn) + payer_prices_section(conn) + money_section(conn)
        lines += models_section(artifacts)
    lines += checks_section(conn, run_id)
    lines.append("Settings: " + ", ".join(f"{k}={v}" for k, v in settings.as_dict().items()))
    return "\n".join(lines)
