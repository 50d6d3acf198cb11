"""Change-propensity model and the evaluation helpers it shares with the text model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.cards import write_model_card
from models.evaluation import (
    classification_metrics,
    expected_calibration_error,
    group_folds,
    reliability_bins,
    threshold_metrics,
)
from models.persistence import load_model, save_model
from models.propensity import (
    CLASSIFIED_OUTCOMES,
    FEATURES,
    labelled_cases,
    lift_by_decile,
    propensity_features,
    score_propensity,
    train_propensity,
)


def synthetic_cases(n: int, seed: int = 0) -> pl.DataFrame:
    """Referrals whose chance of change depends on specialty and urgency only (spine highest,
    echoing the spine non-confirmation rates of [epstein2013] / [lenza2017])."""
    rng = np.random.default_rng(seed)
    spec = rng.choice(["spine", "cardiology", "orthopedics"], n)
    code = np.where(
        spec == "spine",
        rng.choice(["22612", "63030"], n),
        np.where(spec == "cardiology", rng.choice(["33533", "92928"], n), "27447"),
    )
    urgency = rng.choice(["elective", "urgent", "emergent"], n, p=[0.7, 0.2, 0.1])
    p = np.where(spec == "spine", 0.75, 0.25) + np.where(urgency == "elective", 0.1, -0.2)
    changed = rng.random(n) < p
    outcome = np.where(
        changed, rng.choice(["non_surgical", "less_invasive", "deferred"], n), "confirmed"
    ).astype(object)
    outcome[rng.random(n) < 0.05] = "unclassified"
    outcome[rng.random(n) < 0.03] = None  # pending
    return pl.DataFrame(
        {
            "case_id": [f"C{i}" for i in range(n)],
            "patient_key": [f"P{i // 3}" for i in range(n)],  # three referrals per patient
            "specialty": spec,
            "initial_procedure_code": code,
            "initial_tier": np.where(code == "63030", 2, 4),
            "age_band": rng.choice(["40-49", "50-59", "60-69"], n),
            "sex": rng.choice(["F", "M"], n),
            "payer_type": rng.choice(["commercial", "medicare"], n),
            "urgency": urgency,
            "diagnosis_code": pl.Series(rng.choice(["M51.16", "I25.10", "m17.11", ""], n)).replace("", None),
            "region": rng.choice(["CA", "NY", "941"], n),
            "outcome": pl.Series(outcome.tolist(), dtype=pl.String),
        }
    )


@pytest.fixture(scope="session")
def trained() -> tuple[object, dict, pl.DataFrame]:
    cases = synthetic_cases(6000, seed=1)
    model, metrics = train_propensity(cases, seed=3)
    return model, metrics, cases


# --- features and labels --------------------------------------------------------------------------


def test_features_take_the_diagnosis_chapter_and_tolerate_missing_columns() -> None:
    cases = pl.DataFrame(
        {
            "case_id": ["a", "b"],
            "specialty": ["Spine", "cardiology"],
            "diagnosis_code": [" m51.16", None],
            "urgency": ["ELECTIVE", None],
        }
    )
    f = propensity_features(cases)
    assert f.columns == list(FEATURES)
    assert f["diagnosis_chapter"].to_list() == ["M", None]
    assert f["specialty"].to_list() == ["spine", "cardiology"]
    assert f["urgency"].to_list() == ["elective", None]
    assert f["region"].null_count() == 2
    assert f["initial_tier"].to_list() == [-1.0, -1.0]  # unknown tier: below every real tier


def test_trains_and_scores_when_no_initial_tier_is_known() -> None:
    # Every initial code missing from the catalogue: the tier column is NULL throughout, which
    # the trees' binning could not take as an all-NaN feature.
    cases = synthetic_cases(600, seed=2).with_columns(initial_tier=pl.lit(None, dtype=pl.Int64))
    model, metrics = train_propensity(cases, seed=1)
    scores = score_propensity(model, cases)
    assert scores.height == cases.height
    assert scores["change_probability"].is_between(0.0, 1.0).all()
    assert metrics["roc_auc"] > 0.7  # specialty and urgency still carry the signal


def test_only_classified_cases_are_labelled_and_change_means_not_confirmed() -> None:
    cases = pl.DataFrame({"outcome": ["confirmed", "non_surgical", "unclassified", None, "alternative"]})
    labelled = labelled_cases(cases)
    assert labelled["outcome"].to_list() == ["confirmed", "non_surgical", "alternative"]
    assert labelled["changed"].to_list() == [0, 1, 1]


# --- training -----------------------------------------------------------------------------------


def test_grouped_cv_finds_the_signal_and_names_its_features(
    trained: tuple[object, dict, pl.DataFrame],
) -> None:
    _, m, cases = trained
    assert m["n"] == labelled_cases(cases).height
    assert m["n_patients"] == labelled_cases(cases)["patient_key"].n_unique()
    assert len(m["roc_auc_folds"]) == 3
    # The true model (specialty and urgency) has an AUC near 0.75; noise features add nothing.
    assert 0.68 < m["roc_auc"] < 0.82
    top_two = {row["feature"] for row in m["permutation_importance"][:2]}
    assert top_two == {"specialty", "urgency"}
    assert 0 <= m["ece"] < 0.08
    assert m["lift"][0]["decile"] == 1 and m["top_decile_lift"] > 1.3
    assert abs(sum(b["n"] for b in m["calibration"]) - m["n"]) == 0


def test_scores_every_case_including_unseen_categories(trained: tuple[object, dict, pl.DataFrame]) -> None:
    model, _, cases = trained
    scores = score_propensity(model, cases)
    assert scores.height == cases.height and scores["case_id"].equals(cases["case_id"])
    assert scores["change_probability"].is_between(0, 1).all()
    spine = scores.filter(cases["specialty"] == "spine")["change_probability"].mean()
    cardio = scores.filter(cases["specialty"] == "cardiology")["change_probability"].mean()
    assert spine > cardio + 0.3
    odd = cases.head(2).with_columns(pl.lit("dermatology").alias("specialty"), pl.lit(None).alias("urgency"))
    assert score_propensity(model, odd)["change_probability"].is_between(0, 1).all()
    assert score_propensity(model, cases.head(0)).height == 0


def test_too_few_labelled_cases_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="need at least 50 classified cases with both changed and confirmed plans"
    ):
        train_propensity(synthetic_cases(30), seed=0)


def test_propensity_model_round_trips_through_skops(
    trained: tuple[object, dict, pl.DataFrame], tmp_path: Path
) -> None:
    model, m, cases = trained
    again = load_model(save_model(model, tmp_path / "p.skops"))
    assert score_propensity(again, cases).equals(score_propensity(model, cases))
    card = write_model_card(
        tmp_path / "p.md",
        "Change-propensity model",
        m,
        ("2025-01-01", "2026-06-30"),
        "core.case_outcomes",
        ["Synthetic."],
    ).read_text()
    assert f"ROC AUC (out of fold): {m['roc_auc']:.3f}" in card and "### Lift by decile" in card


# --- evaluation helpers -------------------------------------------------------------------------


def test_group_folds_put_each_patient_in_exactly_one_test_fold() -> None:
    groups = np.repeat(np.arange(500).astype(str), 4)
    folds = group_folds(groups, 3, seed=2)
    tests = np.concatenate([t for _, t in folds])
    assert np.sort(tests).tolist() == list(range(groups.size))  # a partition of the rows
    for train, test in folds:
        assert set(groups[train]).isdisjoint(groups[test])
    assert group_folds(groups, 3, seed=2)[0][1].tolist() == folds[0][1].tolist()


def test_lift_by_decile_on_a_known_ranking() -> None:
    score = np.arange(1, 101, dtype=float)
    y = (score > 90).astype(int)  # the top tenth all changed, nobody else
    lift = lift_by_decile(y, score)
    assert lift["decile"].to_list() == list(range(1, 11))
    assert lift["n"].to_list() == [10] * 10
    assert lift["observed_change_rate"].to_list() == [1.0] + [0.0] * 9
    assert lift["lift"][0] == pytest.approx(10.0)
    assert lift["cumulative_lift"].to_list() == pytest.approx([10 / k for k in range(1, 11)])
    assert lift["mean_score"][0] == pytest.approx(95.5)


def test_reliability_bins_and_calibration_error_on_known_values() -> None:
    confidence = np.array([0.05, 0.15, 0.15, 0.95, 0.95, 0.95, 0.95])
    correct = np.array([0, 0, 1, 1, 1, 1, 0])
    bins = reliability_bins(confidence, correct, n_bins=10)
    assert bins["n"].to_list() == [1, 2, 4]
    assert bins["observed_rate"].to_list() == pytest.approx([0.0, 0.5, 0.75])
    assert bins["bin_low"].to_list() == pytest.approx([0.0, 0.1, 0.9])
    expected = (1 * 0.05 + 2 * abs(0.15 - 0.5) + 4 * abs(0.95 - 0.75)) / 7
    assert expected_calibration_error(bins) == pytest.approx(expected)


def test_threshold_metrics_and_classification_metrics() -> None:
    truth = np.array(["a", "a", "b", "b"], dtype=object)
    pred = np.array(["a", "b", "b", "b"], dtype=object)
    at = threshold_metrics(truth, pred, np.array([0.9, 0.4, 0.7, 0.6]), 0.6)
    assert at == {"threshold": 0.6, "coverage": 0.75, "n_classified": 3, "accuracy_classified": 1.0}
    m = classification_metrics(truth, pred, ["a", "b", "c"])
    assert m["accuracy"] == 0.75
    assert m["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)  # the absent class c is not averaged in
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]


# --- on the warehouse (pipelines/lib/training/propensity.py) -----------------------------------------------------


def test_case_scores_use_out_of_fold_scores_and_targeting_is_their_lift(tmp_path: Path) -> None:
    import json

    from pipelines.lib.core.costs import build_case_costs
    from pipelines.lib.core.outcomes import build_case_outcomes
    from pipelines.lib.settings import load_settings
    from pipelines.lib.training.propensity import (
        PROPENSITY_METRICS_FILE,
        PROPENSITY_OOF_FILE,
        build_case_scores,
        build_targeting,
        train_propensity_model,
    )
    from pipelines.lib.warehouse import artifacts_dir
    from tests.builders import staged_warehouse, synthetic_staging

    warehouse = tmp_path / "w.duckdb"
    settings = load_settings(env={})
    conn = staged_warehouse(warehouse, synthetic_staging(1500, seed=4))
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    build_case_outcomes(conn, None, settings.text_model_threshold)
    build_case_costs(conn, settings)
    metrics = train_propensity_model(conn, warehouse, settings)
    assert isinstance(metrics, dict)
    n_scored = build_case_scores(conn, warehouse)
    build_targeting(conn, warehouse)

    oof = pl.read_parquet(artifacts_dir(warehouse) / PROPENSITY_OOF_FILE)
    scores = conn.sql("SELECT case_id, change_probability, score_basis FROM core.case_scores").pl()
    assert n_scored == conn.execute("SELECT count(*) FROM staging.cases").fetchall()[0][0]
    trained = scores.join(oof, on="case_id", how="inner")
    assert trained.height == metrics["n"]
    assert (trained["score_basis"] == "out_of_fold").all()
    np.testing.assert_allclose(trained["change_probability"], trained["oof_probability"])
    assert (scores.join(oof, on="case_id", how="anti")["score_basis"] == "model").all()

    targeting = conn.sql("SELECT * FROM marts.targeting ORDER BY decile").pl()
    labels = labelled_cases(conn.sql("SELECT case_id, outcome FROM core.case_outcomes").pl())
    expected = lift_by_decile(
        *oof.join(labels, on="case_id").select("changed", "oof_probability").to_numpy().T
    )
    np.testing.assert_allclose(targeting["lift"], expected["lift"])

    # The card's data window is that of the classified cases it learned from, not of every referral.
    window = conn.execute(
        "SELECT min(c.referral_date), max(c.referral_date) FROM staging.cases c "
        "JOIN core.case_outcomes o USING (case_id) "
        f"WHERE outcome IN {tuple(CLASSIFIED_OUTCOMES)}"
    ).fetchall()[0]
    saved = json.loads((artifacts_dir(warehouse) / PROPENSITY_METRICS_FILE).read_text())
    assert saved["data_window"] == f"referrals dated {window[0]} to {window[1]}"


# --- capped training (issue 14) -----------------------------------------------------------------


def test_stratified_sample_caps_the_cases_and_keeps_each_strata_share() -> None:
    from models.propensity import stratified_sample

    labelled = labelled_cases(synthetic_cases(20_000, seed=5))
    sample = stratified_sample(labelled, 4_000, seed=1)
    assert abs(sample.height - 4_000) <= 6  # one rounding per stratum of specialty x changed
    share = lambda f: f.group_by("specialty", "changed").len().with_columns(pl.col("len") / f.height)  # noqa: E731
    both = share(labelled).join(share(sample), on=["specialty", "changed"])
    np.testing.assert_allclose(both["len"], both["len_right"], atol=0.002)
    # The draw depends on the cases, not on the order they arrive in; under the cap, all are kept.
    shuffled = stratified_sample(labelled.sample(fraction=1.0, shuffle=True, seed=9), 4_000, seed=1)
    assert set(shuffled["case_id"]) == set(sample["case_id"])
    assert stratified_sample(labelled, labelled.height, seed=1).height == labelled.height


def test_held_out_patients_carry_the_importance_and_an_honest_auc() -> None:
    cases = synthetic_cases(9000, seed=6)
    train, held = cases.head(6000), cases.tail(3000)  # patients P0-P1999 and P2000-P2999
    _, m = train_propensity(train, seed=3, importance_rows=1000, threads=2, holdout=held)
    assert m["importance_on"] == "held-out patients, final model"
    assert m["n_holdout"] == 1000  # at most importance_rows of the held-out cases
    assert 0.68 < m["roc_auc_holdout"] < 0.82 and m["threads"] == 2
    assert {row["feature"] for row in m["permutation_importance"][:2]} == {"specialty", "urgency"}
    assert m["n"] == labelled_cases(train).height  # the held-out cases are not learned from


def test_capped_training_on_the_warehouse_still_scores_every_case(tmp_path: Path) -> None:
    from pipelines.lib.core.costs import build_case_costs
    from pipelines.lib.core.outcomes import build_case_outcomes
    from pipelines.lib.settings import load_settings
    from pipelines.lib.training.propensity import build_case_scores, train_propensity_model
    from pipelines.lib.warehouse import artifacts_dir
    from tests.builders import staged_warehouse, synthetic_staging

    warehouse = tmp_path / "w.duckdb"
    settings = load_settings(env={}).replace(propensity_max_train_cases=1000, propensity_importance_rows=300)
    conn = staged_warehouse(warehouse, synthetic_staging(3000, seed=4))
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    build_case_outcomes(conn, None, settings.text_model_threshold)
    build_case_costs(conn, settings)
    metrics = train_propensity_model(conn, warehouse, settings)
    assert isinstance(metrics, dict)
    labelled = labelled_cases(conn.sql("SELECT case_id, outcome FROM core.case_outcomes").pl()).height
    assert metrics["n_labelled"] == labelled > 1000
    assert abs(metrics["n"] - 1000) <= 20  # the stratified sample, one rounding per stratum
    assert 0 < metrics["n_holdout"] <= 300 and metrics["importance_on"] == "held-out patients, final model"
    # Patients of the held-out set are not in the sample: their AUC is on unseen patients.
    assert build_case_scores(conn, warehouse, threads=2) == 3000
    basis = dict(conn.execute("SELECT score_basis, count(*) FROM core.case_scores GROUP BY ALL").fetchall())
    assert basis["out_of_fold"] == metrics["n"] and basis["model"] == 3000 - metrics["n"]
    card = (artifacts_dir(warehouse) / "change_propensity.md").read_text()
    assert f"a sample of {metrics['n']:,} of {labelled:,} classified cases" in card


# --- retraining policy (issue 14) ---------------------------------------------------------------


def test_retraining_policy_on_known_changes() -> None:
    from pipelines.lib.training.policy import changed_share, retrain_reason

    before = {"0": 50, "1": 50}
    assert changed_share(before, {"0": 52, "1": 50}) == pytest.approx(0.02)  # two cases added
    assert changed_share(before, {"0": 49, "1": 51}) == pytest.approx(0.02)  # one relabelled: twice
    assert changed_share({}, {"0": 3}) == 1.0 and changed_share({}, {}) == 0.0
    trained = {"training_signature": before, "code_version": "v1"}
    assert retrain_reason(trained, {"0": 52, "1": 50}, "v1", 0.05, False)[0] is False
    assert retrain_reason(trained, {"0": 60, "1": 50}, "v1", 0.05, False) == (
        True,
        "its training data changed by 10.0% (more than 5.0%)",
    )
    assert retrain_reason(trained, before, "v2", 0.05, False) == (True, "its code version changed")
    assert retrain_reason(trained, before, "v1", 0.05, True) == (True, "retraining was asked for (--retrain)")
    assert retrain_reason(None, before, "v1", 0.05, False) == (True, "no trained model yet")


def test_the_warehouse_model_is_kept_until_the_policy_says_retrain(tmp_path: Path) -> None:
    from pipelines.lib.core.costs import build_case_costs
    from pipelines.lib.core.outcomes import build_case_outcomes
    from pipelines.lib.settings import load_settings
    from pipelines.lib.training.propensity import PROPENSITY_MODEL_FILE, train_propensity_model
    from pipelines.lib.warehouse import artifacts_dir
    from tests.builders import staged_warehouse, synthetic_staging

    warehouse = tmp_path / "w.duckdb"
    settings = load_settings(env={})
    conn = staged_warehouse(warehouse, synthetic_staging(1200, seed=7))
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    build_case_outcomes(conn, None, settings.text_model_threshold)
    build_case_costs(conn, settings)
    first = train_propensity_model(conn, warehouse, settings)
    assert isinstance(first, dict) and first["trained"] and first["trained_because"] == "no trained model yet"
    model_file = artifacts_dir(warehouse) / PROPENSITY_MODEL_FILE
    written = model_file.stat().st_mtime_ns

    same = train_propensity_model(conn, warehouse, settings)  # nothing changed: kept
    assert isinstance(same, dict) and same["trained"] is False and model_file.stat().st_mtime_ns == written
    assert same["kept_because"].startswith("its training data changed by 0.0%")

    # One case in ten relabelled: 20% of the signature moves, past the 5% of the policy.
    conn.execute(
        "UPDATE core.case_outcomes SET outcome = CASE WHEN outcome = 'confirmed' THEN 'deferred' ELSE "
        "'confirmed' END WHERE outcome IN ('confirmed', 'deferred', 'non_surgical') AND hash(case_id) % 10 = 0"
    )
    moved = train_propensity_model(conn, warehouse, settings)
    assert (
        isinstance(moved, dict)
        and moved["trained"]
        and "training data changed by" in moved["trained_because"]
    )
    forced = train_propensity_model(conn, warehouse, settings.replace(retrain=True))
    assert isinstance(forced, dict) and forced["trained_because"] == "retraining was asked for (--retrain)"
    card = (artifacts_dir(warehouse) / "change_propensity.md").read_text()
    assert "- trained because: retraining was asked for (--retrain)" in card and "- last trained: " in card
