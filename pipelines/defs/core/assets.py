"""Core: one row per case — its outcome (rules 1-6), its costs and its change score."""

from pathlib import Path

import dagster as dg

from pipelines.defs.core import checks
from pipelines.defs.resources import SecondLook
from pipelines.defs.tables import spec
from pipelines.lib.core.costs import build_case_costs
from pipelines.lib.core.extractions import build_opinion_extractions
from pipelines.lib.core.keys import build_publication_keys, plan_display_names
from pipelines.lib.core.outcomes import build_case_outcomes
from pipelines.lib.training.propensity import build_case_scores, model_threads
from pipelines.lib.training.text import narrative_predictions

OUTCOMES, PENDING, EXTRACTIONS = "core.case_outcomes", "core.pending_cases", "core.opinion_extractions"


@dg.asset(
    key=dg.AssetKey(EXTRACTIONS.split(".")),
    group_name="core",
    kinds={"duckdb"},
    pool="duckdb_writer",
    owners=["team:clinical-quality"],
    tags={"pii": "pseudonymous"},
    deps=[dg.AssetKey(k.split(".")) for k in ("staging.opinions", "staging.cases", "reference.procedures")],
    description="Every narrative read into the fields rules 1-4 read (rule 5): recommendation, code, evidence, "
    "spans with offsets, ConText assertion and role; cached by narrative hash.",
)
def opinion_extractions(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        counts = build_opinion_extractions(conn)
    secondlook.say(
        f"extraction: {counts['narratives']:,} narratives, {counts['read']:,} read now, {counts['cached']:,} cached"
    )
    return dg.MaterializeResult(metadata={"dagster/row_count": counts["narratives"], **counts})


PRICES, LEAKAGE, COSTS, SCORES = "core.prices", "core.leakage_rates", "core.case_costs", "core.case_scores"
BASELINE, THROUGH = "core.baseline_rates", "core.claims_through"


@dg.multi_asset(
    specs=[
        spec(
            OUTCOMES,
            "Each reviewed case's outcome from its latest opinion (DESIGN rules 1-6), with its source "
            "and reason.",
            group="core",
            pii=True,
            deps=[
                "staging.cases",
                "staging.opinions",
                "reference.procedures",
                EXTRACTIONS,
                "staging.opinion_labels",
                "models.text_classifier",
            ],
        ),
        spec(
            PENDING,
            "Staged cases with no opinion yet: counted, never in a rate.",
            group="core",
            pii=True,
            deps=["staging.cases", "staging.opinions"],
        ),
    ],
    check_specs=checks.specs(OUTCOMES),
    pool="duckdb_writer",
    description="Classify every case with an opinion; list the cases still waiting for one.",
)
def case_outcomes(context: dg.AssetExecutionContext, secondlook: SecondLook):
    settings = secondlook.settings()
    with secondlook.writer() as conn:
        predictions = narrative_predictions(conn, Path(secondlook.warehouse))
        build_case_outcomes(
            conn, predictions, settings.text_model_threshold, settings.text_review_disagreement
        )
        by_outcome = dict(
            conn.execute("SELECT outcome, count(*) FROM core.case_outcomes GROUP BY 1 ORDER BY 1").fetchall()
        )
        pending = conn.execute("SELECT count(*) FROM core.pending_cases").fetchall()[0][0]
        results = checks.results(conn, OUTCOMES)
    secondlook.say(f"outcomes: {sum(by_outcome.values()):,} cases classified or counted, {pending:,} pending")
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(OUTCOMES.split(".")),
        metadata={
            "dagster/row_count": sum(by_outcome.values()),
            **{f"n_{k}": int(v) for k, v in by_outcome.items()},
        },
    )
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey(PENDING.split(".")), metadata={"dagster/row_count": int(pending)}
    )
    yield from results


CLAIMS = ("staging.follow_ups", "staging.enrollment")


@dg.multi_asset(
    specs=[
        spec(
            PRICES,
            "The price in force per procedure code on one basis (payer, observed mean allowed amount, "
            "catalogue), with the year it belongs to.",
            group="core",
            deps=["reference.procedures", "staging.procedure_costs", "staging.follow_ups"],
        ),
        spec(
            THROUGH,
            "The date up to which follow-up claims are complete, and how it was set: every horizon is "
            "judged against it.",
            group="core",
            deps=["staging.follow_ups"],
        ),
        spec(
            BASELINE,
            "Per specialty: baseline completion c of confirmed first plans (observed with a Wilson "
            "interval, else the reference) and why.",
            group="core",
            deps=[OUTCOMES, *CLAIMS, "reference.pathways", PRICES, THROUGH],
        ),
        spec(
            LEAKAGE,
            "Per specialty and changed outcome: leakage l (observed, pooled or default) with its "
            "Wilson interval and why.",
            group="core",
            deps=[OUTCOMES, *CLAIMS, "reference.pathways", PRICES, THROUGH],
        ),
        spec(
            COSTS,
            "Per case: expected cost without and with the review, projected avoided, and what the "
            "claims verify once the horizon has closed.",
            group="core",
            pii=True,
            deps=[OUTCOMES, PRICES, THROUGH, BASELINE, LEAKAGE, "reference.pathways", *CLAIMS],
        ),
    ],
    check_specs=checks.specs(COSTS),
    pool="duckdb_writer",
    description="Price every case and estimate the cost its review avoided.",
)
def case_costs(context: dg.AssetExecutionContext, secondlook: SecondLook):
    settings = secondlook.settings()
    with secondlook.writer() as conn:
        result = build_case_costs(conn, settings)
        tables = (PRICES, THROUGH, BASELINE, LEAKAGE, COSTS)
        counts = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]) for t in tables}
        gross = conn.execute("SELECT coalesce(sum(projected_avoided), 0) FROM core.case_costs").fetchall()[0][
            0
        ]
        results = checks.results(conn, COSTS)
    through = result.through.date.isoformat() if result.through.date else "none"
    secondlook.say(
        f"costs: {counts[COSTS]:,} cases, projected avoided ${gross:,.0f} before program fees; "
        f"claims through {through} ({result.through.basis})"
    )
    for table, n in counts.items():
        extra: dict[str, object] = {"gross_projected_avoided": float(gross)} if table == COSTS else {}
        if table == THROUGH:
            extra = {"claims_through": through, "basis": result.through.basis}
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(table.split(".")), metadata={"dagster/row_count": n, **extra}
        )
    yield from results


@dg.asset(
    key=dg.AssetKey(SCORES.split(".")),
    group_name="core",
    kinds={"duckdb"},
    pool="duckdb_writer",
    owners=["team:data-science"],
    tags={"pii": "pseudonymous"},
    deps=[dg.AssetKey(k.split(".")) for k in ("models.change_propensity", COSTS, OUTCOMES, "staging.cases")],
    description="Change probability and expected cost avoided for every referral, pending ones included.",
)
def case_scores(secondlook: SecondLook) -> dg.MaterializeResult:
    with secondlook.writer() as conn:
        n = build_case_scores(conn, Path(secondlook.warehouse), model_threads(secondlook.settings()))
    return dg.MaterializeResult(metadata={"dagster/row_count": n})


@dg.asset(
    key=dg.AssetKey(["core", "publication_keys"]),
    group_name="core",
    kinds={"duckdb"},
    pool="duckdb_writer",
    owners=["team:clinical-quality"],
    tags={"pii": "pseudonymous"},
    deps=[dg.AssetKey(OUTCOMES.split("."))],
    description='The label each reviewer and plan is published under ("Reviewer 07"), stable across runs; '
    "the key back to the ids stays here, for the quality team.",
)
def publication_keys(context: dg.AssetExecutionContext, secondlook: SecondLook) -> dg.MaterializeResult:
    names = plan_display_names(secondlook.settings().plan_display_names)
    with secondlook.writer() as conn:
        n = build_publication_keys(conn, context.run_id, names)
    return dg.MaterializeResult(metadata={"dagster/row_count": n, "plans_named": names.height})
