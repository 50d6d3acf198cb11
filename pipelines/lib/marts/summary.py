"""marts.run_summary: the metric/value pairs the CLI prints and the site's header shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import polars as pl

from pipelines.lib.marts.common import MartContext, query
from pipelines.lib.vocabulary import ALL
from pipelines.lib.warehouse import write_table

COST_METRICS = (
    "gross_avoided",
    "net_avoided",
    "net_ci_low",
    "net_ci_high",
    "roi",
    "n_verified",
    "realized_avoided",
    "verified_net",
    "verified_ci_low",
    "verified_ci_high",
    "n_closed_cohort",
    "deferred_avoided",
    "unpriced_changes",
)


def _text(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def build_run_summary(conn: duckdb.DuckDBPyConnection, ctx: MartContext) -> None:
    """marts.run_summary: the run's headline figures as text pairs, read back from the tables built.

    run_id, as_of, built_at, data_freshness (latest opinion date), case counts, net avoided with
    its 95% interval, the verified net, the claims-through date and how it was set, the price
    basis of the gross, the baseline completion and leakage in force per specialty, the settings.
    """
    metrics: list[tuple[str, str]] = [
        ("run_id", ctx.run_id),
        ("as_of", _text(ctx.as_of)),
        ("built_at", datetime.now(UTC).replace(microsecond=0).isoformat()),
    ]
    counts = query(conn, "run_summary_counts").row(0, named=True)
    metrics += [(name, _text(value)) for name, value in counts.items()]
    cost = conn.execute(
        f"SELECT {', '.join(COST_METRICS)} FROM marts.cost_impact WHERE specialty = ?", [ALL]
    ).fetchall()
    if cost:
        metrics += [(name, _text(value)) for name, value in zip(COST_METRICS, cost[0], strict=True)]
    through = conn.execute("SELECT claims_through, claims_through_basis FROM core.claims_through").fetchall()
    if through:
        metrics += [("claims_through", _text(through[0][0])), ("claims_through_basis", _text(through[0][1]))]
    basis = conn.execute(
        "SELECT price_basis_summary FROM marts.cost_assumptions WHERE specialty = ?", [ALL]
    ).fetchall()
    if basis:
        metrics.append(("price_basis_summary", _text(basis[0][0])))
    baseline = conn.execute(
        "SELECT specialty, rate_used, basis FROM core.baseline_rates ORDER BY 1"
    ).fetchall()
    metrics.append(("baseline_completion", json.dumps({s: {"rate": v, "basis": b} for s, v, b in baseline})))
    leak = conn.execute(
        "SELECT specialty, outcome, rate_used, basis FROM core.leakage_rates ORDER BY 1, 2"
    ).fetchall()
    leakage: dict[str, dict[str, dict[str, object]]] = {}
    for specialty, outcome, rate, kind in leak:
        leakage.setdefault(specialty, {})[outcome] = {"rate": rate, "basis": kind}
    metrics.append(("leakage", json.dumps(leakage)))
    metrics.append(("settings", json.dumps(ctx.settings.as_dict(), sort_keys=True)))
    write_table(
        conn,
        "marts.run_summary",
        pl.DataFrame(metrics, schema={"metric": pl.Utf8, "value": pl.Utf8}, orient="row"),
    )
