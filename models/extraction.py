"""Narrative opinion -> the structured fields rules 1-4 read (DESIGN "Outcome classification", rule 5).

A clinical quality lead must be able to read why a narrative got its label, so the text is not
classified directly: it is read into a recommendation (proceed, alternative_procedure,
conservative, defer, further_testing) and a recommended procedure code, and the same rules 1-4
that decide structured opinions decide it. What was read is kept as evidence: every procedure
mention with its character offsets, its ConText assertion and its role.

How a narrative is read:
1. Mentions. Phrases of the concept vocabulary (models/lexicon/concepts.yaml) name procedures,
   tests, conservative care or "the operation" in general words; each maps to a catalogue code,
   resolved by the approach words of its sentence ("laparoscopically"), the specialty ("biopsy")
   or the first doctor's code when the family is the same.
2. Assertion (ConText, models/context.py with models/lexicon/context.yaml): negated,
   hypothetical (including considered and rejected: "rather than", "would be second best"),
   historical, possible, or affirmed.
3. Role: history (historical), rejected (negated or turned down), work-up (a test asked for
   before a decision), recommended (affirmed in a sentence that proposes: "I'd recommend",
   "is the treatment of choice", "needs"), or mentioned.
4. Decision, in the order a clinician weighs it: a work-up or an explicit deferral before any
   decision is further testing / defer (rule 1, whatever procedure the work-up names); else
   the recommended procedure of the last proposing sentence (a mention of the first family
   means proceed); else a proposal that points back ("I'd recommend that"); else recommended
   conservative care, or the operation turned down with nothing in its place (rule 2); else
   agreement with the plan (rule 4). Nothing of these: no decision, and the classifier reads it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from models.context import (
    apply_context,
    find_phrases,
    keep_longest,
    modifier_scopes,
    normalised,
)
from models.lexicon import (
    CONCEPTS_FILE,
    CONTEXT_FILE,
    approach_table,
    concept_table,
    context_rules,
    decision_table,
)
from pipelines.lib.vocabulary import procedure_codes

__all__ = ["ASSERTIONS", "EXTRACTION_COLUMNS", "EXTRACTOR_VERSION", "ROLES", "extract_narratives"]

#: Changes with the code's rules and with every word of the lexicons: a cached extraction made
#: by another version is redone.
_DIGEST = hashlib.sha256(
    b"".join(
        p.read_bytes()
        for p in (CONCEPTS_FILE, CONTEXT_FILE, Path(__file__), Path(__file__).with_name("context.py"))
    )
).hexdigest()[:10]
EXTRACTOR_VERSION = f"context-1+{_DIGEST}"

CATEGORIES = (
    "NEGATED_EXISTENCE",
    "REJECTED",
    "HYPOTHETICAL",
    "HISTORICAL",
    "POSSIBLE_EXISTENCE",
    "WORKUP",
    "SURVEILLANCE",
)
ASSERTIONS = ("affirmed", "negated", "hypothetical", "historical", "possible")
ROLES = ("recommended", "rejected", "history", "work-up", "mentioned")
RECOMMENDATIONS = ("proceed", "alternative_procedure", "conservative", "defer", "further_testing")

SPAN_TYPE = pl.Struct(
    {
        "start": pl.Int64,
        "end": pl.Int64,
        "text": pl.String,
        "concept": pl.String,
        "code": pl.String,
        "assertion": pl.String,
        "trigger": pl.String,
        "role": pl.String,
    }
)
EXTRACTION_COLUMNS: dict[str, pl.DataType] = {
    "opinion_id": pl.String(),
    "recommendation": pl.String(),
    "recommended_procedure_code": pl.String(),
    "evidence": pl.String(),
    "confidence": pl.Float64(),
    "spans": pl.List(SPAN_TYPE),
    "extractor_version": pl.String(),
}


def _catalogue() -> pl.DataFrame:
    codes = procedure_codes()
    return pl.DataFrame(
        {
            "code": list(codes),
            "family": [f for f, _ in codes.values()],
            "tier": [t for _, t in codes.values()],
        },
        schema={"code": pl.String, "family": pl.String, "tier": pl.Int64},
    )


def _by_key(keyed: str, key: str) -> pl.Expr:
    """Per row: the value for column `key` in list column `keyed` of 'k=v' entries, else null."""
    joined = pl.lit("|") + pl.col(keyed).list.join("|") + pl.lit("|")
    needle = pl.lit("|") + pl.col(key).fill_null("\x00") + pl.lit("=")
    at = joined.str.find(needle, literal=True)
    return (
        pl.when(at.is_not_null())
        .then(joined.str.slice(at + needle.str.len_chars()).str.split("|").list.first())
        .otherwise(None)
    )


def _overlaps_any(targets: pl.DataFrame, modifiers: pl.DataFrame) -> pl.Series:
    """Whether each target overlaps a trigger (such a target is the trigger's own word)."""
    t = targets.with_row_index("_i").sort("doc", "start")
    m = modifiers.select("doc", pl.col("start").alias("_ms"), pl.col("end").alias("_me")).sort("doc", "_ms")
    left = t.join_asof(
        m, left_on="start", right_on="_ms", by="doc", strategy="backward", check_sortedness=False
    )
    right = t.join_asof(
        m.rename({"_ms": "_ns", "_me": "_ne"}),
        left_on="start",
        right_on="_ns",
        by="doc",
        strategy="forward",
        check_sortedness=False,
    )
    hit = left.select("_i", (pl.col("_me") > pl.col("start")).fill_null(False).alias("a")).join(
        right.select("_i", (pl.col("_ns") < pl.col("end")).fill_null(False).alias("b")), on="_i"
    )
    return hit.sort("_i").select(pl.col("a") | pl.col("b")).to_series()


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=EXTRACTION_COLUMNS)


def extract_narratives(frame: pl.DataFrame) -> pl.DataFrame:
    """Read narratives into recommendation, recommended code, evidence and spans.

    `frame`: opinion_id, summary_text, specialty, initial_procedure_code. Returns one row per
    input row, in order, with EXTRACTION_COLUMNS; `recommendation` is null where the text holds
    no decision the rules can read (the classifier reads those).
    """
    if frame.height == 0:
        return _empty()
    catalogue = _catalogue()
    meta = (
        frame.select(
            pl.col("opinion_id").cast(pl.String),
            pl.col("specialty").cast(pl.String),
            pl.col("initial_procedure_code")
            .cast(pl.String)
            .str.strip_chars()
            .str.to_uppercase()
            .alias("initial"),
        )
        .with_row_index("doc")
        .join(
            catalogue.rename({"code": "initial", "family": "initial_family", "tier": "initial_tier"}),
            on="initial",
            how="left",
        )
    )
    occurrences, distinct = _sentences(frame, meta)
    assessed = _read_sentences(distinct)
    # Back to the narratives: each distinct sentence's reading at each place it occurs.
    assessed = (
        assessed.rename({"doc": "sid"})
        .drop("sent", "sent_start", "sent_end")
        .join(occurrences, on="sid", how="inner")
        .with_columns(
            pl.col("start") + pl.col("sent_start"),
            pl.col("end") + pl.col("sent_start"),
        )
        .drop("sid")
    )
    concepts = concept_table()
    # Assertion, as ConText states it.
    neg, rej, hyp, hist, pos = (pl.col(c) for c in CATEGORIES[:5])
    assessed = assessed.with_columns(
        pl.when(neg)
        .then(pl.lit("negated"))
        .when(rej | hyp)
        .then(pl.lit("hypothetical"))
        .when(hist)
        .then(pl.lit("historical"))
        .when(pos)
        .then(pl.lit("possible"))
        .otherwise(pl.lit("affirmed"))
        .alias("assertion"),
        pl.coalesce([pl.col(f"{c}_by") for c in CATEGORIES[:5]]).alias("trigger"),
    )
    decided = _decide(assessed, concepts, meta, catalogue, frame)
    return decided


def _sentences(frame: pl.DataFrame, meta: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each narrative's sentences (doc, sent, sent_start, sent_end, sid) and the distinct
    (specialty, sentence) pairs to read (sid, specialty, text).

    Dictated and templated reports repeat sentences heavily ("Records reviewed."), so each
    distinct sentence is read once per specialty (concepts can depend on the specialty); ConText
    never looks past a sentence, so nothing is lost.
    """
    docs = normalised(frame["summary_text"], with_norm=False)
    bounds = (
        docs.select(
            "doc",
            pl.concat_list(
                [
                    pl.lit(-1, dtype=pl.Int64),
                    pl.col("breaks").cast(pl.List(pl.Int64)),
                    pl.col("length").cast(pl.Int64),
                ]
            ).alias("b"),
        )
        .explode("b")
        .with_columns(pl.col("b").shift(-1).alias("next"), pl.col("doc").shift(-1).alias("_next_doc"))
        .filter(pl.col("_next_doc") == pl.col("doc"))
        .select(
            "doc",
            (pl.col("b") + 1).alias("sent_start"),
            pl.max_horizontal(pl.col("next"), pl.col("b") + 1).alias("sent_end"),
        )
        .with_columns(pl.int_range(pl.len()).over("doc").cast(pl.Int64).alias("sent"))
    )
    texts = frame.select(pl.col("summary_text").cast(pl.String).fill_null("")).with_row_index("doc")
    pieces = (
        bounds.join(texts, on="doc", how="left")
        .join(meta.select("doc", "specialty"), on="doc", how="left")
        .with_columns(
            pl.col("summary_text")
            .str.slice(pl.col("sent_start"), pl.col("sent_end") - pl.col("sent_start"))
            .alias("text")
        )
        .drop("summary_text")
        .filter(pl.col("text").str.contains("[A-Za-z]"))
    )
    distinct = (
        pieces.select(pl.col("specialty").fill_null(""), "text")
        .unique(maintain_order=True)
        .with_row_index("sid")
    )
    occurrences = (
        pieces.with_columns(pl.col("specialty").fill_null(""))
        .join(distinct, on=["specialty", "text"], how="left")
        .select("doc", "sent", "sent_start", "sent_end", pl.col("sid"))
    )
    return occurrences, distinct


def _read_sentences(distinct: pl.DataFrame) -> pl.DataFrame:
    """ConText over distinct sentences: targets (concept mentions the specialty permits, approach
    words, decision cues) with their categories. Each sentence is a document of one sentence."""
    docs = normalised(distinct["text"])
    concepts, approaches, decisions, rules = (
        concept_table(),
        approach_table(),
        decision_table(),
        context_rules(),
    )
    phrases = pl.concat(
        [concepts["phrase"], approaches["phrase"], decisions["phrase"], rules["phrase"]]
    ).unique()
    found = (
        find_phrases(docs, phrases.to_list())
        .join(docs.select("doc", pl.col("length").cast(pl.Int64).alias("sent_end")), on="doc", how="left")
        .with_columns(pl.lit(0, dtype=pl.Int64).alias("sent"), pl.lit(0, dtype=pl.Int64).alias("sent_start"))
    )
    specialty = distinct.select(pl.col("sid").cast(pl.UInt32).alias("doc"), "specialty")
    mentions = (
        found.join(concepts, on="phrase", how="inner")
        .join(specialty, on="doc", how="left")
        .filter(
            (pl.col("specialties").list.len() == 0) | pl.col("specialties").list.contains(pl.col("specialty"))
        )
        .with_columns(pl.lit("concept").alias("type"))
    )
    cues = found.join(decisions, on="phrase", how="inner").with_columns(pl.lit("decision").alias("type"))
    words = found.join(approaches, on="phrase", how="inner").with_columns(pl.lit("approach").alias("type"))
    target_cols = ["doc", "sent", "sent_start", "sent_end", "start", "end", "phrase", "type"]
    # Approach words are pruned among themselves only: "laparoscopic" inside "laparoscopic
    # hysterectomy" still says how that hysterectomy is done.
    targets = pl.concat(
        [
            keep_longest(pl.concat([mentions.select(target_cols), cues.select(target_cols)])),
            keep_longest(words.select(target_cols)),
        ]
    )
    modifiers = keep_longest(found.join(rules, on="phrase", how="inner"))
    own_trigger = _overlaps_any(targets, modifiers.filter(pl.col("direction") != "TERMINATE"))
    targets = targets.filter(~((pl.col("type") == "decision") & own_trigger))
    return apply_context(targets, modifier_scopes(modifiers), CATEGORIES)


def _decide(
    assessed: pl.DataFrame,
    concepts: pl.DataFrame,
    meta: pl.DataFrame,
    catalogue: pl.DataFrame,
    frame: pl.DataFrame,
) -> pl.DataFrame:
    affirmed_cue = (
        ~pl.col("NEGATED_EXISTENCE") & ~pl.col("REJECTED") & ~pl.col("HYPOTHETICAL") & ~pl.col("HISTORICAL")
    )
    cues = (
        assessed.filter(pl.col("type") == "decision")
        .join(decision_table(), on="phrase", how="left")
        .filter(affirmed_cue)
    )
    proposing = cues.filter(pl.col("signal").is_in(["endorse", "proceed"])).select("doc", "sent").unique()
    approach = (
        assessed.filter((pl.col("type") == "approach") & affirmed_cue)
        .join(approach_table(), on="phrase", how="left")
        .select("doc", "sent", pl.col("start").alias("_a"), "approach")
        .sort("doc", "sent", "_a")
    )
    m = (
        assessed.filter(pl.col("type") == "concept")
        .join(concepts.unique(subset="phrase", keep="first"), on="phrase", how="left")
        .join(meta, on="doc", how="left")
        .sort("doc", "sent", "start")
        .join_asof(
            approach,
            left_on="start",
            right_on="_a",
            by=["doc", "sent"],
            strategy="nearest",
            check_sortedness=False,
        )
        .join(proposing.with_columns(pl.lit(True).alias("proposing")), on=["doc", "sent"], how="left")
        .with_columns(pl.col("proposing").fill_null(False))
    )
    # Code: the approach word's, the first doctor's within the same family, the specialty's, or the concept's.
    m = m.with_columns(
        pl.coalesce(_by_key("codes_by_specialty", "specialty"), pl.col("code")).alias("_code")
    ).join(catalogue.rename({"code": "_code", "family": "_family", "tier": "_tier"}), on="_code", how="left")
    # "An open operation" is the first doctor's family done openly: its approach codes.
    family_approach = (
        concepts.filter(pl.col("codes_by_approach").list.len() > 0)
        .unique(subset="concept", keep="first")
        .join(catalogue, on="code", how="inner")
        .unique(subset="family", keep="first")
        .select(
            pl.col("family").alias("initial_family"), pl.col("codes_by_approach").alias("_family_approach")
        )
    )
    m = m.join(family_approach, on="initial_family", how="left").with_columns(
        pl.col("_family_approach").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    same_family = pl.col("_family") == pl.col("initial_family")
    m = m.with_columns(
        pl.when((pl.col("kind") == "initial") & pl.col("approach").is_not_null())
        .then(pl.coalesce(_by_key("_family_approach", "approach"), pl.col("initial")))
        .when(pl.col("kind") == "initial")
        .then(pl.col("initial"))
        .when(pl.col("approach").is_not_null() & (pl.col("codes_by_approach").list.len() > 0))
        .then(pl.coalesce(_by_key("codes_by_approach", "approach"), pl.col("_code")))
        .when(same_family & pl.col("same_family_as_initial"))
        .then(pl.col("initial"))
        .otherwise(pl.col("_code"))
        .alias("resolved")
    ).join(catalogue.rename({"code": "resolved"}), on="resolved", how="left")
    initial_is_test = pl.col("initial_tier").is_in([0, 1]) & (pl.col("kind") == "test")
    m = m.with_columns(
        ((pl.col("kind") == "initial") | (pl.col("family") == pl.col("initial_family")))
        .fill_null(False)
        .alias("is_initial"),
    )
    m = m.with_columns(initial_is_test.fill_null(False).alias("_replaces_initial")).rename({"kind": "_kind"})
    m = m.with_columns(
        pl.when((pl.col("_kind") == "test") & (pl.col("is_initial") | pl.col("_replaces_initial")))
        .then(pl.lit("procedure"))
        .otherwise(pl.col("_kind"))
        .alias("kind")
    )
    workup_test = pl.col("kind") == "test"
    m = m.with_columns(
        pl.when(pl.col("assertion") == "historical")
        .then(pl.lit("history"))
        .when(pl.col("NEGATED_EXISTENCE") | pl.col("REJECTED"))
        .then(pl.lit("rejected"))
        .when(pl.col("HYPOTHETICAL"))
        .then(pl.lit("mentioned"))
        .when(workup_test & pl.col("WORKUP"))
        .then(pl.lit("work-up"))
        .when(workup_test & pl.col("SURVEILLANCE"))
        .then(pl.lit("monitoring"))
        .when(workup_test & pl.col("proposing"))
        .then(pl.lit("work-up"))
        .when(pl.col("proposing"))
        .then(pl.lit("recommended"))
        .otherwise(pl.lit("mentioned"))
        .alias("role")
    )
    # A plan written without a verb ("Physiotherapy for three months."): conservative care alone
    # in a sentence that names no procedure and no history is what the reviewer proposes.
    procedure_sentences = (
        m.filter(pl.col("kind").is_in(["procedure", "initial"]))
        .select("doc", "sent")
        .unique()
        .with_columns(pl.lit(True).alias("_has_procedure"))
    )
    m = m.join(procedure_sentences, on=["doc", "sent"], how="left").with_columns(
        pl.when(
            (pl.col("role") == "mentioned")
            & (pl.col("kind") == "conservative")
            & pl.col("_has_procedure").is_null()
            & (pl.col("assertion") == "affirmed")
        )
        .then(pl.lit("plan"))
        .otherwise(pl.col("role"))
        .alias("role")
    )
    texts = frame.select(pl.col("summary_text").cast(pl.String).fill_null("")).with_row_index("doc")
    m = m.join(texts, on="doc", how="left").with_columns(
        pl.col("summary_text").str.slice(pl.col("start"), pl.col("end") - pl.col("start")).alias("text")
    )
    return _doc_decisions(m, cues, meta)


def _doc_decisions(m: pl.DataFrame, cues: pl.DataFrame, meta: pl.DataFrame) -> pl.DataFrame:
    definitive = pl.col("kind").is_in(["procedure", "initial"]) & (pl.col("tier").fill_null(1) > 0)
    recommended = m.filter((pl.col("role") == "recommended") & definitive)
    # The last proposing sentence decides; in it a more specific mention of the first family
    # ("an endoscopic release") beats a bare one, else the first family, else the highest tier.
    last = recommended.group_by("doc").agg(pl.col("sent").max().alias("_last"))
    chosen = (
        recommended.join(last, on="doc")
        .filter(pl.col("sent") == pl.col("_last"))
        .with_columns(
            (pl.col("is_initial") & (pl.col("resolved") != pl.col("initial"))).alias("_specific"),
            (pl.col("kind") != "initial").alias("_named"),
        )
        .sort(
            ["doc", "_specific", "_named", "tier", "is_initial", "start"],
            descending=[False, True, True, True, True, False],
        )
        .group_by("doc", maintain_order=True)
        .first()
        .select(
            "doc",
            pl.col("resolved").alias("chosen_code"),
            pl.col("is_initial").alias("chosen_initial"),
            pl.col("text").alias("chosen_text"),
        )
    )
    # A proposal that points back ("I'd recommend that over ACDF"): the last procedure affirmed
    # before the last proposing sentence that names none of its own.
    proposing = cues.filter(pl.col("signal") == "endorse").select("doc", "sent").unique()
    with_own = recommended.select("doc", "sent").unique()
    orphan = (
        proposing.join(with_own, on=["doc", "sent"], how="anti")
        .group_by("doc")
        .agg(pl.col("sent").max().alias("_cue"))
    )
    candidates = m.filter(
        definitive
        & (pl.col("assertion").is_in(["affirmed", "possible"]))
        & (pl.col("role") == "mentioned")
        & ~pl.col("is_initial")
    )
    pointed = (
        candidates.join(orphan, on="doc")
        .filter(pl.col("sent") <= pl.col("_cue"))
        .sort("doc", "start")
        .group_by("doc", maintain_order=True)
        .last()
        .select("doc", pl.col("resolved").alias("pointed_code"), pl.col("text").alias("pointed_text"))
    )
    per_doc = m.group_by("doc").agg(
        (pl.col("role") == "work-up").any().alias("workup"),
        pl.col("text").filter(pl.col("role") == "work-up").alias("workup_texts"),
        pl.col("role")
        .is_in(["recommended", "plan", "monitoring"])
        .filter(pl.col("kind") == "conservative")
        .any()
        .alias("_cons"),
        (pl.col("role") == "monitoring").any().alias("_monitor"),
        pl.col("text")
        .filter(pl.col("role").is_in(["recommended", "plan", "monitoring"]) & (pl.col("kind") != "procedure"))
        .alias("conservative_texts"),
        (pl.col("is_initial") & (pl.col("role") == "rejected")).any().alias("initial_rejected"),
        pl.col("resolved")
        .filter(pl.col("role") == "rejected")
        .unique(maintain_order=True)
        .alias("rejected_codes"),
        pl.col("role")
        .is_in(["recommended"])
        .filter(pl.col("assertion") == "possible")
        .any()
        .alias("_hedged"),
        pl.struct(
            "start",
            "end",
            "text",
            "concept",
            pl.col("resolved").alias("code"),
            "assertion",
            "trigger",
            pl.col("role").replace({"plan": "recommended", "monitoring": "recommended"}),
        ).alias("spans"),
    )
    cue_doc = cues.group_by("doc").agg(
        (pl.col("signal") == "defer").any().alias("defer_cue"),
        pl.col("phrase").filter(pl.col("signal") == "defer").first().alias("defer_phrase"),
        (pl.col("signal") == "proceed").any().alias("proceed_cue"),
    )
    out = (
        meta.select("doc", "opinion_id", "initial")
        .join(per_doc, on="doc", how="left")
        .join(cue_doc, on="doc", how="left")
        .join(chosen, on="doc", how="left")
        .join(pointed, on="doc", how="left")
        .with_columns(
            pl.col("workup", "_cons", "initial_rejected", "defer_cue", "proceed_cue", "_hedged").fill_null(
                False
            )
        )
    )
    code_rec = pl.coalesce("chosen_code", "pointed_code")
    recommendation = (
        pl.when(pl.col("workup"))
        .then(pl.lit("further_testing"))
        .when(pl.col("defer_cue"))
        .then(pl.lit("defer"))
        .when(
            pl.col("chosen_code").is_not_null()
            & pl.col("chosen_initial")
            & (pl.col("chosen_code") == pl.col("initial"))
        )
        .then(pl.lit("proceed"))
        .when(code_rec.is_not_null())
        .then(pl.lit("alternative_procedure"))
        .when(pl.col("_cons") | pl.col("initial_rejected"))
        .then(pl.lit("conservative"))
        .when(pl.col("proceed_cue"))
        .then(pl.lit("proceed"))
    )
    rejected = (
        pl.col("rejected_codes").list.set_difference(pl.concat_list(code_rec.fill_null(""))).list.join(", ")
    )
    evidence = (
        pl.when(pl.col("recommendation") == "further_testing")
        .then(pl.lit("work-up before deciding: ") + pl.col("workup_texts").list.join(", "))
        .when(pl.col("recommendation") == "defer")
        .then(pl.lit("defers the decision: '") + pl.col("defer_phrase") + pl.lit("'"))
        .when(
            pl.col("recommendation").is_in(["proceed", "alternative_procedure"])
            & pl.col("recommended_procedure_code").is_not_null()
        )
        .then(
            pl.lit("recommends ")
            + pl.col("recommended_procedure_code")
            + pl.when(rejected.str.len_chars() > 0).then(pl.lit(" over ") + rejected).otherwise(pl.lit(""))
        )
        .when(pl.col("recommendation") == "conservative")
        .then(
            pl.when(pl.col("conservative_texts").list.len() > 0)
            .then(
                pl.lit("conservative care: ")
                + pl.col("conservative_texts").list.unique(maintain_order=True).list.join(", ")
            )
            .otherwise(pl.lit("turns down ") + pl.col("initial") + pl.lit(" with nothing in its place"))
        )
        .when(pl.col("recommendation") == "proceed")
        .then(pl.lit("agrees with the proposed ") + pl.col("initial"))
    )
    confidence = (
        pl.when(pl.col("recommendation").is_null())
        .then(None)
        .when(
            pl.col("chosen_code").is_null()
            & pl.col("pointed_code").is_not_null()
            & (pl.col("recommendation") == "alternative_procedure")
        )
        .then(0.8)
        .when(pl.col("_hedged"))
        .then(0.85)
        .when((pl.col("recommendation") == "conservative") & ~pl.col("_cons"))
        .then(0.8)
        .otherwise(1.0)
    )
    return (
        out.with_columns(recommendation.alias("recommendation"))
        .with_columns(
            pl.when(pl.col("recommendation").is_in(["proceed", "alternative_procedure"]))
            .then(
                pl.coalesce(code_rec, pl.when(pl.col("recommendation") == "proceed").then(pl.col("initial")))
            )
            .alias("recommended_procedure_code")
        )
        .with_columns(
            pl.when(pl.col("recommendation") == "proceed")
            .then(
                pl.when(pl.col("chosen_code").is_null())
                .then(None)
                .otherwise(pl.col("recommended_procedure_code"))
            )
            .otherwise(pl.col("recommended_procedure_code"))
            .alias("recommended_procedure_code")
        )
        .with_columns(evidence.alias("evidence"), confidence.cast(pl.Float64).alias("confidence"))
        .with_columns(
            pl.col("spans").fill_null([]).cast(pl.List(SPAN_TYPE)),
            pl.lit(EXTRACTOR_VERSION).alias("extractor_version"),
        )
        .sort("doc")
        .select(list(EXTRACTION_COLUMNS))
    )
