"""Bad and messy rows mixed into generated landing files, one quarantine rule per bad row.

Why: the ingest must prove that it quarantines every kind of bad row with the right reason,
counts exact repeats as duplicates, and still accepts valid-but-messy values (" Spine ",
"COMMERCIAL"). Each injected bad row is a copy of a real row with exactly one thing broken, so
`rows quarantined with reason R == injected[R]` is a testable identity:
- bad rows get a fresh id (or, for `case_id:not_unique`, an existing id placed after the
  original, so the original is the one kept), so the clean data loses nothing;
- exact duplicates copy a row verbatim and sit after it;
- messy rows replace their clean originals in place and must normalise back to them.
Rule names are the contract's reasons `field:rule` (pipelines/contracts.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from pipelines.generate.sampling import pseudonyms, stream

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Identifier values a careless export leaves in a row, one Safe Harbor category each (the reason
# `field:identifier_<category>`, data_contracts/privacy/identifiers.yaml): in the narrative, and in
# key fields that are meant to hold pseudonyms. Each snippet carries exactly one category.
IDENTIFIER_SNIPPETS: dict[str, tuple[str, ...]] = {
    "ssn": ("Patient SSN 123-45-6789 confirmed at intake.", "Member SSN on file: 078-05-1120."),
    "email": ("Questions to jane.doe@example.org please.", "Copy sent to r.smith@mailhost.net."),
    "phone": (
        "Call the patient back at 617-555-0142.",
        "Reached the daughter at (312) 555-0187 after the visit.",
        "Mobile +1 415.555.0123 for scheduling.",
    ),
    "zip": ("Lives near the clinic, ZIP 02139.", "Home address in Boston, MA 02118."),
    "dob": ("DOB 03/14/1961 confirmed with the patient.", "Born on March 3, 1958; seen with family."),
    "url": ("Imaging uploaded to https://portal.example.org/u/8812 for review.",),
    "ip": ("Video visit from 192.168.10.45 dropped twice.",),
    "mrn": ("Chart reviewed under MRN 00482913.",),
    "beneficiary": ("Medicare MBI 1EG4-TE5-MK73 verified.",),
    "name": ("Seen with Mrs Alvarez and her son.",),
}
KEY_IDENTIFIERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # rule: (record type, field, values)
    "plan_id:identifier_email": ("cases", "plan_id", ("claims@carrier.example.com", "b.ortiz@planmail.org")),
    "patient_key:identifier_ssn": ("cases", "patient_key", ("219099999", "536220417", "601-44-2187")),
    "reviewer_id:identifier_phone": ("opinions", "reviewer_id", ("617-555-0199", "(212) 555-0134")),
}
BAD_VALUES: dict[str, tuple[str, ...]] = {
    "specialty": ("dermatology", "neurosurgery", "ortho", "cardio-thoracic"),
    "age_band": ("45-54", "65+", "100+", "adult"),
    "sex": ("female", "male", "O", "unknown"),
    "payer_type": ("medicare_advantage", "tricare", "private", "uninsured"),
    "urgency": ("routine", "stat", "asap", "scheduled"),
    "recommendation": ("surgery", "maybe", "wait_and_see", "approve"),
    "region": ("California", "New York", "9021", "N.Y."),
    "diagnosis_code": ("12345", "M5", "ICD-M17.11", "171.1"),
    "code": ("2744", "KNEE-TKA", "27447-RT", "TKA"),
    "boolean": ("maybe", "unknown", "2", "n/a"),
    "timestamp": ("yesterday 3pm", "2025-13-01T10:00:00", "2025-02-30T09:15:00", "soon"),
    "number": ("$1,200.00", "n/a", "twelve hundred", "1.2.3"),
}
IDENTIFIER_CAP = 25  # "a few identifier-bearing rows" per category, whatever the fraction


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as the text a CSV would carry (ISO dates and timestamps, true/false)."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            exprs.append(col.dt.to_string("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.to_string(DATETIME_FORMAT))
        elif dtype == pl.Boolean:
            exprs.append(pl.when(col).then(pl.lit("true")).when(~col).then(pl.lit("false")).alias(name))
        else:
            exprs.append(col.cast(pl.String))
    return frame.select(exprs)


# --- row builders: (donor rows as text, rng, context) -> the same rows with one thing broken ----

Builder = Callable[[pl.DataFrame, np.random.Generator, "Context"], pl.DataFrame]


class Context:
    """What builders need besides the donor rows: fresh ids and the cases' referral dates."""

    def __init__(self, text: dict[str, pl.DataFrame], frames: dict[str, pl.DataFrame], seed: int) -> None:
        self.referral = frames["cases"].select("case_id", "referral_date")
        self._taken = {
            "case_id": set(text["cases"]["case_id"].to_list()),
            "opinion_id": set(text["opinions"]["opinion_id"].to_list()),
        }
        self._prefix = {"case_id": "C", "opinion_id": "OP"}
        self._next = {"case_id": 0, "opinion_id": 0}
        self._seed = seed

    def fresh(self, field: str, k: int) -> list[str]:
        """k ids in the generator's format that no row uses yet."""
        out: list[str] = []
        while len(out) < k:
            start = self._next[field]
            cand = pseudonyms(np.arange(start, start + 2 * k + 8), self._prefix[field], self._seed * 13 + 11)
            self._next[field] = start + 2 * k + 8
            new = [c for c in cand.tolist() if c not in self._taken[field]]
            out.extend(new[: k - len(out)])
        self._taken[field].update(out)
        return out


def _pick(values: tuple[str, ...], k: int, rng: np.random.Generator) -> pl.Series:
    return pl.Series(np.array(values)[rng.integers(0, len(values), k)], dtype=pl.String)


def _blank(k: int) -> pl.Series:
    """Missing values, half null and half whitespace (both break `required`)."""
    return pl.Series([None if i % 2 == 0 else "  " for i in range(k)], dtype=pl.String)


def _with_fresh_id(df: pl.DataFrame, ctx: Context, field: str) -> pl.DataFrame:
    return df.with_columns(pl.Series(field, ctx.fresh(field, df.height), dtype=pl.String))


def _required(field: str, key: str | None) -> Builder:
    def build(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
        if key and key != field:
            df = _with_fresh_id(df, ctx, key)
        return df.with_columns(_blank(df.height).alias(field))

    return build


def _set(field: str, values: tuple[str, ...], key: str | None) -> Builder:
    def build(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
        if key:
            df = _with_fresh_id(df, ctx, key)
        return df.with_columns(_pick(values, df.height, rng).alias(field))

    return build


def _bad_date(field: str, key: str | None) -> Builder:
    def build(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
        if key:
            df = _with_fresh_id(df, ctx, key)
        year = pl.col(field).str.slice(0, 4)
        variant = pl.Series(rng.integers(0, 4, df.height))
        bad = (
            pl.when(pl.lit(variant) == 0)
            .then(year + "-02-30")
            .when(pl.lit(variant) == 1)
            .then(year + "-13-05")
            .when(pl.lit(variant) == 2)
            .then(pl.lit("next week"))
            .otherwise(year + "/31/12")
        )
        return df.with_columns(bad.alias(field))

    return build


def _future(field: str, key: str | None) -> Builder:
    """A year typed a century late (2025 -> 2125): always in the future, deterministic."""

    def build(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
        if key:
            df = _with_fresh_id(df, ctx, key)
        year = (pl.col(field).str.slice(0, 4).cast(pl.Int64) + 100).cast(pl.String)
        return df.with_columns((year + pl.col(field).str.slice(4)).alias(field))

    return build


def _not_unique(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
    """Same case_id, other content: the referral a few days earlier."""
    shift = pl.Series(rng.integers(1, 31, df.height))
    date = pl.col("referral_date").str.to_date("%Y-%m-%d") - pl.duration(days=pl.lit(shift))
    return df.with_columns(date.dt.to_string("%Y-%m-%d").alias("referral_date"))


def _before_referral(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
    df = _with_fresh_id(df, ctx, "opinion_id")
    shift = pl.Series("_shift", rng.integers(1, 61, df.height))
    return (
        df.with_columns(shift, pl.int_range(pl.len()).alias("_i"))
        .join(ctx.referral, on="case_id", how="left")
        .sort("_i")
        .with_columns(
            (pl.col("referral_date") - pl.duration(days=pl.col("_shift")))
            .dt.to_string("%Y-%m-%d")
            .alias("opinion_date")
        )
        .select(df.columns)
    )


def _no_signal(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
    df = _with_fresh_id(df, ctx, "opinion_id")
    return df.with_columns(
        pl.lit(None, dtype=pl.String).alias(c)
        for c in ("recommendation", "recommended_procedure_code", "summary_text")
    )


def _identifier(category: str) -> Builder:
    def build(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
        df = _with_fresh_id(df, ctx, "opinion_id")
        snippet = _pick(IDENTIFIER_SNIPPETS[category], df.height, rng)
        text = pl.coalesce(pl.col("summary_text"), pl.lit("Second opinion discussed with the patient."))
        return df.with_columns((text + " " + pl.lit(snippet)).alias("summary_text"))

    return build


def _key_identifiers(record_type: str) -> dict[str, Builder]:
    key = {"cases": "case_id", "opinions": "opinion_id"}[record_type]
    return {
        rule: _set(field, values, key)
        for rule, (rtype, field, values) in KEY_IDENTIFIERS.items()
        if rtype == record_type
    }


def _negative(df: pl.DataFrame, rng: np.random.Generator, ctx: Context) -> pl.DataFrame:
    amount = pl.Series(np.round(rng.uniform(50, 5000, df.height), 2))
    return df.with_columns((-pl.lit(amount)).cast(pl.String).alias("allowed_amount"))


RULES: dict[str, dict[str, Builder]] = {
    "cases": {
        "case_id:required": _required("case_id", None),
        "patient_key:required": _required("patient_key", "case_id"),
        "specialty:required": _required("specialty", "case_id"),
        "referral_date:required": _required("referral_date", "case_id"),
        "initial_procedure_code:required": _required("initial_procedure_code", "case_id"),
        "specialty:invalid_value": _set("specialty", BAD_VALUES["specialty"], "case_id"),
        "age_band:invalid_value": _set("age_band", BAD_VALUES["age_band"], "case_id"),
        "sex:invalid_value": _set("sex", BAD_VALUES["sex"], "case_id"),
        "payer_type:invalid_value": _set("payer_type", BAD_VALUES["payer_type"], "case_id"),
        "urgency:invalid_value": _set("urgency", BAD_VALUES["urgency"], "case_id"),
        "referral_date:invalid_type": _bad_date("referral_date", "case_id"),
        "referral_date:future_date": _future("referral_date", "case_id"),
        "region:pattern": _set("region", BAD_VALUES["region"], "case_id"),
        "diagnosis_code:pattern": _set("diagnosis_code", BAD_VALUES["diagnosis_code"], "case_id"),
        "initial_procedure_code:pattern": _set("initial_procedure_code", BAD_VALUES["code"], "case_id"),
        "case_id:not_unique": _not_unique,
        **_key_identifiers("cases"),
    },
    "opinions": {
        "opinion_id:required": _required("opinion_id", None),
        "case_id:required": _required("case_id", "opinion_id"),
        "reviewer_id:required": _required("reviewer_id", "opinion_id"),
        "opinion_date:required": _required("opinion_date", "opinion_id"),
        "recommendation:invalid_value": _set("recommendation", BAD_VALUES["recommendation"], "opinion_id"),
        "opinion_date:invalid_type": _bad_date("opinion_date", "opinion_id"),
        "diagnosis_changed:invalid_type": _set("diagnosis_changed", BAD_VALUES["boolean"], "opinion_id"),
        "updated_at:invalid_type": _set("updated_at", BAD_VALUES["timestamp"], "opinion_id"),
        "opinion_date:future_date": _future("opinion_date", "opinion_id"),
        "opinion_date:before_referral": _before_referral,
        "recommended_procedure_code:pattern": _set(
            "recommended_procedure_code", BAD_VALUES["code"], "opinion_id"
        ),
        "record:no_signal": _no_signal,
        **{f"summary_text:identifier_{category}": _identifier(category) for category in IDENTIFIER_SNIPPETS},
        **_key_identifiers("opinions"),
    },
    "follow_ups": {
        "case_id:required": _required("case_id", None),
        "procedure_code:required": _required("procedure_code", None),
        "service_date:required": _required("service_date", None),
        "service_date:invalid_type": _bad_date("service_date", None),
        "service_date:future_date": _future("service_date", None),
        "allowed_amount:invalid_type": _set("allowed_amount", BAD_VALUES["number"], None),
        "procedure_code:pattern": _set("procedure_code", BAD_VALUES["code"], None),
        "allowed_amount:negative": _negative,
    },
}
# Rows placed after their donor (the donor is the one the ingest keeps).
AFTER_DONOR = {"case_id:not_unique", "duplicate"}


def _messy(rtype: str, df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Valid but untidy spellings: case and padding of enumerations, padded codes."""
    v = pl.lit(pl.Series(rng.integers(0, 4, df.height)))

    def variants(col: str) -> pl.Expr:
        c = pl.col(col)
        return (
            pl.when(v == 0)
            .then(c.str.to_uppercase())
            .when(v == 1)
            .then(" " + c.str.slice(0, 1).str.to_uppercase() + c.str.slice(1) + " ")
            .when(v == 2)
            .then("  " + c + "  ")
            .otherwise(c.str.to_uppercase() + " ")
            .alias(col)
        )

    if rtype == "cases":
        return df.with_columns(
            variants("specialty"),
            variants("payer_type"),
            variants("urgency"),
            variants("age_band"),
            pl.col("sex").str.to_lowercase(),
            pl.col("region").str.to_lowercase(),
        )
    if rtype == "opinions":
        flag = pl.col("diagnosis_changed")
        return df.with_columns(
            variants("recommendation"),
            pl.when(flag == "true")
            .then(pl.lit("TRUE"))
            .when(flag == "false")
            .then(pl.lit("False"))
            .otherwise(flag)
            .alias("diagnosis_changed"),
        )
    return df.with_columns((" " + pl.col("procedure_code") + " ").alias("procedure_code"))


def plan_counts(n_rows: int, fraction: float, reasons: list[str]) -> dict[str, int]:
    """How many rows each rule gets: the fraction of the file split evenly, at least one each."""
    total = math.ceil(fraction * n_rows)
    base, extra = divmod(total, len(reasons))
    counts = {r: max(1, base + (i < extra)) for i, r in enumerate(reasons)}
    for reason in counts:
        if ":identifier_" in reason:
            counts[reason] = min(counts[reason], IDENTIFIER_CAP)
    return counts


def inject(
    frames: dict[str, pl.DataFrame], fraction: float, seed: int
) -> tuple[dict[str, pl.DataFrame], dict[str, dict[str, int]]]:
    """Text frames with bad, duplicate and messy rows mixed in, and what was injected.

    Counts per record type: each quarantine reason, `duplicate` (exact repeats) and `messy`
    (valid rows with untidy enumerations, replaced in place). Every bad row breaks exactly one
    rule; `case_id:not_unique` rows follow the row whose id they repeat.
    """
    if not 0 < fraction < 1:
        raise ValueError("dirty fraction must be between 0 and 1 (exclusive)")
    text = {k: as_text(frames[k]) for k in ("cases", "opinions", "follow_ups")}
    ctx = Context(text, frames, seed)
    out: dict[str, pl.DataFrame] = {}
    injected: dict[str, dict[str, int]] = {}
    for rtype, rules in RULES.items():
        rng = stream(seed, f"dirty:{rtype}")
        clean = text[rtype]
        n = clean.height
        if n == 0:
            out[rtype], injected[rtype] = clean, {}
            continue
        counts = plan_counts(n, fraction, [*rules, "duplicate"])
        # Messy rows are chosen first and never serve as donors, so a repeat of a row is
        # always an exact copy of what the file holds for it.
        n_messy = min(max(1, math.ceil(fraction * n / len(counts))), n // 2)
        messy_idx = np.sort(rng.choice(n, size=n_messy, replace=False))
        donors = np.setdiff1d(np.arange(n), messy_idx)
        keyed = clean.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.Float64).alias("_key"))
        messy = _messy(rtype, clean.select(pl.all().gather(messy_idx)), rng)
        parts = [
            keyed.update(
                messy.with_columns(pl.Series("_key", messy_idx.astype(np.float64))),
                on="_key",
                include_nulls=True,
            )
        ]
        for reason, k in counts.items():
            donor = donors[rng.integers(0, donors.size, k)]
            rows = clean.select(pl.all().gather(donor))
            if reason != "duplicate":
                rows = rules[reason](rows, rng, ctx)
            if reason in AFTER_DONOR:
                key = donor + 0.5 + rng.random(k) * (n - donor - 0.5)
            else:
                key = rng.random(k) * n
            parts.append(rows.select(clean.columns).with_columns(pl.Series("_key", key)))
        out[rtype] = pl.concat(parts).sort("_key", maintain_order=True).drop("_key")
        injected[rtype] = {**counts, "messy": int(messy_idx.size)}
    return out, injected
