"""The `secondlook` command: generate synthetic landing data, run the whole pipeline, print the board pack.

Errors a person can fix are one line on stderr and a non-zero exit; quarantined rows are not
errors (they are counted and reported in the summary).

Exit status of `secondlook run`: 0 done; 1 a step or a blocking check failed; 2 the run could not
start (a path, a setting, the warehouse busy); 3 nothing was loaded and the warehouse is empty
(every file was refused, unreadable or empty: nothing to measure); 4 with `--strict`, a file was
rejected or unparseable (for schedulers that must not let a refused file pass unnoticed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pipelines.defs.resources import DEFAULT_LANDING, DEFAULT_SITE, DEFAULT_WAREHOUSE


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 0.5:
        raise argparse.ArgumentTypeError(f"must be between 0 and 0.5, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="secondlook", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a realistic synthetic landing folder")
    gen.add_argument("--cases", type=_positive, required=True, help="number of referrals")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", type=Path, required=True, help="landing folder to write")
    gen.add_argument("--format", choices=["csv", "parquet", "jsonl"], default="csv")
    gen.add_argument(
        "--dirty-fraction",
        type=_fraction,
        default=0.0,
        help="share of injected bad rows exercising every quarantine rule",
    )
    gen.add_argument(
        "--enrollment",
        action="store_true",
        help="also write enrollment (each patient's coverage period), so cases without claims can count",
    )
    run = sub.add_parser("run", help="ingest the landing folder and rebuild every table and the site")
    run.add_argument("--landing", type=Path, default=Path(DEFAULT_LANDING))
    run.add_argument("--warehouse", type=Path, default=Path(DEFAULT_WAREHOUSE))
    run.add_argument("--site", type=Path, default=Path(DEFAULT_SITE))
    run.add_argument("--costs", type=Path, default=None, help="a payer's procedure_costs file")
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run holding the warehouse (default: exit at once)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit 4 when any landing file is rejected or unparseable (quarantined rows still load)",
    )
    run.add_argument(
        "--retrain",
        action="store_true",
        help="rebuild everything and retrain the models whatever the retraining policy says",
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="rebuild everything even when the landing files, settings and code are those of the last run",
    )
    report = sub.add_parser(
        "report", help="print the board pack (overview, cost, one page per specialty) to one PDF"
    )
    report.add_argument("--out", type=Path, required=True, help="PDF to write, e.g. board-pack.pdf")
    report.add_argument(
        "--site", type=Path, default=Path(DEFAULT_SITE), help="the site a run built (its report.html)"
    )
    report.add_argument("--paper", choices=["letter", "a4"], default="letter")
    report.add_argument(
        "--run-id", default=None, help="refuse unless the site was built by this run (for schedulers)"
    )
    review = sub.add_parser("review", help="the review queue for people to label")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    export = review_sub.add_parser(
        "export", help="write the review queue as a CSV to fill in and land as opinion_labels"
    )
    export.add_argument("--warehouse", type=Path, default=Path(DEFAULT_WAREHOUSE))
    export.add_argument(
        "--site", type=Path, default=Path(DEFAULT_SITE), help="the published site (refused as a target)"
    )
    export.add_argument(
        "--out", type=Path, default=None, help="CSV to write (default: review/ beside the warehouse)"
    )
    return parser


def cmd_review_export(args: argparse.Namespace) -> int:
    from pipelines.lib.review.export import default_export_path, export_review_queue
    from pipelines.lib.warehouse import connect, table_exists

    out = args.out or default_export_path(args.warehouse)
    conn = connect(args.warehouse, read_only=True)
    try:
        if not table_exists(conn, "marts.review_queue"):
            print(
                f"secondlook: {args.warehouse} has no review queue yet; run `secondlook run` first",
                file=sys.stderr,
            )
            return 2
        n = export_review_queue(conn, out, args.site)
    finally:
        conn.close()
    print(f"wrote {n:,} narrative opinions to review to {out}")
    print(
        "fill in outcome and labelled_at (and labeller, note), delete rows you did not label, and put the file"
    )
    print("in the landing folder: the next `secondlook run` applies the labels (outcome_source human).")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from dashboards.report import ReportError, print_report

    try:
        result = print_report(args.site, args.out, run_id=args.run_id, paper=args.paper)
    except ReportError as exc:
        print(f"secondlook: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote the board pack of run {result.run_id} ({result.period}) to {result.path}: "
        f"{result.pages} pages in {result.seconds:.1f} s"
    )
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import generate

    started = time.monotonic()
    summary = generate(
        args.cases,
        args.seed,
        args.out,
        fmt=args.format,
        dirty_fraction=args.dirty_fraction,
        enrollment=args.enrollment,
    )
    print(f"wrote synthetic landing data to {args.out} in {time.monotonic() - started:.1f} s")
    for key, value in summary.items():
        print(f"  {key}: {value}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.cli.run import run_pipeline

    print(f"Second Look: landing {args.landing} -> warehouse {args.warehouse}", file=sys.stderr)
    if args.retrain:
        os.environ["SECONDLOOK_RETRAIN"] = "true"  # read with the other settings when the run starts
    outcome = run_pipeline(
        args.landing,
        args.warehouse,
        args.site,
        args.costs,
        wait_seconds=args.wait,
        full=args.full or args.retrain,
    )
    print(f"\nRun {outcome.run_id} finished in {outcome.seconds:.1f} s")
    print(
        f"Assets materialised: {len(outcome.materialised)}" if outcome.materialised else "Nothing recomputed."
    )
    print(outcome.summary)
    print(f"\nWarehouse: {args.warehouse.resolve()}")
    if outcome.site_index is not None:
        print(f"Dashboards: {outcome.site_index.absolute()}")
    if outcome.failed_steps:
        print(
            f"secondlook: run incomplete: step(s) failed: {', '.join(outcome.failed_steps)}", file=sys.stderr
        )
        return 1
    counts = outcome.counts
    if counts.loaded_in_warehouse == 0:
        print(
            f"secondlook: nothing loaded: no row of {args.landing} was loaded and the warehouse "
            f"{args.warehouse} is empty; fix the files named above (! lines) and run again",
            file=sys.stderr,
        )
        return 3
    if args.strict and counts.refused_files:
        print(
            f"secondlook: --strict: {len(counts.refused_files)} file(s) refused: "
            f"{', '.join(counts.refused_files)}",
            file=sys.stderr,
        )
        return 4
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipelines.cli.run import RunError
    from pipelines.lib.review.export import ExportError
    from pipelines.lib.settings import SettingsError
    from pipelines.lib.warehouse import WarehouseBusy, WarehouseError

    commands = {
        "generate": cmd_generate,
        "run": cmd_run,
        "review": cmd_review_export,
        "report": cmd_report,
    }
    try:
        return commands[args.command](args)
    except (RunError, SettingsError, WarehouseBusy, WarehouseError, ExportError, OSError) as exc:
        print(f"secondlook: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
