"""`make bench`: time each stage at the issues' scale and print the figures (not a test).

Each stage runs in its own process so its peak memory (max RSS) is measured alone. Budgets from
the issues are printed beside each figure; nothing here passes or fails.

    generate     1M cases with opinions and follow-ups           (well under 60 s)
    ingest       1M cases + ~1M opinions, validated and staged    (<= 60 s, peak < 4 GB)
    contract_checks  the Great Expectations suites on the staged tables (sampled to gx_max_rows)
    core+marts   outcomes, costs and all marts for 1M cases       (<= 30 s)
    costs        the cost stage alone at 1M cases: core cost tables and the cost marts, 1,000
                 resamples re-estimating c, l and observed prices   (<= 20 s)
    propensity   change-propensity model: sampled training with grouped CV, permutation
                 importance, every case scored in batches, targeting  (part of the full run)
    models       train text model on 200k narratives, score 1M    (<= 60 s)
    narratives   rule 5 on 1M narratives: extraction + model      (<= 60 s); narratives_rerun: cache warm
    site         dashboards from the 1M-case marts                (<= 20 s, pages <= 5 MB)
    report       `secondlook report`: the board pack of that site printed to PDF by headless
                 Chromium                                           (<= 30 s)
    lower_bound  bench/core_lower_bound.sql: the core work (read the CSVs, validate, latest opinion,
                 classify, price, rates with Wilson, cost sums) hand-written in one DuckDB query
    full_run     `secondlook run` on a fresh warehouse, every asset with its checks and the site;
                 printed as a ratio to lower_bound (1M: <= 25 s; 10M: <= 180 s, < 6 GB)
    noop_run     the same run again with nothing new: what it recomputes and how long it takes
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = {
    "generate": ("well under 60 s", 60.0),
    "ingest": ("<= 60 s, peak < 4 GB", 60.0),
    "contract_checks": ("(part of the ingest step)", 60.0),
    "core_marts": ("<= 30 s", 30.0),
    "costs": ("<= 20 s", 20.0),
    "propensity": ("part of the 25 s full run", 25.0),
    "models": ("<= 60 s", 60.0),
    "narratives": ("extraction + model <= 60 s", 60.0),
    "narratives_rerun": ("cache warm", 60.0),
    "site": ("<= 20 s, pages <= 5 MB", 20.0),
    "report": ("board pack PDF <= 30 s", 30.0),
    "lower_bound": ("hand-written DuckDB core work", 0.0),
    "full_run": ("1M: <= 25 s; 10M: <= 180 s, < 6 GB", 25.0),
    "noop_run": ("nothing new: <= 10 s, nothing recomputed", 10.0),
}
#: Stages that run with the pipeline's own code but are not part of a run (synthetic corpora,
#: re-runs of part of a stage): they are timed, not summed.
PIPELINE_STAGES = ("ingest", "contract_checks", "core_marts", "propensity", "site")


def stage(name: str, workdir: Path, cases: int) -> dict[str, float | str]:
    """Run one stage in this process; called through a child process by main()."""
    import datetime as dt

    landing, warehouse, site = workdir / "landing", workdir / "warehouse.duckdb", workdir / "site"
    started = time.perf_counter()
    extra: dict[str, float | str] = {}
    if name == "generate":
        from pipelines.generate import generate

        generate(cases, 7, landing, fmt="csv", dirty_fraction=0.0, enrollment=True)
        extra["landing_mb"] = round(sum(p.stat().st_size for p in landing.iterdir()) / 1e6, 1)
    elif name == "ingest":
        from pipelines.lib.landing.ingest import ingest
        from pipelines.lib.warehouse import connect

        conn = connect(warehouse)
        report = ingest(conn, landing, run_id="bench")
        extra.update({k: float(v) for k, v in report.totals().items()})
        conn.close()
    elif name == "contract_checks":
        from pipelines.lib.landing.contracts import load_contracts
        from pipelines.lib.landing.gx_adapter import validate_table
        from pipelines.lib.settings import load_settings
        from pipelines.lib.warehouse import connect

        settings, conn = load_settings(), connect(warehouse)
        contracts = [load_contracts()[r] for r in ("cases", "opinions", "follow_ups")]
        outcomes = [
            o
            for c in contracts
            for o in validate_table(
                conn, c, c.published_table, dt.date.today(), settings.gx_max_rows, settings.seed
            )
        ]
        extra.update(
            {
                "expectations": float(len(outcomes)),
                "failed": float(sum(not o.success for o in outcomes)),
                "rows_per_table": float(settings.gx_max_rows),
            }
        )
        conn.close()
    elif name == "core_marts":
        from pipelines.lib.core.costs import build_case_costs
        from pipelines.lib.core.outcomes import build_case_outcomes
        from pipelines.lib.marts import MARTS, MartContext
        from pipelines.lib.reference.catalogue import read_catalogue, write_reference
        from pipelines.lib.settings import load_settings
        from pipelines.lib.warehouse import connect

        settings = load_settings()
        conn = connect(warehouse)
        write_reference(conn, *read_catalogue())
        build_case_outcomes(conn, None, settings.text_model_threshold)
        build_case_costs(conn, settings)
        ctx = MartContext(settings, "bench", dt.date.today())
        for mart in MARTS:
            mart.build(conn, ctx)
        extra["cases"] = float(conn.execute("SELECT count(*) FROM core.case_outcomes").fetchall()[0][0])
        conn.close()
    elif name == "costs":
        from pipelines.lib.core.costs import build_case_costs
        from pipelines.lib.marts import MARTS, MartContext
        from pipelines.lib.settings import load_settings
        from pipelines.lib.warehouse import connect

        settings = load_settings()
        conn = connect(warehouse)
        started = time.perf_counter()  # the cost stage only: outcomes were built by core_marts
        build_case_costs(conn, settings)
        extra["core_s"] = round(time.perf_counter() - started, 1)
        ctx = MartContext(settings, "bench", dt.date.today())
        for mart in (m for m in MARTS if m.name.startswith("cost_")):
            t = time.perf_counter()
            mart.build(conn, ctx)
            extra[f"{mart.name}_s"] = round(time.perf_counter() - t, 1)
        extra["resamples"] = float(settings.bootstrap_resamples)
        extra["cases"] = float(conn.execute("SELECT count(*) FROM core.case_costs").fetchall()[0][0])
        conn.close()
    elif name == "propensity":
        from pipelines.lib.settings import load_settings
        from pipelines.lib.training.propensity import (
            build_case_scores,
            build_targeting,
            train_propensity_model,
        )
        from pipelines.lib.warehouse import connect

        conn, settings = connect(warehouse), load_settings()
        metrics = train_propensity_model(conn, warehouse, settings)
        extra["train_s"] = round(time.perf_counter() - started, 1)
        t = time.perf_counter()
        extra["scored"] = float(build_case_scores(conn, warehouse, *_threads(settings)))
        build_targeting(conn, warehouse)
        extra["score_s"] = round(time.perf_counter() - t, 1)
        if isinstance(metrics, dict):
            extra["n_labelled"] = float(metrics.get("n_labelled", metrics["n"]))
            extra["n_train"] = float(metrics["n"])
            extra["roc_auc"] = round(float(metrics["roc_auc"]), 4)
            if "roc_auc_holdout" in metrics:
                extra["roc_auc_holdout"] = round(float(metrics["roc_auc_holdout"]), 4)
            extra["threads"] = float(metrics.get("threads", 1))
        conn.close()
    elif name == "models":
        from pipelines.generate.narratives import training_corpus
        from pipelines.lib.training.text import bench_text_model

        extra.update(bench_text_model(training_corpus, train_rows=200_000, score_rows=1_000_000))
        started = (
            time.perf_counter() - float(extra["train_s"]) - float(extra["score_s"])
        )  # corpus making excluded
    elif name in ("narratives", "narratives_rerun"):
        # Rule 5 over every staged narrative (1M opinions at 1M cases carry ~0.6M narratives; the
        # generated corpus tops the count up to 1M): extraction, then the classifier scoring
        # them all. The re-run finds every reading cached.
        from pipelines.generate.narratives import training_corpus
        from pipelines.lib.training.text import bench_narrative_path
        from pipelines.lib.warehouse import connect

        conn = connect(workdir / "narratives.duckdb")
        figures = bench_narrative_path(conn, training_corpus, 1_000_000, rerun=name == "narratives_rerun")
        conn.close()
        extra.update(figures)
        started = time.perf_counter() - float(figures["extract_s"]) - float(figures["score_s"])
    elif name == "site":
        from pipelines.lib.settings import load_settings
        from pipelines.lib.site.publish import render_site
        from pipelines.lib.warehouse import connect

        conn = connect(warehouse, read_only=True)
        pages = render_site(conn, site, load_settings())
        conn.close()
        sizes = [p.stat().st_size for p in pages]
        extra["pages"] = float(len(pages))
        extra["largest_page_mb"] = round(max(sizes) / 1e6, 2) if sizes else 0.0
    elif name == "report":
        from dashboards.report import print_report

        result = print_report(site, workdir / "board-pack.pdf")
        extra["pdf_pages"] = float(result.pages)
        extra["pdf_mb"] = round((workdir / "board-pack.pdf").stat().st_size / 1e6, 2)
    elif name == "lower_bound":
        import duckdb

        from pipelines.generate.clinical import CATALOGUE_CSV

        conn = duckdb.connect()
        sql = (Path(__file__).with_name("core_lower_bound.sql")).read_text(encoding="utf-8")
        rows = conn.execute(
            sql,
            {
                "cases": str(landing / "cases*.csv"),
                "opinions": str(landing / "opinions*.csv"),
                "procedures": str(CATALOGUE_CSV),
            },
        ).fetchall()
        extra["specialties"] = float(len(rows))
        extra["classified"] = float(sum(r[1] for r in rows))
        conn.close()
    elif name == "full_run":
        from pipelines.cli.run import run_pipeline

        outcome = run_pipeline(landing, workdir / "run.duckdb", workdir / "run_site", progress=False)
        extra["failed_steps"] = float(len(outcome.failed_steps))
        extra["materialised"] = float(len(outcome.materialised))
    elif name == "noop_run":
        from pipelines.cli.run import run_pipeline

        outcome = run_pipeline(landing, workdir / "run.duckdb", workdir / "run_site", progress=False)
        extra["materialised"] = float(len(outcome.materialised))
    extra["seconds"] = round(time.perf_counter() - started, 1)
    extra["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux
    return extra


def _threads(settings: object) -> tuple[int, ...]:
    """The scoring threads of the code under test (older code took none: a before/after run)."""
    try:
        from pipelines.lib.training.propensity import model_threads
    except ImportError:
        return ()
    return (model_threads(settings),)  # type: ignore[arg-type]


def _fmt(value: float | str) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--stage", choices=list(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, args.workdir, args.cases)))
        return 0
    import datetime as dt
    import os

    with tempfile.TemporaryDirectory(prefix="secondlook-bench-") as tmp:
        print(
            f"Second Look benchmark: {args.cases:,} cases, {dt.date.today()}, "
            f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}, workdir {tmp}"
        )
        seconds_of: dict[str, float] = {}
        peak_of: dict[str, float] = {}
        for name, (budget, _) in STAGES.items():
            proc = subprocess.run(
                [sys.executable, __file__, "--stage", name, "--workdir", tmp, "--cases", str(args.cases)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(
                    f"{name:<16} FAILED: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'}"
                )
                return 1
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            seconds, peak_mb = figures.pop("seconds"), figures.pop("peak_mb")
            seconds_of[name], peak_of[name] = float(seconds), float(peak_mb)
            detail = ", ".join(f"{k}={_fmt(v)}" for k, v in figures.items())
            print(f"{name:<16} {seconds:>6.1f} s  peak {peak_mb:>6.0f} MB  (budget {budget})  {detail}")
        staged = sum(seconds_of[n] for n in PIPELINE_STAGES)
        heaviest = max(PIPELINE_STAGES, key=lambda n: peak_of[n])
        lower = max(seconds_of["lower_bound"], 0.1)
        print(
            f"pipeline stages ({' + '.join(PIPELINE_STAGES)}): {staged:.1f} s, "
            f"{staged / lower:.1f} x the lower bound; peak set by {heaviest} ({peak_of[heaviest]:,.0f} MB)"
        )
        print(
            f"full run: {seconds_of['full_run']:.1f} s, {seconds_of['full_run'] / lower:.1f} x the lower bound "
            f"({seconds_of['lower_bound']:.1f} s), peak {peak_of['full_run']:,.0f} MB; "
            f"load average now {os.getloadavg()[0]:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
