"""People's labels close the loop: export the review queue, fill it in, land it, re-run, label applied."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb

from pipelines.cli.main import main
from pipelines.cli.run import run_pipeline
from pipelines.lib.warehouse import artifacts_dir
from tests.conftest import BuiltRun


def test_export_fill_in_land_rerun_and_the_labels_apply(built_run: BuiltRun, tmp_path: Path, capsys) -> None:
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    shutil.copytree(built_run.landing, landing)
    shutil.copy(built_run.warehouse, warehouse)
    shutil.copytree(artifacts_dir(built_run.warehouse), artifacts_dir(warehouse))
    export = tmp_path / "review" / "opinion_labels_first.csv"

    assert main(["review", "export", "--warehouse", str(warehouse), "--out", str(export)]) == 0
    assert "narrative opinions to review" in capsys.readouterr().out
    with export.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 35
    assert {"narrative", "initial_procedure", "best_guess", "why", "outcome", "labelled_at"} <= set(rows[0])
    priorities = [float(r["priority"]) for r in rows]
    assert priorities == sorted(priorities, reverse=True)  # the answers that matter most come first

    # A person labels the first 35 (all 'deferred', which no reading need agree with), leaves the rest.
    labelled = rows[:35]
    for r in labelled:
        r.update(
            outcome="deferred", labelled_at="2026-11-30 09:00:00", labeller="rev-01", note="read in full"
        )
    with (landing / export.name).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(labelled)
    # A label for an opinion that has not arrived waits, and is counted.
    (landing / "opinion_labels_stray.csv").write_text(
        "opinion_id,outcome,labelled_at,labeller,note\nOP-NOT-YET,confirmed,2026-11-30 09:00:00,rev-01,\n"
    )

    outcome = run_pipeline(landing, warehouse, tmp_path / "site", progress=False)
    assert not outcome.failed_steps, outcome.summary
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        ids = [r["opinion_id"] for r in labelled]
        got = conn.execute(
            "SELECT outcome, outcome_source, count(*) FROM core.case_outcomes WHERE opinion_id IN "
            "(SELECT unnest(?)) GROUP BY ALL",
            [ids],
        ).fetchall()
        assert got == [("deferred", "human", 35)]
        assert conn.execute(
            "SELECT count(*) FROM marts.review_queue WHERE opinion_id IN (SELECT unnest(?))", [ids]
        ).fetchall() == [(0,)]
        waiting = conn.execute(
            "SELECT count(*) FROM staging.opinion_labels WHERE opinion_id NOT IN (SELECT opinion_id FROM staging.opinions)"
        ).fetchall()
        assert waiting == [(1,)]
        human, n_labels, accuracy, low, high = conn.execute(
            "SELECT n_human, text_accuracy_n, text_accuracy, text_accuracy_ci_low, text_accuracy_ci_high "
            "FROM marts.outcome_provenance WHERE specialty = 'all' AND outcome = 'deferred'"
        ).fetchall()[0]
        assert human == 35 and n_labels == 35
        assert 0 <= low <= accuracy <= high <= 1  # published once 30 labels exist, with its Wilson interval
    finally:
        conn.close()
    assert "labels waiting for their opinion: 1" in outcome.summary
