"""Opinion text classifier: narrative -> outcome, for opinions that carry only a narrative.

Design rule 5 of DESIGN.md: a case whose latest opinion has no usable structured field takes the
label of this model when its probability reaches the configured threshold, and goes to people
(marts.review_queue) otherwise. Labels come from the structured rules, never from hand labelling.

Why it is built this way:
- Word 1-3-grams plus crude stems (TF-IDF) feed a linear model: n-grams carry paraphrase and
  hedging ("may eventually need", "reasonable to consider"); stems tie "operate", "operation",
  "operative" together. Character n-grams (optional, `char_ngram_range`) generalise a little
  better but multiply the non-zeros per narrative five-fold, which the time budget of the issue
  (train 200k and score 1M narratives in 60 s) cannot afford.
- Negation is made explicit before vectorising: every word after a cue (not, no, never, without,
  cannot, nor, n't) up to the next punctuation mark is prefixed "NEG_", so "I would not operate"
  yields NEG_operate, which the model can weigh against operate; so are the words before a
  negated predicate ("surgery is not indicated"). Word n-grams alone lose the cue once it is more
  than two words away ("no need for any surgery").
- Procedure knowledge (models/procedure_lexicon.py): whether "a stent rather than bypass" is a
  step down depends on knowing a stent is less invasive. Features compare the tiers of the
  procedures a narrative names, in recommendation sentences and elsewhere, affirmed or negated,
  with the initial procedure's tier; the specialty and initial family are one-hot features.
- Numbers are folded to 0 so "L4-L5", "6 months", "Gleason 3+3" do not fragment the vocabulary.
- Narratives are vectorised sentence by sentence and sentences are de-duplicated first.
  Dictated and templated reports repeat sentences heavily ("Records reviewed."), so each distinct
  sentence is tokenised once and a document is the sum of its sentences' vectors (one sparse
  product); n-grams never span a sentence boundary, which loses nothing a reviewer meant.
- Hashing (no vocabulary to fit) keeps memory flat and the model independent of corpus size.
- The linear model is SGD on hinge loss (a linear SVM; LinearSVC is available and scores the
  same but trains 3-4x slower). Calibration is temperature scaling (CalibratedClassifierCV on
  the frozen linear model) fitted on phrasing groups the linear model never saw, so
  probabilities reflect unseen wording: the review threshold compares against them, so they have
  to mean something. One fit plus one calibration, rather than cv=3 refits, keeps training
  inside the budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from models.evaluation import (
    classification_metrics,
    expected_calibration_error,
    reliability_bins,
    threshold_metrics,
)
from models.persistence import load_model, save_model
from models.procedure_lexicon import (
    CANONICAL_REWRITES,
    DECISION_CUES,
    FAMILY_TIER,
    POST_NEGATION,
    PROCEDURE_TERMS,
)
from pipelines.lib.vocabulary import REVIEW_OUTCOMES

__all__ = [
    "OUTCOME_LABELS",
    "NarrativeVectorizer",
    "evaluate_text_classifier",
    "load_model",
    "predict_text",
    "save_model",
    "text_groups",
    "train_text_classifier",
]

OUTCOME_LABELS: tuple[str, ...] = REVIEW_OUTCOMES
CATEGORICAL_COLUMNS: tuple[str, ...] = ("specialty", "initial_family")
DEFAULT_THRESHOLD = 0.6  # pipelines/settings.toml text_model_threshold; callers pass the setting

_NEGATION = r"\b(NEG_[a-z0-9'\-]+|not|no|never|without|cannot|nor|neither|none)\s+([a-z0-9][a-z0-9'\-]*)\b"
_NEGATION_SCOPE = 5  # words after a cue that are marked, unless punctuation ends the clause first
_TOKEN = r"(?u)\b[\w'\-]+\b"


def _to_polars(X: Any) -> pl.DataFrame:
    """Accept a Polars or pandas frame, or a 1-D array of narratives."""
    if isinstance(X, pl.DataFrame):
        return X
    if hasattr(X, "columns"):  # pandas
        return pl.from_pandas(X)
    return pl.DataFrame({"summary_text": pl.Series(np.asarray(X, dtype=object).tolist(), dtype=pl.String)})


def normalise_text(text: pl.Expr) -> pl.Expr:
    """Lower case, numbers folded to 0, contractions opened, clause breaks before 'but'."""
    text = (
        text.fill_null("")
        .str.to_lowercase()
        .str.replace_all(r"n't\b", " not")
        .str.replace_all(r"\d+(\.\d+)?", "0")
        .str.replace_all(r"\b(but|although|however|though|rather than|instead of)\b", ", $1")
    )
    for pattern, replacement in CANONICAL_REWRITES:
        text = text.str.replace_all(pattern, replacement)
    return text


def mark_negation(sentence: pl.Expr) -> pl.Expr:
    """Prefix NEG_ to the words in a negation cue's scope (to the clause end, at most 5 words).

    Also marks the one or two words before a negated predicate ("surgery is not indicated").
    """
    for pattern, replacement in POST_NEGATION:
        sentence = sentence.str.replace_all(pattern, replacement)
    for _ in range(_NEGATION_SCOPE):
        sentence = sentence.str.replace_all(_NEGATION, "$1 NEG_$2")
    return sentence


def split_sentences(texts: pl.Series) -> pl.DataFrame:
    """Distinct lower-cased sentences and the documents (row positions) that contain each.

    Returns columns sid (0..n-1), sentence, doc (list of row positions, repeated when a document
    repeats a sentence). Normalisation beyond lower-casing happens on distinct sentences only.
    """
    return (
        pl.DataFrame({"text": texts.cast(pl.String).fill_null("")})
        .with_row_index("doc")
        .select("doc", pl.col("text").str.to_lowercase().str.extract_all(r"[^.;:!?()]+").alias("sentence"))
        .explode("sentence")
        .with_columns(pl.col("sentence").str.strip_chars(" ,-\t\n\r\"'"))
        .filter(pl.col("sentence").is_not_null() & (pl.col("sentence").str.len_chars() > 0))
        .group_by("sentence")
        .agg(pl.col("doc"))
        .sort("sentence")  # deterministic sentence ids
        .with_row_index("sid")
    )


class NarrativeVectorizer(TransformerMixin, BaseEstimator):
    """Narratives -> word n-gram and stem TF-IDF, procedure-comparison and context features.

    Input: a frame with `summary_text` and, optionally, `specialty`, `initial_family` and
    `initial_tier`; missing columns contribute nothing.

    A narrative's text vector is the sum of its sentences' L2-normalised TF-IDF vectors: each
    sentence weighs the same whatever the length of the letter, so a decision sentence is not
    diluted by a long history. It also means the document matrix is one sparse product
    (documents x distinct sentences) @ (distinct sentences x features), with the document-level
    features appended through the same product — nothing is tokenised twice and no wide matrix is
    stacked or rescaled after the fact.
    """

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 3),
        n_word_features: int = 2**20,
        stem_length: int = 5,
        char_ngram_range: tuple[int, int] | None = None,
        n_char_features: int = 2**19,
        categorical_columns: tuple[str, ...] = CATEGORICAL_COLUMNS,
        n_categorical_features: int = 2**10,
        categorical_weight: float = 0.5,
        use_procedures: bool = True,
        procedure_weight: float = 0.5,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.n_word_features = n_word_features
        self.stem_length = stem_length
        self.char_ngram_range = char_ngram_range
        self.n_char_features = n_char_features
        self.categorical_columns = categorical_columns
        self.n_categorical_features = n_categorical_features
        self.categorical_weight = categorical_weight
        self.use_procedures = use_procedures
        self.procedure_weight = procedure_weight

    # -- sentence level ----------------------------------------------------------------------
    def _sentences(self, X: Any) -> tuple[pl.DataFrame, sp.csr_matrix, pl.Series]:
        """Frame, document x distinct-sentence incidence matrix, negation-marked sentences."""
        frame = _to_polars(X)
        distinct = split_sentences(frame["summary_text"])
        pairs = distinct.select("sid", "doc").explode("doc")
        incidence = sp.csr_matrix(
            (np.ones(pairs.height, dtype=np.float32), (pairs["doc"].to_numpy(), pairs["sid"].to_numpy())),
            shape=(frame.height, distinct.height),
        )
        marked = distinct.select(mark_negation(normalise_text(pl.col("sentence")))).to_series()
        return frame, incidence, marked

    def _sentence_counts(self, marked: pl.Series) -> sp.csr_matrix:
        common = {"alternate_sign": False, "norm": None, "lowercase": False, "dtype": np.float32}
        blocks = [
            HashingVectorizer(
                ngram_range=self.word_ngram_range,
                n_features=self.n_word_features,
                token_pattern=_TOKEN,
                **common,
            ).transform(marked.to_numpy())
        ]
        if self.stem_length:
            # Crude stems (first letters of each word, NEG_ kept, own "s_" namespace) as 1-2-grams:
            # they tie "operate", "operation", "operative" together at a fraction of the cost of
            # character n-grams, which multiply the non-zeros per narrative several times over.
            stems = marked.str.replace_all(
                rf"\b(NEG_)?([a-z]{{{self.stem_length}}})[a-z'\-]+", "$1$2"
            ).str.replace_all(r"([\w'\-]+)", "s_$1")
            blocks.append(
                HashingVectorizer(
                    ngram_range=(1, 2), n_features=self.n_word_features, token_pattern=_TOKEN, **common
                ).transform(stems.to_numpy())
            )
        if self.char_ngram_range:
            blocks.append(
                HashingVectorizer(
                    analyzer="char_wb",
                    ngram_range=self.char_ngram_range,
                    n_features=self.n_char_features,
                    **common,
                ).transform(marked.to_numpy())
            )
        return sp.hstack(blocks, format="csr")

    # -- document level ----------------------------------------------------------------------
    def _categorical(self, frame: pl.DataFrame) -> sp.csr_matrix:
        n = frame.height
        cols = [c for c in self.categorical_columns if c in frame.columns]
        if not cols:
            return sp.csr_matrix((n, self.n_categorical_features), dtype=np.float32)
        codes = frame.select(
            [
                (pl.lit(f"{c}=") + pl.col(c).cast(pl.String).fill_null("").str.to_lowercase())
                .hash(seed=17)
                .mod(self.n_categorical_features)
                .alias(c)
                for c in cols
            ]
        ).to_numpy()
        rows = np.repeat(np.arange(n), len(cols))
        return sp.csr_matrix(
            (np.full(rows.size, self.categorical_weight, dtype=np.float32), (rows, codes.ravel())),
            shape=(n, self.n_categorical_features),
        )

    def _procedures(self, frame: pl.DataFrame, incidence: sp.csr_matrix, marked: pl.Series) -> sp.csr_matrix:
        values, _ = self._procedure_counts(frame, incidence, marked)
        return sp.csr_matrix(np.log1p(values).astype(np.float32) * self.procedure_weight)

    def _procedure_counts(
        self, frame: pl.DataFrame, incidence: sp.csr_matrix, marked: pl.Series
    ) -> tuple[np.ndarray, list[str]]:
        """How the procedures a narrative names compare with the initial one (see procedure_lexicon).

        Per document, counts of affirmed and negated mentions of: the initial family; another
        family of lower, equal or higher tier; conservative care (tier 0); another family of
        approach-dependent tier; an approach (laparoscopic / open) below, at or above the initial
        tier. Without a known initial tier, other families count as 'other_unknown'.
        """
        families = list(PROCEDURE_TERMS)
        k = len(families)
        plain = marked.str.replace_all("NEG_", "", literal=True)
        negated = marked.str.extract_all(r"NEG_\S+").list.join(" ").str.replace_all("NEG_", "", literal=True)
        counts = (
            pl.DataFrame({"a": plain, "n": negated})
            .select(
                [
                    pl.col("a").str.count_matches(PROCEDURE_TERMS[f]).alias(f"a{i}")
                    for i, f in enumerate(families)
                ]
                + [
                    pl.col("n").str.count_matches(PROCEDURE_TERMS[f]).alias(f"n{i}")
                    for i, f in enumerate(families)
                ]
            )
            .to_numpy()
            .astype(np.float32)
        )
        decision = plain.str.contains(DECISION_CUES).to_numpy()[:, None]
        # Mentions in decision sentences and elsewhere (history, findings) are separate features.
        per_doc = np.asarray(
            (incidence @ sp.csr_matrix(np.hstack([counts * decision, counts * ~decision]))).todense()
        )

        fam_tier = np.array([np.nan if FAMILY_TIER[f] is None else FAMILY_TIER[f] for f in families])
        is_approach = np.array([f.startswith("approach_") for f in families])
        init_family = (
            frame["initial_family"].cast(pl.String).fill_null("")
            if "initial_family" in frame.columns
            else pl.Series([""] * frame.height, dtype=pl.String)
        )
        init_idx = init_family.replace_strict(
            {f: i for i, f in enumerate(families)}, default=-1, return_dtype=pl.Int64
        ).to_numpy()
        init_tier = (
            frame["initial_tier"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            if "initial_tier" in frame.columns
            else np.full(frame.height, np.nan)
        )
        from_family = np.where(init_idx >= 0, fam_tier[np.clip(init_idx, 0, None)], np.nan)
        init_tier = np.where(np.isnan(init_tier), from_family, init_tier)

        same = np.arange(k)[None, :] == init_idx[:, None]
        diff = fam_tier[None, :] - init_tier[:, None]  # nan where either tier is unknown
        known = ~np.isnan(diff)
        procedure = ~is_approach[None, :] & (fam_tier[None, :] != 0) & ~same
        masks = {
            "same_family": same,
            "lower": procedure & known & (diff < 0),
            "same_tier_other": procedure & known & (diff == 0),
            "higher": procedure & known & (diff > 0),
            "other_unknown_tier": procedure & ~known,
            "conservative": np.broadcast_to(fam_tier == 0, same.shape),
            "approach_lower": is_approach[None, :] & known & (diff < 0),
            "approach_same": is_approach[None, :] & known & (diff == 0),
            "approach_higher": is_approach[None, :] & known & (diff > 0),
        }
        columns, names = [], []
        for part, offset in (("decision", 0), ("other", 2 * k)):  # recommendation sentences, the rest
            negated_docs = per_doc[:, offset + k : offset + 2 * k]
            affirmed_docs = np.clip(per_doc[:, offset : offset + k] - negated_docs, 0, None)
            for polarity, docs in (("affirmed", affirmed_docs), ("negated", negated_docs)):
                for label, mask in masks.items():
                    columns.append((docs * mask).sum(axis=1))
                    names.append(f"{part}_{polarity}_{label}")
        return np.column_stack(columns), names

    def _assemble(
        self, frame: pl.DataFrame, incidence: sp.csr_matrix, marked: pl.Series, sentence_counts: sp.csr_matrix
    ) -> sp.csr_matrix:
        sentence_tfidf = self.tfidf_.transform(sentence_counts)
        doc_blocks = [self._categorical(frame)]
        if self.use_procedures:
            doc_blocks.append(self._procedures(frame, incidence, marked))
        doc_features = sp.hstack(doc_blocks, format="csr")
        # [incidence | doc features] @ blockdiag(sentence TF-IDF, I): one product, no wide hstack.
        left = sp.hstack([incidence, doc_features], format="csr")
        right = sp.block_diag(
            [sentence_tfidf, sp.identity(doc_features.shape[1], dtype=np.float32)], format="csr"
        )
        return (left @ right).tocsr()

    def fit(self, X: Any, y: Any = None) -> NarrativeVectorizer:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **_fit_params: Any) -> sp.csr_matrix:
        frame, incidence, marked = self._sentences(X)
        sentence_counts = self._sentence_counts(marked)
        # Document frequencies come from documents, not distinct sentences.
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(incidence @ sentence_counts)
        return self._assemble(frame, incidence, marked, sentence_counts)

    def transform(self, X: Any) -> sp.csr_matrix:
        frame, incidence, marked = self._sentences(X)
        return self._assemble(frame, incidence, marked, self._sentence_counts(marked))


def make_base_classifier(seed: int, kind: str = "sgd", threads: int = 1) -> Any:
    """The linear model under the calibration: a linear SVM (liblinear) or SGD on hinge loss.

    Both are seeded; SGD's one-vs-rest fits run on `threads` threads (each class draws its own
    seed before they start, so the result does not depend on the thread count). class_weight='balanced' because warehouse outcome mixes are skewed (spine
    programmes are mostly non-surgical, [epstein2013], [lenza2017]) while every class must be found.
    """
    if kind == "sgd":
        return SGDClassifier(
            loss="hinge",
            alpha=2e-5,
            max_iter=8,
            tol=None,
            average=True,
            class_weight="balanced",
            random_state=seed,
            n_jobs=threads,
        )
    return LinearSVC(C=0.5, class_weight="balanced", random_state=seed)


def text_groups(texts: pl.Series) -> pl.Series:
    """Phrasing groups for warehouse narratives: a MinHash of word 3-shingles.

    Why: a held-out score is only honest if near-identical wordings (one reviewer's template, one
    dictation macro) do not sit on both sides of the split. Two narratives fall in the same group
    with probability equal to the Jaccard similarity of their 3-shingle sets — identical texts
    (after lower-casing and dropping numbers and punctuation) always do, unrelated ones rarely —
    and no group can absorb most of the corpus. Texts under three words group by their hash.
    """
    words = (
        texts.cast(pl.String)
        .fill_null("")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z]+", " ")
        .str.strip_chars()
    )
    frame = pl.DataFrame({"w": words})
    return frame.select(
        pl.coalesce(
            pl.col("w")
            .str.split(" ")
            .list.eval(
                pl.concat_str([pl.element(), pl.element().shift(-1), pl.element().shift(-2)], separator=" ")
                .drop_nulls()
                .hash(seed=7)
            )
            .list.min(),
            pl.col("w").hash(seed=11),
        ).alias("group")
    ).to_series()


def _holdout_split(
    y: np.ndarray, groups: np.ndarray, seed: int, n_splits: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """About 1/n_splits of the groups held out; stratified by label when groups are few.

    With few groups (the generated corpus has one per decision template) an unstratified split
    could hold out no template of a class; with many, stratification costs a Python loop per
    group and buys nothing, so a plain group shuffle is used.
    """
    n_groups = np.unique(groups).size
    if n_groups < n_splits:
        raise ValueError(f"need at least {n_splits} phrasing groups for a group split, got {n_groups}")
    if n_groups <= 5000:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        return next(splitter.split(np.zeros(y.size), y, groups))
    shuffle = GroupShuffleSplit(n_splits=1, test_size=1.0 / n_splits, random_state=seed)
    return next(shuffle.split(np.zeros(y.size), y, groups))


def train_text_classifier(
    df: pl.DataFrame,
    seed: int,
    threshold: float = DEFAULT_THRESHOLD,
    classifier: str = "sgd",
    threads: int = 1,
) -> tuple[Pipeline, dict[str, Any]]:
    """Fit on four fifths of the phrasing groups, report on the held-out fifth.

    `df` holds summary_text, outcome and optionally specialty, initial_family and group (the
    phrasing group; derived with `text_groups` when absent). The returned model is exactly the
    one evaluated — it is not refitted on the held-out part — so the metrics describe what ships.
    """
    data = df.filter(pl.col("summary_text").is_not_null() & pl.col("outcome").is_in(list(OUTCOME_LABELS)))
    if "group" not in data.columns:
        data = data.with_columns(text_groups(data["summary_text"]).alias("group"))
    y = data["outcome"].to_numpy().astype(object)
    groups = data["group"].cast(pl.String).to_numpy()
    train_idx, test_idx = _holdout_split(y, groups, seed)
    train, test = data[train_idx], data[test_idx]

    # A quarter of the training groups is kept aside to fit the temperature, so probabilities
    # are calibrated on wordings the linear model never saw (group-disjoint again).
    fit_pos, cal_pos = _holdout_split(y[train_idx], groups[train_idx], seed + 1, n_splits=4)
    fit_part, cal_part = train[fit_pos], train[cal_pos]
    # The calibrator must see exactly the classes the linear model learned (sklearn refuses
    # otherwise). A class whose few phrasing groups all fell on one side cannot be both learned
    # and calibrated on unseen wording, so it is left out and named in the metrics.
    shared = sorted(set(fit_part["outcome"].unique()) & set(cal_part["outcome"].unique()))
    not_learned = sorted(set(train["outcome"].unique()) - set(shared))
    if len(shared) < 2:
        raise ValueError(f"need at least two outcomes in both the fit and calibration parts, got {shared}")
    fit_part = fit_part.filter(pl.col("outcome").is_in(shared))
    cal_part = cal_part.filter(pl.col("outcome").is_in(shared))
    features = NarrativeVectorizer()
    # An optional `weight` column ranks sources: a person's label above a rule's, the generated
    # corpus below both (pipelines/lib/training/text.py sets them).
    weights = fit_part["weight"].cast(pl.Float64).to_numpy() if "weight" in fit_part.columns else None
    base = make_base_classifier(seed, kind=classifier, threads=threads).fit(
        features.fit_transform(fit_part), fit_part["outcome"].to_numpy().astype(object), sample_weight=weights
    )
    calibrated = CalibratedClassifierCV(FrozenEstimator(base), method="temperature").fit(
        features.transform(cal_part), cal_part["outcome"].to_numpy().astype(object)
    )
    model = Pipeline([("features", features), ("classifier", calibrated)])

    metrics = evaluate_text_classifier(model, test, threshold)
    metrics.update(
        {
            "n_train": int(fit_part.height),
            "n_calibration": int(cal_part.height),
            "n_test": int(test.height),
            "n_groups_train": int(np.unique(groups[train_idx]).size),
            "n_groups_test": int(np.unique(groups[test_idx]).size),
            "split": "group holdout: train / calibration / test share no phrasing group",
            "classes_not_learned": not_learned,
            "classifier": classifier,
            "seed": int(seed),
        }
    )
    return model, metrics


def evaluate_text_classifier(model: Pipeline, df: pl.DataFrame, threshold: float) -> dict[str, Any]:
    """Macro-F1, per-class precision/recall, confusion matrix, reliability and threshold trade-off."""
    proba = model.predict_proba(df)
    classes = np.asarray(model.classes_, dtype=object)
    pred = classes[proba.argmax(axis=1)]
    top = proba.max(axis=1)
    truth = df["outcome"].to_numpy().astype(object)
    metrics: dict[str, Any] = classification_metrics(truth, pred, OUTCOME_LABELS)
    bins = reliability_bins(top, pred == truth)
    metrics["reliability"] = bins.to_dicts()
    metrics["ece"] = expected_calibration_error(bins)
    metrics["at_threshold"] = threshold_metrics(truth, pred, top, threshold)
    return metrics


def predict_text(model: Pipeline, df: pl.DataFrame, chunk_size: int = 250_000) -> pl.DataFrame:
    """opinion_id, predicted_outcome, probability (of the predicted outcome) for each row.

    The threshold is applied by the caller (core.case_outcomes), which keeps the label and its
    probability for the review queue even when it falls below. Rows are scored in chunks so
    memory stays flat however many narratives arrive.
    """
    schema = {"opinion_id": pl.String, "predicted_outcome": pl.String, "probability": pl.Float64}
    if df.height == 0:
        return pl.DataFrame(schema=schema)
    ids = (
        df["opinion_id"].cast(pl.String)
        if "opinion_id" in df.columns
        else pl.Series(np.arange(df.height).astype(str), dtype=pl.String)
    )
    classes = np.asarray(model.classes_, dtype=object)
    parts = []
    for start in range(0, df.height, chunk_size):  # chunks, not rows
        chunk = df.slice(start, chunk_size)
        proba = model.predict_proba(chunk)
        best = proba.argmax(axis=1)
        parts.append(
            pl.DataFrame(
                {
                    "opinion_id": ids.slice(start, chunk_size),
                    "predicted_outcome": pl.Series(classes[best].tolist(), dtype=pl.String),
                    "probability": proba[np.arange(chunk.height), best].astype(np.float64),
                },
                schema=schema,
            )
        )
    return pl.concat(parts)
