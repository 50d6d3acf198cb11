"""The marts: every aggregate the site, the exports and the run summary read (docs/warehouse.md).

`MARTS` lists each mart with the function that builds it and the warehouse tables it reads, in
an order that satisfies those inputs. The Dagster wiring makes one asset per entry with exactly
those dependencies; the benchmark and the tests call the builders directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from pipelines.lib.marts.common import MartContext
from pipelines.lib.marts.costs import (
    build_cost_assumptions,
    build_cost_impact,
    build_cost_impact_segments,
    build_cost_rates,
    build_cost_sensitivity,
)
from pipelines.lib.marts.cusum import build_reviewer_cusum
from pipelines.lib.marts.outcomes import (
    build_outcome_provenance,
    build_outcome_rates,
    build_outcome_rates_monthly,
    build_procedure_flows,
    build_review_queue,
)
from pipelines.lib.marts.quality import (
    build_data_quality_checks,
    build_data_quality_files,
    build_data_quality_rules,
    build_data_quality_runs,
    build_data_quality_waiting,
)
from pipelines.lib.marts.reviewers import build_concordance, build_reviewer_variation
from pipelines.lib.marts.summary import build_run_summary
from pipelines.lib.marts.turnaround import build_turnaround, build_turnaround_distribution

MartBuilder = Callable[[duckdb.DuckDBPyConnection, MartContext], None]


@dataclass(frozen=True)
class Mart:
    """One marts.<name> table: how it is built and which warehouse tables it reads."""

    name: str
    build: MartBuilder
    reads: tuple[str, ...]

    @property
    def table(self) -> str:
        return f"marts.{self.name}"

    @property
    def description(self) -> str:
        """The first line of the builder's docstring, after the table name."""
        first = (self.build.__doc__ or self.table).strip().splitlines()[0]
        return first.split(": ", 1)[1] if first.startswith(self.table + ":") else first


OUTCOMES = ("core.case_outcomes",)
#: The reviewer comparison's case-mix expectation reads the propensity model's out-of-fold scores.
EXPECTATIONS = ("core.case_outcomes", "core.case_scores")
COST_RATES = ("core.case_costs", "core.baseline_rates", "core.leakage_rates", "reference.pathways")
#: The bootstrap re-estimates c, l and observed prices: it reads the claims and the prices in force.
COST_BOOTSTRAP = (*COST_RATES, "core.prices", "staging.follow_ups")
#: The horizon sensitivity recomputes the cost method from its inputs.
COST_INPUTS = (
    "core.case_outcomes",
    "reference.procedures",
    "staging.procedure_costs",
    "staging.follow_ups",
    "staging.enrollment",
)
MARTS: tuple[Mart, ...] = (
    Mart("outcome_rates", build_outcome_rates, OUTCOMES),
    Mart("outcome_rates_monthly", build_outcome_rates_monthly, OUTCOMES),
    Mart("procedure_flows", build_procedure_flows, OUTCOMES),
    Mart("review_queue", build_review_queue, (*OUTCOMES, "core.prices", "reference.procedures")),
    Mart("outcome_provenance", build_outcome_provenance, (*OUTCOMES, "staging.opinion_labels")),
    Mart("turnaround", build_turnaround, OUTCOMES),
    Mart("turnaround_distribution", build_turnaround_distribution, OUTCOMES),
    Mart("reviewer_cusum", build_reviewer_cusum, EXPECTATIONS),
    Mart("reviewer_variation", build_reviewer_variation, (*EXPECTATIONS, "marts.reviewer_cusum")),
    Mart("concordance", build_concordance, OUTCOMES),
    Mart("cost_impact", build_cost_impact, COST_BOOTSTRAP),
    Mart("cost_impact_segments", build_cost_impact_segments, COST_BOOTSTRAP),
    Mart("cost_sensitivity", build_cost_sensitivity, (*COST_RATES, *COST_INPUTS)),
    Mart("cost_assumptions", build_cost_assumptions, (*COST_RATES, "core.claims_through", "core.prices")),
    Mart("cost_rates", build_cost_rates, COST_RATES),
    Mart("data_quality_files", build_data_quality_files, ("audit.ingest_files",)),
    Mart("data_quality_runs", build_data_quality_runs, ("audit.ingest_files",)),
    Mart("data_quality_rules", build_data_quality_rules, ("quarantine.rows",)),
    Mart("data_quality_checks", build_data_quality_checks, ("audit.check_results",)),
    Mart("data_quality_waiting", build_data_quality_waiting, ("staging.opinions_waiting",)),
    Mart(
        "run_summary",
        build_run_summary,
        (
            "staging.cases",
            "core.case_outcomes",
            "core.pending_cases",
            "core.leakage_rates",
            "core.baseline_rates",
            "core.claims_through",
            "marts.cost_impact",
            "marts.cost_assumptions",
        ),
    ),
)

__all__ = ["MARTS", "Mart", "MartBuilder", "MartContext"]
