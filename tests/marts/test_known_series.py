"""Published second-opinion series (docs/sources.md, 'Second-opinion outcome rates') rebuilt as records and reproduced exactly.

Epstein NE, Surg Neurol Int 2013 (spine, N = 183): 111 unnecessary (non_surgical), 61 overly
extensive (less_invasive), 11 right (confirmed). Graboys TB et al., JAMA 1992 (coronary
angiography, N = 168 followed): 134 not needed (non_surgical), 28 deferred, 6 recommended.
"""

from __future__ import annotations

import polars as pl
import pytest
from statsmodels.stats.proportion import proportion_confint

from pipelines.lib.core.outcomes import build_case_outcomes, opinion_rule_outcomes
from pipelines.lib.marts import MartContext
from pipelines.lib.marts.outcomes import build_outcome_rates
from pipelines.lib.settings import load_settings
from tests.builders import epstein_2013_spine, graboys_1992_cardiology, staged_warehouse

PUBLISHED = {
    ("spine", "non_surgical"): (111, 183),
    ("spine", "less_invasive"): (61, 183),
    ("spine", "confirmed"): (11, 183),
    ("cardiology", "non_surgical"): (134, 168),
    ("cardiology", "deferred"): (28, 168),
    ("cardiology", "confirmed"): (6, 168),
    ("all", "non_surgical"): (245, 351),
    ("all", "less_invasive"): (61, 351),
    ("all", "deferred"): (28, 351),
    ("all", "confirmed"): (17, 351),
}


@pytest.fixture(scope="session")
def rates(tmp_path_factory) -> pl.DataFrame:
    spine_cases, spine_opinions = epstein_2013_spine()
    cardio_cases, cardio_opinions = graboys_1992_cardiology()
    conn = staged_warehouse(
        tmp_path_factory.mktemp("known") / "w.duckdb",
        {
            "cases": pl.concat([spine_cases, cardio_cases]),
            "opinions": pl.concat([spine_opinions, cardio_opinions]),
        },
    )
    build_case_outcomes(conn, None, 0.6)
    build_outcome_rates(conn, MartContext(load_settings(env={})))
    return conn.sql("SELECT * FROM marts.outcome_rates").pl()


def test_published_counts_and_rates_are_reproduced_exactly(rates):
    observed = {
        (r["specialty"], r["outcome"]): (r["n"], r["total"]) for r in rates.iter_rows(named=True) if r["n"]
    }
    assert observed == PUBLISHED
    spine_ns = rates.filter((pl.col("specialty") == "spine") & (pl.col("outcome") == "non_surgical")).row(
        0, named=True
    )
    assert spine_ns["rate"] == 111 / 183  # Epstein's "60.7%"
    angio = rates.filter((pl.col("specialty") == "cardiology") & (pl.col("outcome") == "non_surgical")).row(
        0, named=True
    )
    assert round(angio["rate"], 2) == 0.80  # Graboys' "80%"


def test_wilson_limits_of_the_published_series(rates):
    for (specialty, outcome), (n, total) in PUBLISHED.items():
        row = rates.filter((pl.col("specialty") == specialty) & (pl.col("outcome") == outcome)).row(
            0, named=True
        )
        low, high = proportion_confint(n, total, alpha=0.05, method="wilson")
        assert row["ci_low"] == pytest.approx(low, abs=1e-12)
        assert row["ci_high"] == pytest.approx(high, abs=1e-12)
    spine_ns = rates.filter((pl.col("specialty") == "spine") & (pl.col("outcome") == "non_surgical")).row(
        0, named=True
    )
    assert (round(spine_ns["ci_low"], 4), round(spine_ns["ci_high"], 4)) == (0.5343, 0.6744)


def test_no_case_of_the_series_is_unclassified(rates):
    unclassified = rates.filter(pl.col("outcome") == "unclassified")
    assert unclassified["n"].to_list() == [0, 0, 0]


def test_the_series_records_label_every_opinion(tmp_path):
    cases, opinions = epstein_2013_spine()
    conn = staged_warehouse(tmp_path / "w.duckdb", {"cases": cases, "opinions": opinions})
    labels = opinion_rule_outcomes(conn)
    assert labels.group_by("outcome").len().sort("outcome").rows() == [
        ("confirmed", 11),
        ("less_invasive", 61),
        ("non_surgical", 111),
    ]


def test_the_series_reproduces_end_to_end_through_secondlook_run(tmp_path):
    """The same records as landing CSV files, through ingest, every asset and its checks."""
    import duckdb

    from pipelines.cli.run import run_pipeline
    from tests.builders import write_landing_csv

    spine_cases, spine_opinions = epstein_2013_spine()
    cardio_cases, cardio_opinions = graboys_1992_cardiology()
    write_landing_csv(
        tmp_path / "landing",
        cases=pl.concat([spine_cases, cardio_cases]),
        opinions=pl.concat([spine_opinions, cardio_opinions]),
    )
    outcome = run_pipeline(tmp_path / "landing", tmp_path / "w.duckdb", tmp_path / "site", progress=False)
    assert outcome.failed_steps == [], outcome.summary
    conn = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    got = {
        (s, o): (n, t)
        for s, o, n, t in conn.execute(
            "SELECT specialty, outcome, n, total FROM marts.outcome_rates WHERE n > 0"
        ).fetchall()
    }
    limits = conn.execute(
        "SELECT ci_low, ci_high FROM marts.outcome_rates "
        "WHERE specialty = 'spine' AND outcome = 'non_surgical'"
    ).fetchall()[0]
    conn.close()
    assert got == PUBLISHED
    assert limits == pytest.approx(proportion_confint(111, 183, alpha=0.05, method="wilson"), abs=1e-12)
