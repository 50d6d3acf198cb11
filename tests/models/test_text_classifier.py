"""Opinion text classifier: features, group-held-out evaluation, the hand-written quality gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from models.cards import GENERATED_CORPUS, write_model_card
from models.evaluation import threshold_metrics
from models.text_classifier import (
    OUTCOME_LABELS,
    NarrativeVectorizer,
    _holdout_split,
    load_model,
    mark_negation,
    normalise_text,
    predict_text,
    save_model,
    text_groups,
    train_text_classifier,
)
from pipelines.generate.narratives import training_corpus
from pipelines.lib.settings import load_settings

FIXTURE = Path(__file__).parents[1] / "fixtures" / "handwritten_narratives.csv"
SEED = 42


def _not_ours(x: np.ndarray) -> np.ndarray:
    return x


def _marked(*sentences: str) -> list[str]:
    frame = pl.DataFrame({"s": list(sentences)})
    return frame.select(mark_negation(normalise_text(pl.col("s")))).to_series().to_list()


@pytest.fixture(scope="session")
def handwritten() -> pl.DataFrame:
    return pl.read_csv(FIXTURE, schema_overrides={"initial_procedure_code": pl.String})


@pytest.fixture(scope="session")
def corpus_model() -> tuple[object, dict]:
    """Trained as the pipeline does when the warehouse is short of labelled narratives."""
    corpus = training_corpus(20_000, SEED).rename({"phrase_group": "group"})
    return train_text_classifier(corpus, SEED, load_settings(env={}).text_model_threshold)


# --- text preparation ---------------------------------------------------------------------------


def test_negation_marks_the_words_in_scope_and_stops_at_punctuation() -> None:
    would_not, no_surgery, post, stop = _marked(
        "I would not operate on this knee",
        "No surgery is needed at this time",
        "Surgery is not indicated",
        "He does not smoke, surgery is planned",
    )
    assert "NEG_operate" in would_not and "NEG_knee" in would_not
    assert "NEG_surgery" in no_surgery and "NEG_needed" in no_surgery
    assert "NEG_surgery" in post
    assert "NEG_smoke" in stop and "NEG_surgery" not in stop and "surgery is planned" in stop


def test_numbers_and_contractions_are_normalised() -> None:
    (text,) = _marked("Don't fuse L4-L5 for 6 months")
    assert text == "do not NEG_fuse NEG_l0-l0 NEG_for NEG_0 NEG_months"


def test_text_groups_join_near_identical_wordings_and_separate_different_ones() -> None:
    texts = pl.Series(
        [
            "I would not operate. Physical therapy for 6 weeks.",
            "i would NOT operate; physical therapy for 12 weeks!",
            "Proceed with the planned lumbar fusion as recommended.",
            None,
            "ok",
        ]
    )
    groups = text_groups(texts)
    assert groups.len() == 5 and groups.null_count() == 0
    assert groups[0] == groups[1]
    assert groups[0] != groups[2]


def test_holdout_split_shares_no_group_between_train_and_test() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 3000).astype(str)
    y = np.array(OUTCOME_LABELS, dtype=object)[rng.integers(0, 6, 3000)]
    train, test = _holdout_split(y, groups, seed=1)
    assert set(groups[train]).isdisjoint(groups[test])
    assert 0.1 < test.size / 3000 < 0.35
    many = np.arange(20_000).astype(str)  # > 5000 groups: the unstratified path
    train, test = _holdout_split(np.zeros(20_000), many, seed=1)
    assert set(many[train]).isdisjoint(many[test]) and 0.15 < test.size / 20_000 < 0.25


# --- features -----------------------------------------------------------------------------------


def test_a_narrative_is_the_sum_of_its_sentences() -> None:
    """Sentence de-duplication must not change what a document is: doc(A. B.) = doc(A.) + doc(B.)."""
    docs = pl.DataFrame(
        {
            "summary_text": [
                "I agree with the fusion. Imaging is clear.",
                "I agree with the fusion.",
                "Imaging is clear.",
                "I agree with the fusion. Imaging is clear.",  # a repeat shares the sentences' rows
            ]
        }
    )
    vec = NarrativeVectorizer(use_procedures=False, categorical_columns=()).fit(docs)
    X = vec.transform(docs)
    assert sp.linalg.norm(X[0] - (X[1] + X[2])) < 1e-5
    assert sp.linalg.norm(X[0] - X[3]) == 0


def test_procedure_features_compare_named_procedures_with_the_initial_tier() -> None:
    frame = pl.DataFrame(
        {
            "summary_text": [
                "I would recommend a stent rather than bypass.",
                "I would not put in a stent. Bypass is the right operation.",
                "She had a stent placed years ago.",
                "The gallbladder should come out laparoscopically.",
                "I recommend coronary bypass grafting, not PCI.",
            ],
            "initial_family": ["cabg", "cabg", "cabg", "cholecystectomy", "pci"],
            "initial_tier": [4, 4, 4, 3, 2],
        }
    )
    vectorizer = NarrativeVectorizer()
    values, names = vectorizer._procedure_counts(*vectorizer._sentences(frame))
    f = pl.DataFrame(values, schema=names, orient="row")
    assert f["decision_affirmed_lower"].to_list() == [1, 0, 0, 0, 0]
    assert f["decision_negated_lower"].to_list() == [0, 1, 0, 0, 0]
    assert f["other_affirmed_lower"].to_list() == [0, 0, 1, 0, 0]  # history, not a proposal
    assert f["decision_affirmed_approach_lower"].to_list() == [0, 0, 0, 1, 0]  # open tier 3 -> laparoscopic
    assert f["decision_affirmed_higher"][4] == 1 and f["decision_negated_same_family"][4] == 1


# --- training, evaluation, prediction -----------------------------------------------------------


def test_held_out_metrics_are_complete_and_consistent(corpus_model: tuple[object, dict]) -> None:
    _, m = corpus_model
    assert m["n_test"] == m["n"] == int(np.sum(m["confusion_matrix"]))
    assert m["labels"] == list(OUTCOME_LABELS)
    assert set(m["per_class"]) == set(OUTCOME_LABELS)
    assert sum(c["support"] for c in m["per_class"].values()) == m["n_test"]
    assert m["macro_f1"] > 0.8  # held-out phrasing groups, not re-used templates
    assert sum(b["n"] for b in m["reliability"]) == m["n_test"]
    assert 0 <= m["ece"] < 0.1
    at = m["at_threshold"]
    assert at["threshold"] == 0.6 and 0.5 < at["coverage"] <= 1 and at["accuracy_classified"] >= m["accuracy"]
    assert m["n_groups_train"] > 0 and m["n_groups_test"] > 0


def test_handwritten_narratives_quality_gate(
    corpus_model: tuple[object, dict], handwritten: pl.DataFrame
) -> None:
    """Issue 4 target on narratives written independently of the generator: accuracy >= 0.85
    among those classified, with >= 0.80 classified at the configured threshold."""
    model, _ = corpus_model
    assert handwritten.height >= 40
    threshold = load_settings(env={}).text_model_threshold
    pred = predict_text(model, handwritten.rename({"narrative_id": "opinion_id"}))
    gate = threshold_metrics(
        handwritten["expected_outcome"].to_numpy(),
        pred["predicted_outcome"].to_numpy(),
        pred["probability"].to_numpy(),
        threshold,
    )
    assert gate["coverage"] >= 0.80, gate
    assert gate["accuracy_classified"] >= 0.85, gate


def test_every_outcome_is_represented_in_the_handwritten_set(handwritten: pl.DataFrame) -> None:
    counts = dict(handwritten.group_by("expected_outcome").len().iter_rows())
    assert set(counts) == set(OUTCOME_LABELS) and min(counts.values()) >= 6
    assert handwritten["specialty"].n_unique() == 7
    assert handwritten["narrative_id"].n_unique() == handwritten.height


def test_predict_text_returns_one_labelled_probability_per_opinion(corpus_model: tuple[object, dict]) -> None:
    model, _ = corpus_model
    frame = pl.DataFrame(
        {
            "opinion_id": ["a", "b", "c"],
            "summary_text": [
                "Operating would be a mistake; she should keep up the exercises and tablets.",
                None,
                "I concur with the proposed knee replacement and would go ahead.",
            ],
            "specialty": ["spine", "cardiology", "orthopedics"],
            "initial_family": ["spinal_fusion", "cabg", "knee_arthroplasty"],
        }
    )
    out = predict_text(model, frame, chunk_size=2)
    assert out["opinion_id"].to_list() == ["a", "b", "c"]
    assert out["predicted_outcome"].is_in(list(OUTCOME_LABELS)).all()
    assert ((out["probability"] > 0) & (out["probability"] <= 1)).all()
    assert out["predicted_outcome"][2] == "confirmed"
    empty = predict_text(model, frame.head(0))
    assert empty.height == 0 and empty.columns == ["opinion_id", "predicted_outcome", "probability"]


def test_training_is_seeded() -> None:
    corpus = training_corpus(3000, 5).rename({"phrase_group": "group"})
    a, ma = train_text_classifier(corpus, 5)
    b, mb = train_text_classifier(corpus, 5)
    probe = corpus.head(200)
    assert predict_text(a, probe).equals(predict_text(b, probe))
    assert ma["macro_f1"] == mb["macro_f1"]


def test_an_outcome_with_a_single_phrasing_group_does_not_break_training() -> None:
    # One phrasing group cannot sit on both sides of the fit / calibration split, and the
    # calibrator refuses classes the linear model did not learn (and vice versa).
    corpus = training_corpus(3000, 5).rename({"phrase_group": "group"})
    only = corpus.filter(pl.col("outcome") == "more_invasive")["group"][0]
    corpus = corpus.filter((pl.col("outcome") != "more_invasive") | (pl.col("group") == only))
    model, metrics = train_text_classifier(corpus, SEED)
    assert "more_invasive" not in model.classes_
    assert metrics["classes_not_learned"] == ["more_invasive"]
    proba = model.predict_proba(corpus.head(40))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)  # float32 features


def test_warehouse_frames_without_a_group_column_get_text_groups() -> None:
    corpus = training_corpus(3000, 6).drop("phrase_group")
    _, m = train_text_classifier(corpus, 6)
    assert m["n_groups_train"] > 100  # MinHash groups, not one group per template
    assert m["n_train"] + m["n_calibration"] + m["n_test"] == 3000


# --- persistence and card -------------------------------------------------------------------------


def test_skops_round_trip_predicts_identically(
    corpus_model: tuple[object, dict], handwritten: pl.DataFrame, tmp_path: Path
) -> None:
    model, _ = corpus_model
    path = save_model(model, tmp_path / "artifacts" / "text.skops")
    again = load_model(path)
    frame = handwritten.rename({"narrative_id": "opinion_id"})
    assert predict_text(again, frame).equals(predict_text(model, frame))


def test_load_refuses_a_file_with_types_we_do_not_trust(tmp_path: Path) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    path = save_model(Pipeline([("f", FunctionTransformer(_not_ours))]), tmp_path / "other.skops")
    with pytest.raises(ValueError, match="untrusted types"):
        load_model(path)


def test_model_card_is_written_from_the_metrics(corpus_model: tuple[object, dict], tmp_path: Path) -> None:
    _, m = corpus_model
    path = write_model_card(
        tmp_path / "cards" / "text.md",
        "Opinion text classifier",
        m,
        "generated corpus (no dates)",
        f"{GENERATED_CORPUS} of 20,000 narratives",
        ["Synthetic wording."],
    )
    text = path.read_text()
    assert "Trained on generated corpus" in text
    assert f"macro-F1 (held out): {m['macro_f1']:.3f}" in text
    assert "| non_surgical |" in text and "### Confusion matrix" in text and "- Synthetic wording." in text
    warehouse = write_model_card(
        tmp_path / "w.md", "x", m, ("2026-01-01", "2026-06-30"), "warehouse: 5,000 labelled narratives", []
    ).read_text()
    assert "Trained on generated corpus" not in warehouse and "2026-01-01 to 2026-06-30" in warehouse


def test_model_card_window_is_that_of_the_labelled_narratives_trained_on(tmp_path: Path) -> None:
    import json

    from pipelines.generate.narratives import training_corpus
    from pipelines.lib.core.outcomes import opinion_rule_outcomes
    from pipelines.lib.training.text import TEXT_METRICS_FILE, train_text_model
    from pipelines.lib.warehouse import artifacts_dir
    from tests.builders import staged_warehouse, synthetic_staging

    frames = synthetic_staging(800, seed=3)
    # Structured opinions carry a narrative too (labelled by the rules); the narrative-only ones
    # (no structured field) are dated a year later, so a window taken over every narrative differs.
    opinions = frames["opinions"].with_columns(
        summary_text=pl.when(pl.col("summary_text").is_null())
        .then(pl.lit("Records reviewed. ") + pl.col("recommendation").fill_null("no view"))
        .otherwise(pl.col("summary_text")),
        opinion_date=pl.when(pl.col("summary_text").is_not_null())
        .then(pl.date(2027, 1, 15))
        .otherwise(pl.col("opinion_date")),
    )
    warehouse = tmp_path / "w.duckdb"
    conn = staged_warehouse(warehouse, {**frames, "opinions": opinions})
    settings = load_settings(
        env={"SECONDLOOK_MIN_LABELLED_NARRATIVES": "100", "SECONDLOOK_TEXT_MODEL_CORPUS_SIZE": "2000"}
    )
    train_text_model(conn, warehouse, settings, training_corpus)
    saved = json.loads((artifacts_dir(warehouse) / TEXT_METRICS_FILE).read_text())
    labelled = opinion_rule_outcomes(conn).filter(pl.col("outcome").is_not_null())["opinion_id"]
    dates = opinions.filter(pl.col("opinion_id").is_in(labelled.implode()))["opinion_date"]
    assert saved["training_source"].startswith("warehouse")
    assert saved["data_window"] == f"opinions dated {dates.min()} to {dates.max()}"
    assert "2027" not in saved["data_window"]  # the narrative-only opinions were not trained on


def test_model_card_names_the_classes_the_model_did_not_learn(tmp_path: Path) -> None:
    from models.cards import render_model_card

    card = render_model_card(
        "m", {"macro_f1": 0.9, "classes_not_learned": ["alternative"]}, "w", "warehouse: x", []
    )
    assert (
        "- Not learned (too few phrasing groups to learn and calibrate on unseen wording): alternative"
        in card
    )
    assert "Not learned" not in render_model_card("m", {"macro_f1": 0.9}, "w", "warehouse: x", [])


# --- scale and the retraining policy (issue 14) -------------------------------------------------


def _labels(n_by_outcome: dict[str, int], people: int = 0) -> pl.DataFrame:
    from pipelines.lib.training.text import HUMAN_WEIGHT, RULE_WEIGHT

    outcomes = [o for o, n in n_by_outcome.items() for _ in range(n)]
    weights = [HUMAN_WEIGHT] * people + [RULE_WEIGHT] * (len(outcomes) - people)
    return pl.DataFrame(
        {"opinion_id": [f"op{i}" for i in range(len(outcomes))], "outcome": outcomes, "weight": weights}
    )


def test_capped_labels_keep_each_outcomes_share_rare_outcomes_and_every_persons_label() -> None:
    from pipelines.lib.training.text import HUMAN_WEIGHT, capped_labels

    labels = _labels({"confirmed": 60_000, "non_surgical": 30_000, "alternative": 500}, people=300)
    sampled = capped_labels(labels, 10_000, seed=1)
    counts = dict(sampled.filter(pl.col("weight") != HUMAN_WEIGHT)["outcome"].value_counts().iter_rows())
    # 9,700 places for rule labels over 90,200 rows: each outcome keeps its share, the rare one
    # at least max_rows / 50 = 200 rows (its share would be 54).
    assert counts["confirmed"] == round((60_000 - 300) * 9_700 / 90_200)
    assert counts["non_surgical"] == round(30_000 * 9_700 / 90_200)
    assert counts["alternative"] == 200
    assert (sampled["weight"] == HUMAN_WEIGHT).sum() == 300  # every person's label kept
    assert sampled["opinion_id"].n_unique() == sampled.height
    # The draw depends on the narratives, not on the order they arrive in; under the cap, all kept.
    shuffled = capped_labels(labels.sample(fraction=1.0, shuffle=True, seed=3), 10_000, seed=1)
    assert set(shuffled["opinion_id"]) == set(sampled["opinion_id"])
    assert capped_labels(labels, 100_000, seed=1).height == labels.height


def test_sgd_one_vs_rest_threads_do_not_change_the_model() -> None:
    corpus = training_corpus(3000, 5).rename({"phrase_group": "group"})
    one, _ = train_text_classifier(corpus, 5, threads=1)
    two, _ = train_text_classifier(corpus, 5, threads=2)
    probe = corpus.head(300)
    assert predict_text(one, probe).equals(predict_text(two, probe))


def test_the_text_model_is_kept_until_the_policy_says_retrain(tmp_path: Path) -> None:
    from pipelines.lib.training.text import TEXT_MODEL_FILE, train_text_model
    from pipelines.lib.warehouse import artifacts_dir
    from tests.builders import staged_warehouse, synthetic_staging

    frames = synthetic_staging(800, seed=3)
    # Structured opinions carry a narrative too: the rule-labelled narratives it trains on.
    opinions = frames["opinions"].with_columns(
        summary_text=pl.col("summary_text").fill_null(
            pl.lit("Records reviewed. ") + pl.col("recommendation").fill_null("no view")
        )
    )
    warehouse = tmp_path / "w.duckdb"
    conn = staged_warehouse(warehouse, {**frames, "opinions": opinions})
    settings = load_settings(env={"SECONDLOOK_TEXT_MODEL_CORPUS_SIZE": "2000"})
    first = train_text_model(conn, warehouse, settings, training_corpus)
    assert first["trained"] and first["trained_because"] == "no trained model yet"
    assert first["training_source"].startswith("warehouse")
    model_file = artifacts_dir(warehouse) / TEXT_MODEL_FILE
    written = model_file.stat().st_mtime_ns

    same = train_text_model(conn, warehouse, settings, training_corpus)
    assert same["trained"] is False and model_file.stat().st_mtime_ns == written
    assert same["kept_because"] == "its training data changed by 0.0% (at most 5.0%): model kept"
    assert same["macro_f1"] == first["macro_f1"]  # the kept model's own metrics

    shaped = train_text_model(conn, warehouse, settings.replace(text_model_corpus_size=1500), training_corpus)
    assert shaped["trained"] and shaped["trained_because"] == "its code version changed"
    # A fifth of the labelled narratives gone: past the 5% of the policy.
    conn.execute("DELETE FROM staging.opinions WHERE summary_text IS NOT NULL AND hash(opinion_id) % 5 = 0")
    moved = train_text_model(conn, warehouse, settings.replace(text_model_corpus_size=1500), training_corpus)
    assert moved["trained"] and moved["trained_because"].startswith("its training data changed by")
    card = (artifacts_dir(warehouse) / "text_classifier.md").read_text()
    assert "- trained because: its training data changed by" in card and "- last trained: " in card
