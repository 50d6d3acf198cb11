"""The synthetic landing data: contract shape, literature-driven structure, dirt, formats, determinism."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.generate import generate, generate_frames, write_landing
from pipelines.generate import parameters as P
from pipelines.generate.clinical import AGE_PROFILES, PAYER_BY_AGE, SCENARIOS, load_catalogue
from pipelines.generate.dirty import IDENTIFIER_CAP, IDENTIFIER_SNIPPETS, RULES, inject
from pipelines.generate.generator import (
    CASE_COLUMNS,
    DEFAULT_START,
    FOLLOW_UP_COLUMNS,
    OPINION_COLUMNS,
    window,
)
from pipelines.lib import warehouse
from pipelines.lib.landing import ingest
from pipelines.lib.landing.contracts import load_contracts
from pipelines.lib.landing.privacy import findings_sql

SEED = 11
CATALOGUE = load_catalogue()
FIRST, AS_OF = window(DEFAULT_START, 24)


def identifier_categories(texts: pl.Series) -> list[list[str]]:
    """The identifier categories the privacy policy finds in each text (privacy.findings_sql)."""
    conn = duckdb.connect()
    conn.register("t", pl.DataFrame({"v": texts.fill_null("")}).to_arrow())
    return [list(r[0]) for r in conn.execute(f"SELECT {findings_sql('v')} FROM t").fetchall()]


@pytest.fixture(scope="session")
def small() -> dict[str, pl.DataFrame]:
    return generate_frames(2000, SEED, with_truth=True)


@pytest.fixture(scope="session")
def big() -> dict[str, pl.DataFrame]:
    """Large enough for rates to sit within a few points of their parameters (about 0.5 s)."""
    return generate_frames(20000, 5, with_truth=True)


@pytest.fixture(scope="session")
def decided(big: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Cases with an opinion, with their true outcome and a `changed` flag."""
    return (
        big["cases"]
        .join(big["truth"], on="case_id")
        .filter(pl.col("outcome") != "pending")
        .with_columns(changed=pl.col("outcome") != "confirmed")
    )


def _latest(opinions: pl.DataFrame) -> pl.DataFrame:
    return opinions.sort("opinion_date", "updated_at", nulls_last=False).unique("case_id", keep="last")


def test_frames_hold_exactly_the_contract_columns_types_and_values(small: dict[str, pl.DataFrame]) -> None:
    contracts = load_contracts()
    assert tuple(small["cases"].columns) == CASE_COLUMNS == tuple(contracts["cases"].columns)
    assert tuple(small["opinions"].columns) == OPINION_COLUMNS == tuple(contracts["opinions"].columns)
    assert tuple(small["follow_ups"].columns) == FOLLOW_UP_COLUMNS == tuple(contracts["follow_ups"].columns)
    assert small["cases"].schema["referral_date"] == pl.Date
    assert small["opinions"].schema["opinion_date"] == pl.Date
    assert isinstance(small["opinions"].schema["updated_at"], pl.Datetime)
    assert small["opinions"].schema["diagnosis_changed"] == pl.Boolean
    assert small["follow_ups"].schema["allowed_amount"] == pl.Float64
    for rtype in ("cases", "opinions", "follow_ups"):
        frame = small[rtype]
        for prop in contracts[rtype].properties:
            values = frame[prop.name].drop_nulls()
            if prop.required:
                assert frame[prop.name].null_count() == 0, f"{rtype}.{prop.name} has nulls"
            if prop.valid_values:
                assert set(values.unique()) <= set(prop.valid_values), f"{rtype}.{prop.name}"
            if prop.pattern:
                bad = values.filter(~values.str.contains(prop.pattern))
                assert bad.len() == 0, f"{rtype}.{prop.name}: {bad.head(3).to_list()}"
    assert small["cases"]["case_id"].is_unique().all()
    assert small["follow_ups"]["allowed_amount"].drop_nulls().min() >= 0


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    runs = {name: tmp_path / name for name in ("a", "b", "c")}
    for name, out in runs.items():
        generate(1500, 7 if name != "c" else 8, out, dirty_fraction=0.03)
    for file in ("cases.csv", "opinions.csv", "follow_ups.csv"):
        assert (runs["a"] / file).read_bytes() == (runs["b"] / file).read_bytes()
        assert (runs["a"] / file).read_bytes() != (runs["c"] / file).read_bytes()


def test_scenarios_use_catalogue_codes_and_profiles_are_distributions() -> None:
    codes = dict(zip(CATALOGUE["procedure_code"], CATALOGUE["specialty"], strict=True))
    for spec, dx, code, *_ in SCENARIOS:
        assert codes.get(code) == spec, f"{dx} -> {code} is not a {spec} code in the catalogue"
        assert re.fullmatch(r"[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?", dx)
    for profile in AGE_PROFILES.values():
        assert len(profile) == len(P.AGE_BANDS) and abs(sum(profile) - 1) < 0.01
    for row in PAYER_BY_AGE:
        assert abs(sum(row) - 1) < 1e-9
    for mix in P.OUTCOME_MIX.values():
        assert abs(sum(mix.values()) - 1) < 1e-9
    assert not set(P.UNLISTED_CODES.values()) & set(codes)


def test_every_specialty_appears_with_its_own_catalogue_procedures(small: dict[str, pl.DataFrame]) -> None:
    cases = small["cases"].join(
        CATALOGUE.select(
            pl.col("procedure_code").alias("initial_procedure_code"), pl.col("specialty").alias("cat")
        ),
        on="initial_procedure_code",
        how="left",
    )
    assert set(cases["specialty"].unique()) == set(P.SPECIALTIES)
    assert (cases["cat"] == cases["specialty"]).all()
    assert cases["initial_procedure_code"].n_unique() > 60


def test_outcome_mix_per_specialty_is_near_the_literature_parameters(decided: pl.DataFrame) -> None:
    shares = (
        decided.group_by("specialty", "outcome")
        .len()
        .with_columns(share=pl.col("len") / pl.col("len").sum().over("specialty"))
    )
    got = {(s, o): v for s, o, v in shares.select("specialty", "outcome", "share").iter_rows()}
    for spec, mix in P.OUTCOME_MIX.items():
        for outcome, target in mix.items():
            assert abs(got.get((spec, outcome), 0.0) - target) < 0.04, (
                spec,
                outcome,
                got.get((spec, outcome)),
            )
    # The literature's extremes survive: spine mostly non-surgical, knee/hip often deferred.
    assert got[("spine", "non_surgical")] > 0.45 and got[("orthopedics", "deferred")] > 0.2


def test_structured_opinions_classify_to_their_drawn_outcome_under_the_design_rules(
    big: dict[str, pl.DataFrame],
) -> None:
    cat = CATALOGUE.select("procedure_code", "family", "tier")
    ops = (
        _latest(big["opinions"])
        .join(big["cases"].select("case_id", "initial_procedure_code"), on="case_id")
        .join(
            cat.rename({"procedure_code": "initial_procedure_code", "family": "f0", "tier": "t0"}),
            on="initial_procedure_code",
        )
        .join(
            cat.rename({"procedure_code": "recommended_procedure_code", "family": "f1", "tier": "t1"}),
            on="recommended_procedure_code",
            how="left",
        )
        .join(big["truth"].select("case_id", "expected_outcome"), on="case_id")
    )
    rec, code = pl.col("recommendation"), pl.col("recommended_procedure_code")
    rule = (
        pl.when(rec.is_in(["defer", "further_testing"]))
        .then(pl.lit("deferred"))
        .when(rec == "conservative")
        .then(pl.lit("non_surgical"))
        .when(pl.col("t1").is_not_null())
        .then(
            pl.when(code == pl.col("initial_procedure_code"))
            .then(pl.lit("confirmed"))
            .when(pl.col("t1") == 0)
            .then(pl.lit("non_surgical"))
            .when(pl.col("t1") < pl.col("t0"))
            .then(pl.lit("less_invasive"))
            .when(pl.col("t1") > pl.col("t0"))
            .then(pl.lit("more_invasive"))
            .when(pl.col("f1") == pl.col("f0"))
            .then(pl.lit("confirmed"))
            .otherwise(pl.lit("alternative"))
        )
        .when((rec == "proceed") & code.is_null())
        .then(pl.lit("confirmed"))
        .when(rec.is_not_null() | code.is_not_null())
        .then(pl.lit("unclassified"))
    )
    judged = ops.with_columns(rule=rule)
    structured = judged.filter(pl.col("expected_outcome").is_not_null())
    assert structured.height > 15000
    assert (structured["rule"] == structured["expected_outcome"]).all()
    assert set(structured["rule"].unique()) == {*P.OUTCOMES, "unclassified"}
    # Narrative-only opinions carry nothing structured: rule 5 (the text model) must decide.
    narrative = judged.filter(pl.col("expected_outcome").is_null())
    assert narrative["rule"].null_count() == narrative.height
    assert narrative["summary_text"].null_count() == 0


def test_opinions_mix_structured_narrative_and_both_without_identifiers(big: dict[str, pl.DataFrame]) -> None:
    signal = big["truth"].filter(pl.col("signal") != "none")["signal"].value_counts(normalize=True)
    share = dict(zip(signal["signal"], signal["proportion"], strict=True))
    assert abs(share["narrative"] - 0.15) < 0.02
    assert abs(share["both"] - 0.40) < 0.03
    assert abs(share["structured"] - 0.45) < 0.03
    texts = big["opinions"]["summary_text"].drop_nulls()
    assert texts.n_unique() > 0.9 * texts.len()  # varied wording, not a handful of templates
    assert not any(identifier_categories(texts))  # the privacy policy finds nothing in clean text


def test_reviewers_differ_by_more_than_chance(decided: pl.DataFrame) -> None:
    per = decided.group_by("specialty", "reviewer_id").agg(
        n=pl.len(), k=pl.col("changed").sum(), shift=pl.col("reviewer_shift").first()
    )
    counts = per.group_by("specialty").len()
    assert counts["len"].min() >= 15 and counts["len"].max() <= 40
    per = per.with_columns(
        p0=pl.col("k").sum().over("specialty") / pl.col("n").sum().over("specialty")
    ).with_columns(
        z2=(pl.col("k") / pl.col("n") - pl.col("p0")) ** 2 / (pl.col("p0") * (1 - pl.col("p0")) / pl.col("n"))
    )
    # Chi-square per reviewer averages 1 without reviewer effects; real variation inflates it.
    assert per["z2"].mean() > 2.0
    high = per.filter(pl.col("shift") > 0.6).select(pl.col("k").sum() / pl.col("n").sum()).item()
    rest = per.filter(pl.col("shift") < 0.3).select(pl.col("k").sum() / pl.col("n").sum()).item()
    assert high > rest + 0.05


def test_case_features_move_the_chance_of_a_changed_plan(decided: pl.DataFrame) -> None:
    def rate(col: str, value: str) -> float:
        return decided.filter(pl.col(col) == value)["changed"].mean()  # type: ignore[return-value]

    assert rate("urgency", "emergent") < rate("urgency", "urgent") - 0.05 < rate("urgency", "elective") - 0.1
    assert rate("age_band", "80-89") > rate("age_band", "18-29") + 0.1
    # Within one procedure the diagnosis matters: arthroscopy for arthritis is changed more
    # often than for an acute meniscal tear (BMJ 2017 rapid recommendation).
    knee = decided.filter(pl.col("initial_procedure_code") == "29881")
    oa = knee.filter(pl.col("diagnosis_code") == "M17.11")["changed"].mean()
    tear = knee.filter(pl.col("diagnosis_code") == "S83.241A")["changed"].mean()
    assert oa > tear + 0.2


def test_opinions_follow_referrals_with_a_specialty_dependent_turnaround(
    big: dict[str, pl.DataFrame],
) -> None:
    ops = big["opinions"].join(big["cases"].select("case_id", "referral_date", "specialty"), on="case_id")
    days = ops.with_columns(t=(pl.col("opinion_date") - pl.col("referral_date")).dt.total_days())
    assert days["t"].min() >= 0
    assert ops["opinion_date"].max() <= AS_OF
    med = dict(days.group_by("specialty").agg(pl.col("t").median()).iter_rows())
    assert med["orthopedics"] < med["gynecology"]
    assert 2 <= days["t"].median() <= 9  # between 2nd.MD's 1.53 days and MyConsult's 5-7 working days
    pending = big["truth"].filter(pl.col("outcome") == "pending").join(big["cases"], on="case_id")
    assert 0 < pending.height < 0.05 * big["cases"].height
    recent = pending.filter(pl.col("referral_date") > AS_OF - dt.timedelta(days=30)).height
    assert recent > 0.7 * pending.height


def test_referrals_span_two_years_with_a_january_peak(big: dict[str, pl.DataFrame]) -> None:
    dates = big["cases"]["referral_date"]
    assert dates.min() >= FIRST and dates.max() <= AS_OF
    assert dates.dt.strftime("%Y-%m").n_unique() == 24
    by_month = dict(big["cases"].group_by(dates.dt.month().alias("m")).len().iter_rows())
    assert by_month[1] > 1.25 * by_month[12]
    assert by_month[1] > 1.15 * by_month[7]
    weekday = big["cases"].filter(dates.dt.weekday() <= 5).height
    assert weekday > 0.9 * big["cases"].height


def test_some_patients_have_several_cases_with_the_same_demographics(big: dict[str, pl.DataFrame]) -> None:
    per = (
        big["cases"]
        .group_by("patient_key")
        .agg(
            pl.len(),
            pl.col("sex").drop_nulls().n_unique().alias("sexes"),
            pl.col("age_band").drop_nulls().n_unique().alias("ages"),
            pl.col("specialty").n_unique().alias("specs"),
        )
    )
    repeat = per.filter(pl.col("len") > 1)
    assert 0.05 * per.height < repeat.height < 0.2 * per.height
    assert repeat["sexes"].max() <= 1 and repeat["ages"].max() <= 1 and repeat["specs"].max() == 1
    cases = big["cases"]
    assert cases["plan_id"].n_unique() > 25 and cases["region"].n_unique() > 60
    assert (
        cases.filter(pl.col("payer_type") == "self_pay")["plan_id"].null_count()
        == cases.filter(pl.col("payer_type") == "self_pay").height
    )


def test_corrections_repeat_the_opinion_id_later_with_another_recommendation(
    big: dict[str, pl.DataFrame],
) -> None:
    ops = big["opinions"]
    repeated = ops.filter(pl.col("opinion_id").is_duplicated()).sort("opinion_id", "updated_at")
    assert 0 < repeated["opinion_id"].n_unique() < 0.03 * ops.height
    pairs = repeated.group_by("opinion_id", maintain_order=True).agg(
        pl.col("updated_at").first().alias("t0"),
        pl.col("updated_at").last().alias("t1"),
        pl.col("recommendation").first().alias("r0"),
        pl.col("recommendation").last().alias("r1"),
        pl.col("recommended_procedure_code").first().alias("c0"),
        pl.col("recommended_procedure_code").last().alias("c1"),
        pl.len(),
    )
    assert (pairs["len"] == 2).all() and (pairs["t1"] > pairs["t0"]).all()
    differs = (pairs["r0"].ne_missing(pairs["r1"])) | (pairs["c0"].ne_missing(pairs["c1"]))
    assert differs.all()
    # The file lists the earlier version first, as a re-issued opinion arrives later.
    first_seen = (
        ops.with_row_index()
        .filter(pl.col("opinion_id").is_duplicated())
        .group_by("opinion_id")
        .agg(
            pl.col("updated_at").sort_by("index").first().alias("first"),
            pl.col("updated_at").min().alias("min"),
        )
    )
    assert (first_seen["first"] == first_seen["min"]).all()


def test_follow_up_claims_show_leakage_at_the_parameterised_rates(big: dict[str, pl.DataFrame]) -> None:
    latest = _latest(big["opinions"]).select("case_id", "opinion_date")
    closed = (
        big["cases"]
        .join(big["truth"], on="case_id")
        .join(latest, on="case_id")
        .filter(pl.col("opinion_date") <= AS_OF - dt.timedelta(days=365))
    )
    claims = big["follow_ups"].join(latest, on="case_id")
    assert (claims["service_date"] >= claims["opinion_date"]).all() and claims["service_date"].max() <= AS_OF
    initial = (
        claims.join(closed.select("case_id", "initial_procedure_code"), on="case_id")
        .filter(
            (pl.col("procedure_code") == pl.col("initial_procedure_code"))
            & ((pl.col("service_date") - pl.col("opinion_date")).dt.total_days() <= 365)
        )
        .select("case_id")
        .unique()
    )
    flagged = closed.with_columns(leak=pl.col("case_id").is_in(initial["case_id"].implode()))
    for outcome in ("non_surgical", "deferred"):
        sub = flagged.filter(pl.col("outcome") == outcome)
        expected = np.mean([P.LEAKAGE_12M[s][outcome] for s in sub["specialty"]])
        assert abs(sub["leak"].mean() - expected) < 0.04, outcome
    assert (
        flagged.filter(pl.col("outcome") == "deferred")["leak"].mean()
        > flagged.filter(pl.col("outcome") == "non_surgical")["leak"].mean() + 0.05
    )
    # Confirmed surgery gets billed (the plan code: the same code or a sibling in its family).
    confirmed = flagged.filter(pl.col("outcome") == "confirmed")
    billed = confirmed.join(
        claims, left_on=["case_id", "plan_code"], right_on=["case_id", "procedure_code"], how="semi"
    )
    assert billed.height > 0.8 * confirmed.height
    # Unrelated codes are there too, and prices sit near the catalogue's.
    assert claims.filter(pl.col("procedure_code") == "85025").height > 0
    priced = big["follow_ups"].join(CATALOGUE, on="procedure_code").drop_nulls("allowed_amount")
    ratio = priced["allowed_amount"] / priced["cost_usd"]
    assert 0.9 < ratio.median() < 1.4 and ratio.min() > 0.4 and ratio.max() < 2.5
    assert 0.03 < big["follow_ups"]["allowed_amount"].null_count() / big["follow_ups"].height < 0.12


def test_dirty_injection_covers_every_rule_with_counted_rows(small: dict[str, pl.DataFrame]) -> None:
    clean = {k: small[k] for k in ("cases", "opinions", "follow_ups")}
    dirty, injected = inject(clean, 0.05, seed=3)
    for rtype, rules in RULES.items():
        counts = injected[rtype]
        assert set(counts) == {*rules, "duplicate", "messy"}
        assert all(v >= 1 for v in counts.values())
        added = sum(v for k, v in counts.items() if k != "messy")
        assert dirty[rtype].height == clean[rtype].height + added
        assert added >= 0.05 * clean[rtype].height
        assert all(dtype == pl.String for dtype in dirty[rtype].schema.values())
    identifier_rules = {r: n for per in injected.values() for r, n in per.items() if ":identifier_" in r}
    assert len(identifier_rules) >= 12 and max(identifier_rules.values()) <= IDENTIFIER_CAP
    cases = dirty["cases"].with_columns(norm=pl.col("specialty").str.strip_chars().str.to_lowercase())
    valid = pl.col("norm").is_in(list(P.SPECIALTIES))
    invalid = cases.filter(~valid & (pl.col("norm") != ""))
    assert invalid.height == injected["cases"]["specialty:invalid_value"]
    untidy = cases.filter(valid & (pl.col("specialty") != pl.col("norm")))
    assert untidy.height == injected["cases"]["messy"]
    ids = cases.filter(pl.col("case_id").str.strip_chars() != "")
    repeated_ids = ids.filter(pl.col("case_id").is_duplicated())["case_id"].n_unique()
    assert repeated_ids == injected["cases"]["case_id:not_unique"] + injected["cases"]["duplicate"]
    found = identifier_categories(dirty["opinions"]["summary_text"])
    for category in IDENTIFIER_SNIPPETS:
        assert found.count([category]) == injected["opinions"][f"summary_text:identifier_{category}"], (
            category
        )
    assert all(f in ([], *([c] for c in IDENTIFIER_SNIPPETS)) for f in found)  # one category per text


def test_ingest_quarantines_exactly_the_injected_rows_with_their_reasons(tmp_path: Path) -> None:
    """Integration with pipelines.lib.landing.ingest: every bad row fails its rule and nothing else."""
    summary = generate(3000, 4, tmp_path / "landing", fmt="csv", dirty_fraction=0.02)
    conn = duckdb.connect()
    warehouse.ensure_schemas(conn)
    warehouse.ensure_audit_tables(conn)
    ingest.ingest(conn, tmp_path / "landing", run_id="test", today=dt.date(2027, 1, 1))
    got = {
        (rtype, reasons[0]): n
        for rtype, reasons, n in conn.execute(
            "SELECT record_type, reasons, count(*) FROM quarantine.rows GROUP BY ALL"
        ).fetchall()
    }
    expected = {
        (rtype, reason): n
        for rtype, counts in summary["injected"].items()
        for reason, n in counts.items()
        if reason not in ("duplicate", "messy")
    }
    assert got == expected
    files = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT record_type, rows_loaded, rows_duplicate FROM audit.ingest_files"
        ).fetchall()
    }
    for rtype, (loaded, duplicate) in files.items():
        assert loaded == summary["clean_rows"][rtype]  # messy rows are accepted
        assert duplicate == summary["injected"][rtype]["duplicate"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_each_format_writes_files_that_read_back_whole(tmp_path: Path, fmt: str) -> None:
    frames = generate_frames(800, 2)
    written = write_landing(frames, tmp_path, fmt=fmt)
    ext = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}[fmt]
    assert written == {f"{k}.{ext}": frames[k].height for k in ("cases", "opinions", "follow_ups")}
    reader = {
        "csv": lambda p: pl.read_csv(p, infer_schema=False),
        "parquet": pl.read_parquet,
        "jsonl": pl.read_ndjson,
    }[fmt]
    for rtype in ("cases", "opinions", "follow_ups"):
        back = reader(tmp_path / f"{rtype}.{ext}")
        assert back.columns == frames[rtype].columns and back.height == frames[rtype].height
        assert back["case_id"].to_list() == frames[rtype]["case_id"].to_list()
    cases = reader(tmp_path / f"cases.{ext}")
    expected_dates = frames["cases"]["referral_date"].dt.to_string("%Y-%m-%d").to_list()
    assert cases["referral_date"].cast(pl.String).to_list() == expected_dates


def test_dirty_files_in_every_format_carry_the_injected_rows(tmp_path: Path) -> None:
    for fmt in ("parquet", "jsonl"):
        summary = generate(600, 1, tmp_path / fmt, fmt=fmt, dirty_fraction=0.05)
        for name, rows in summary["files"].items():
            rtype = name.split(".")[0]
            added = sum(v for k, v in summary["injected"][rtype].items() if k != "messy")
            assert rows == summary["clean_rows"][rtype] + added
            reader = pl.read_parquet if fmt == "parquet" else pl.read_ndjson
            assert reader(tmp_path / fmt / name).height == rows


def test_bad_arguments_fail_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        generate(10, 1, tmp_path, fmt="xlsx")
    with pytest.raises(ValueError, match="n_cases"):
        generate_frames(0, 1)
    with pytest.raises(ValueError, match="dirty fraction"):
        inject(generate_frames(10, 1), 1.5, 0)


def test_the_claims_world_has_a_known_completion_run_out_and_optional_enrollment(tmp_path: Path) -> None:
    frames = generate_frames(20000, 5, with_truth=True, enrollment=True)
    enrollment = frames["enrollment"]
    assert enrollment.columns == list(load_contracts()["enrollment"].columns)
    assert (
        enrollment["patient_key"].n_unique() == enrollment.height == frames["cases"]["patient_key"].n_unique()
    )
    left = enrollment["covered_to"].is_not_null().mean()
    assert abs(left - P.COVERAGE_CHURN) < 0.01  # the share of patients whose coverage ends
    claims = frames["follow_ups"].join(frames["cases"].select("case_id", "patient_key"), on="case_id")
    after = claims.join(enrollment, on="patient_key").filter(pl.col("service_date") > pl.col("covered_to"))
    assert after.height == 0  # no claim of a patient who has left the plan
    # run-out: the last weeks before the extract hold fewer claims than the weeks before them
    last = claims["service_date"].max()
    recent = claims.filter(pl.col("service_date") > last - dt.timedelta(days=30)).height
    earlier = claims.filter(
        pl.col("service_date").is_between(last - dt.timedelta(days=120), last - dt.timedelta(days=91))
    ).height
    assert recent < 0.6 * earlier
    # confirmed surgery is billed for about CLAIM_PROBABILITY['confirmed'] of covered patients: c < 1
    latest = _latest(frames["opinions"]).select("case_id", "opinion_date")
    confirmed = (
        frames["truth"]
        .filter(pl.col("outcome") == "confirmed")
        .join(frames["cases"].select("case_id", "patient_key", "initial_procedure_code"), on="case_id")
        .join(latest, on="case_id")
        .join(enrollment.filter(pl.col("covered_to").is_null()), on="patient_key", how="semi")
        .filter(pl.col("opinion_date") <= last - dt.timedelta(days=500))
    )
    billed = confirmed.join(
        claims, left_on=["case_id", "plan_code"], right_on=["case_id", "procedure_code"], how="semi"
    )
    assert abs(billed.height / confirmed.height - P.CLAIM_PROBABILITY["confirmed"]) < 0.02
    written = generate(500, 3, tmp_path / "landing", enrollment=True)
    assert written["files"]["enrollment.csv"] == written["clean_rows"]["enrollment"] > 0
