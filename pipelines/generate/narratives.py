"""Synthetic second-opinion narratives, composed from phrase banks without a loop per row.

Why this exists: real second-opinion reports are often narrative only, so the text classifier
(design rule 5) needs narratives whose outcome is known. The generator writes one narrative per
opinion from the structured outcome; `training_corpus` gives the classifier a fallback training
set when the warehouse holds too few labelled narratives.

Why it looks like this:
- Each narrative is a few slots (opener, history and imaging distractors, the *decision*
  sentence, a supporting reason, a plan, a patient-preference remark), each drawn from a bank
  keyed by outcome or specialty. Only the decision bank defines the label-bearing wording, and
  its template id is the narrative's *phrasing group*: evaluation holds whole groups out, so a
  score says how the model does on wording it has never seen, not on re-used templates.
- The language is deliberately broad: paraphrase, negation ("I would not operate"), hedging
  ("may eventually need"), distractors that mention surgery or conservative care without
  deciding anything, and family-specific procedure words. Patient-preference remarks are drawn
  independently of the outcome, as in real letters, so a model cannot learn them as labels;
  so are past-tense mentions of prior care and tests ("physiotherapy gave little benefit").
- When tiers are given, families whose tier depends on the approach (cholecystectomy, hernia
  repair, hysterectomy) are named with it ("open" / "laparoscopic"), so a step down reads as one.
- Composition is vectorised: numpy picks indices into flattened banks, Polars concatenates and
  fills placeholders with `str.replace_all(..., <expression>)`; 600k narratives take seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import yaml

from pipelines.lib.vocabulary import FAMILY_TIER, REVIEW_OUTCOMES
from pipelines.lib.vocabulary import SPECIALTIES as CONTRACT_SPECIALTIES

OUTCOMES: tuple[str, ...] = REVIEW_OUTCOMES  # written once, in pipelines/outcomes.py
SPECIALTIES: tuple[str, ...] = CONTRACT_SPECIALTIES  # written once, in data_contracts/cases.yaml

PHRASES_FILE = Path(__file__).with_name("phrases") / "narratives.yaml"
_BANKS = yaml.safe_load(PHRASES_FILE.read_text(encoding="utf-8"))
FAMILY_TERMS: dict[str, list[str]] = _BANKS["family_terms"]
FAMILY_TERMS_BY_TIER: dict[str, list[str]] = _BANKS["family_terms_by_tier"]
CONSERVATIVE: dict[str, list[str]] = _BANKS["conservative"]
TESTS: dict[str, list[str]] = _BANKS["tests"]
INTERVALS: list[str] = _BANKS["intervals"]
DECISIONS: dict[str, list[str]] = _BANKS["decisions"]
SUPPORT: dict[str, list[str]] = _BANKS["support"]
HISTORY: dict[str, list[str]] = _BANKS["history"]
GENERIC_HISTORY: list[str] = _BANKS["generic_history"]
PRIOR_CARE: list[str] = _BANKS["prior_care"]
OPENERS: list[str] = _BANKS["openers"]
PREFERENCES: list[str] = _BANKS["preferences"]
CLOSINGS: list[str] = _BANKS["closings"]
#: (initial family, recommended family or None) pairs the corpus draws, per specialty and outcome.
_PAIRS: dict[str, dict[str, list[tuple[str, str | None]]]] = {
    s: {o: [(a, b) for a, b in pairs] for o, pairs in by_outcome.items()}
    for s, by_outcome in _BANKS["pairs"].items()
}


# Probabilities that optional slots are present.
_P_OPENER, _P_HIST1, _P_HIST2, _P_PRIOR, _P_SUPPORT, _P_PREF, _P_CLOSE = 0.75, 0.7, 0.4, 0.45, 0.55, 0.3, 0.3


def _flatten(bank: dict[str, list[str]], keys: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten a keyed bank into (texts, offsets, counts) so a pick is one vectorised index."""
    texts: list[str] = []
    offsets, counts = [], []
    for k in keys:
        offsets.append(len(texts))
        counts.append(len(bank[k]))
        texts.extend(bank[k])
    return np.array(texts, dtype=object), np.array(offsets), np.array(counts)


def _as_strings(values: np.ndarray) -> pl.Series:
    """A String series from any array-like of labels; None, NaN and "" all become null."""
    series = pl.Series(np.asarray(values, dtype=object).tolist(), dtype=pl.String, strict=False)
    return series.replace(["", "nan", "NaN", "None"], None)


def _codes(values: np.ndarray, keys: tuple[str, ...], default: int = 0) -> np.ndarray:
    """Map string values to positions in `keys` (unknown or missing -> default), vectorised."""
    series = _as_strings(values)
    return (
        series.replace_strict(list(keys), list(range(len(keys))), default=default, return_dtype=pl.Int64)
        .fill_null(default)
        .to_numpy()
    )


def _pick_keyed(
    codes: np.ndarray, bank: dict[str, list[str]], keys: tuple[str, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pick one text per row from the sub-bank of its key; returns (texts, flat index)."""
    texts, offsets, counts = _flatten(bank, keys)
    idx = offsets[codes] + (rng.random(codes.size) * counts[codes]).astype(np.int64)
    return texts[idx], idx


def _pick(items: list[str], n: int, rng: np.random.Generator, p_present: float = 1.0) -> np.ndarray:
    """Pick from a flat bank; absent slots become empty strings."""
    arr = np.array(items, dtype=object)[rng.integers(0, len(items), n)]
    if p_present < 1.0:
        arr[rng.random(n) >= p_present] = ""
    return arr


def _family_phrases(
    families: np.ndarray, rng: np.random.Generator, fallback: str, tiers: np.ndarray | None = None
) -> np.ndarray:
    """One procedure phrase per row from the family's synonyms (unknown family -> its own name).

    With `tiers`, an approach-dependent family uses the phrases of its tier (open/laparoscopic).
    """
    series = _as_strings(families).fill_null("")
    if tiers is not None:
        tier_txt = _as_strings(np.asarray(tiers, dtype=object)).str.replace(r"\.0$", "")
        keyed = (series + "@" + tier_txt).fill_null("")
        series = pl.select(
            pl.when(keyed.is_in(list(FAMILY_TERMS_BY_TIER))).then(keyed).otherwise(series)
        ).to_series()
    uniq = series.unique().sort().to_list()
    keys = tuple(uniq)
    bank = {
        u: FAMILY_TERMS_BY_TIER.get(u) or FAMILY_TERMS.get(u, [u.replace("_", " ")] if u else [fallback])
        for u in uniq
    }
    texts, _ = _pick_keyed(_codes(series.to_numpy(), keys), bank, keys, rng)
    return texts


def _capitalised(col: str) -> pl.Expr:
    return pl.col(col).str.slice(0, 1).str.to_uppercase() + pl.col(col).str.slice(1)


def compose_with_groups(
    outcome: np.ndarray,
    specialty: np.ndarray,
    initial_family: np.ndarray,
    recommended_family: np.ndarray,
    rng: np.random.Generator,
    initial_tier: np.ndarray | None = None,
    recommended_tier: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Narratives and their phrasing-group ids (the decision template's global index)."""
    outcome = np.asarray(outcome)
    n = outcome.size
    if n == 0:
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    out_codes = _codes(outcome, OUTCOMES)
    spec_codes = _codes(np.asarray(specialty), SPECIALTIES, default=SPECIALTIES.index("spine"))

    decision, group = _pick_keyed(out_codes, DECISIONS, OUTCOMES, rng)
    support, _ = _pick_keyed(out_codes, SUPPORT, OUTCOMES, rng)
    support[rng.random(n) >= _P_SUPPORT] = ""
    hist_bank = {s: HISTORY[s] + GENERIC_HISTORY for s in SPECIALTIES}
    hist1, _ = _pick_keyed(spec_codes, hist_bank, SPECIALTIES, rng)
    hist1[rng.random(n) >= _P_HIST1] = ""
    hist2, _ = _pick_keyed(spec_codes, hist_bank, SPECIALTIES, rng)
    hist2[(rng.random(n) >= _P_HIST2) | (hist2 == hist1)] = ""
    cons, _ = _pick_keyed(spec_codes, CONSERVATIVE, SPECIALTIES, rng)
    test, _ = _pick_keyed(spec_codes, TESTS, SPECIALTIES, rng)

    frame = pl.DataFrame(
        {
            "opener": _pick(OPENERS, n, rng, _P_OPENER),
            "hist1": hist1,
            "hist2": hist2,
            "decision": decision,
            "support": support,
            "prior": _pick(PRIOR_CARE, n, rng, _P_PRIOR),
            "pref": _pick(PREFERENCES, n, rng, _P_PREF),
            "close": _pick(CLOSINGS, n, rng, _P_CLOSE),
            "init": _family_phrases(
                np.asarray(initial_family, dtype=object), rng, "the proposed surgery", initial_tier
            ),
            "rec": _family_phrases(
                np.asarray(recommended_family, dtype=object), rng, "a different procedure", recommended_tier
            ),
            "cons": cons,
            "test": test,
            "interval": _pick(INTERVALS, n, rng),
            "age": rng.integers(24, 88, n).astype(str),
            "history_first": rng.random(n) < 0.7,
            "style": rng.integers(0, 4, n),
        },
        schema_overrides={
            c: pl.String
            for c in ("opener", "hist1", "hist2", "prior", "decision", "support", "pref", "close")
        },
    )

    def fill(col: str) -> pl.Expr:
        # Placeholders only live in the opener, decision and support slots: filling those short
        # strings, not the assembled narrative, keeps the per-row regex work small.
        expr = pl.col(col)
        for token, source in (
            ("{Init}", "Init"),
            ("{init}", "init"),
            ("{Rec}", "Rec"),
            ("{rec}", "rec"),
            ("{Cons}", "Cons"),
            ("{cons}", "cons"),
            ("{test}", "test"),
            ("{Test}", "Test"),
            ("{interval}", "interval"),
            ("{Age}", "age"),
        ):
            expr = expr.str.replace_all(token, pl.col(source), literal=True)
        return expr.alias(col)

    order_a = ["opener", "hist1", "prior", "hist2", "decision", "support", "pref", "close"]
    order_b = ["opener", "decision", "support", "hist1", "hist2", "prior", "pref", "close"]
    text = (
        frame.lazy()
        .with_columns(
            _capitalised("init").alias("Init"),
            _capitalised("rec").alias("Rec"),
            _capitalised("cons").alias("Cons"),
            _capitalised("test").alias("Test"),
        )
        .with_columns(fill("opener"), fill("prior"), fill("decision"), fill("support"))
        # Where the history sits relative to the decision varies, as it does in real letters.
        .select(
            pl.when(pl.col("history_first"))
            .then(pl.concat_str(order_a, separator=" "))
            .otherwise(pl.concat_str(order_b, separator=" "))
            .str.replace_all(r"\s{2,}", " ")
            .str.strip_chars()
            .alias("text"),
            pl.col("style"),
        )
        # Dictation styles: some reviewers write in lower case or abbreviate "patient".
        .select(
            pl.when(pl.col("style") == 1)
            .then(pl.col("text").str.to_lowercase())
            .when(pl.col("style") == 2)
            .then(
                pl.col("text")
                .str.replace_all(r"\b[Tt]he patient\b", "pt")
                .str.replace_all(r"\bpatient\b", "pt")
            )
            .otherwise(pl.col("text"))
        )
        .collect()
        .to_series()
        .to_numpy()
    )
    return text.astype(object), group.astype(np.int64)


def compose_narratives(
    outcome: np.ndarray,
    specialty: np.ndarray,
    initial_family: np.ndarray,
    recommended_family: np.ndarray,
    rng: np.random.Generator,
    initial_tier: np.ndarray | None = None,
    recommended_tier: np.ndarray | None = None,
) -> np.ndarray:
    """One anonymized narrative per row, consistent with its outcome; no identifiers, no codes.

    `recommended_family` may hold None/"" where no procedure was recommended; unknown outcome
    values are written as confirmed-style text (the generator only passes the six outcomes).
    The optional tiers (catalogue invasiveness of the initial / recommended code) let families
    whose tier depends on the approach name it ("open" vs "laparoscopic" cholecystectomy).
    """
    text, _ = compose_with_groups(
        outcome, specialty, initial_family, recommended_family, rng, initial_tier, recommended_tier
    )
    return text


def training_corpus(n: int, seed: int) -> pl.DataFrame:
    """A labelled fallback corpus: summary_text, outcome, specialty, initial/recommended family and
    tier, phrase_group.

    Outcome shares loosely follow the published spread (e.g. Epstein 2013: 60.7% unnecessary,
    33.3% wrong/overly extensive, 6% right — [epstein2013]; Graboys 1992: 16% deferred
    pending studies — #23) but are flattened so every class is well represented for training.
    """
    rng = np.random.default_rng(seed)
    shares = np.array([0.24, 0.18, 0.22, 0.16, 0.10, 0.10])
    out_code = rng.choice(len(OUTCOMES), size=n, p=shares)
    spec_code = rng.integers(0, len(SPECIALTIES), n)
    outcome = np.array(OUTCOMES, dtype=object)[out_code]
    specialty = np.array(SPECIALTIES, dtype=object)[spec_code]
    init = np.empty(n, dtype=object)
    rec = np.empty(n, dtype=object)
    u = rng.random(n)
    cell = spec_code * len(OUTCOMES) + out_code
    for i, spec in enumerate(SPECIALTIES):  # 7 x 6 categories, never one iteration per row
        for j, out in enumerate(OUTCOMES):
            pairs = _PAIRS[spec].get(out, _PAIRS[spec]["other"])
            mask = cell == i * len(OUTCOMES) + j
            pick = (u[mask] * len(pairs)).astype(np.int64)
            init[mask] = np.array([p[0] for p in pairs], dtype=object)[pick]
            rec[mask] = np.array([p[1] for p in pairs], dtype=object)[pick]
    init_family, init_tier = _split_family_tier(init)
    rec_family, rec_tier = _split_family_tier(rec)
    text, group = compose_with_groups(outcome, specialty, init_family, rec_family, rng, init_tier, rec_tier)
    return pl.DataFrame(
        [
            pl.Series("summary_text", text.tolist(), dtype=pl.String),
            pl.Series("outcome", outcome.tolist(), dtype=pl.String),
            pl.Series("specialty", specialty.tolist(), dtype=pl.String),
            pl.Series("initial_family", init_family.to_list(), dtype=pl.String),
            pl.Series("initial_tier", init_tier.to_list(), dtype=pl.Int64),
            pl.Series("recommended_family", rec_family.to_list(), dtype=pl.String),
            pl.Series("recommended_tier", rec_tier.to_list(), dtype=pl.Int64),
            pl.Series("phrase_group", group, dtype=pl.Int64),
        ]
    )


def _split_family_tier(pairs: np.ndarray) -> tuple[pl.Series, pl.Series]:
    """'family@tier' or 'family' -> (family, tier), the tier defaulting to the catalogue's."""
    parts = _as_strings(pairs).str.split_exact("@", 1).struct.unnest()
    family = parts["field_0"]
    tier = parts["field_1"].cast(pl.Int64, strict=False)
    known = {f: t for f, t in FAMILY_TIER.items() if t is not None}  # approach-dependent ones carry @tier
    default = family.replace_strict(known, default=None, return_dtype=pl.Int64)
    return family, tier.fill_null(default)
