"""Synthetic landing data: cases, second opinions and follow-up claims with real structure.

Why it is built this way:
- Every chart and model downstream needs something true to find: outcome mixes per specialty
  taken from the literature (parameters.py), case features that genuinely move the chance of a
  changed plan, reviewers who differ, seasonality, a turnaround distribution, and claims that
  show surgery happening anyway after a "no". Each comes from an explicit parameter.
- The chance of a changed plan is a logistic model whose intercept is calibrated per specialty,
  so the published mix holds on average while age, urgency, payer, plan, region, diagnosis and
  reviewer shift individual cases. The kind of change is then raked per specialty, because
  some procedures cannot be de-escalated or escalated within the catalogue (a joint injection
  has nothing less invasive but conservative care).
- Everything is numpy/Polars over whole columns; 1M cases take seconds, and the same seed gives
  the same rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.generate import parameters as P
from pipelines.generate.clinical import (
    AGE_PROFILES,
    DIAGNOSTIC_FAMILIES,
    PAYER_BY_AGE,
    PLANS_PER_PAYER,
    RELATED,
    STATES,
    THERAPY_FAMILIES,
    URGENCY_PROFILES,
    ZIP3_SHARE,
    load_catalogue,
    scenario_frame,
)
from pipelines.generate.narratives import compose_narratives
from pipelines.generate.sampling import draw, draw_grouped, lognormal_days, pseudonyms, stream
from pipelines.lib.landing.contracts import load_contracts

DEFAULT_START = dt.date(2024, 11, 1)
RECOMMENDATIONS: tuple[str, ...] = (
    "proceed",
    "alternative_procedure",
    "conservative",
    "defer",
    "further_testing",
)
# The landing files' columns, in the contracts' order (data_contracts/, the one place they are written).
CASE_COLUMNS: tuple[str, ...] = tuple(load_contracts()["cases"].columns)
OPINION_COLUMNS: tuple[str, ...] = tuple(load_contracts()["opinions"].columns)
FOLLOW_UP_COLUMNS: tuple[str, ...] = tuple(load_contracts()["follow_ups"].columns)
ENROLLMENT_COLUMNS: tuple[str, ...] = tuple(load_contracts()["enrollment"].columns)
CONFIRMED, LESS, NON_SURGICAL, DEFERRED, MORE, ALTERNATIVE = range(6)
EPOCH = np.datetime64("1970-01-01", "D")


def window(start: dt.date, months: int) -> tuple[dt.date, dt.date]:
    """(first, last) referral date of a window of `months` months starting at `start`."""
    if months < 1:
        raise ValueError("months must be at least 1")
    total = start.month - 1 + months
    year, month = start.year + total // 12, total % 12 + 1
    end = dt.date(year, month, 1) + dt.timedelta(days=min(start.day, 28) - 1)
    return start, end - dt.timedelta(days=1)


@dataclass(frozen=True)
class Catalogue:
    """The reference catalogue as aligned arrays, plus the plan-code table derived from it."""

    code: np.ndarray
    specialty: np.ndarray
    family: np.ndarray
    tier: np.ndarray
    cost: np.ndarray
    plan_weights: np.ndarray  # (codes, outcomes, codes): plausible recommended code per outcome

    @classmethod
    def build(cls, frame: pl.DataFrame) -> Catalogue:
        code = frame["procedure_code"].to_numpy().astype(str)
        spec = frame["specialty"].to_numpy().astype(str)
        fam = frame["family"].to_numpy().astype(str)
        tier = frame["tier"].to_numpy().astype(np.int64)
        cost = frame["cost_usd"].to_numpy().astype(np.float64)
        return cls(code, spec, fam, tier, cost, _plan_weights(spec, fam, tier))

    def index(self, codes: np.ndarray) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.code)}
        return np.array([lookup[c] for c in codes], dtype=np.int64)


def _plan_weights(spec: np.ndarray, fam: np.ndarray, tier: np.ndarray) -> np.ndarray:
    """Weights of each catalogue code as the recommendation for (initial code, outcome).

    Loops run over the catalogue (about a hundred codes), never over cases. Rules mirror the
    DESIGN classification so a structured opinion classifies to its drawn outcome: confirmed ->
    the same code (or another code of the family at the same tier); less invasive -> a related
    family at a lower tier but above conservative care; more invasive -> a higher tier;
    alternative -> the same tier in another related family; non-surgical -> conservative care;
    deferred -> a work-up code (further testing), where the specialty has one.
    """
    n = spec.size
    w = np.zeros((n, len(P.OUTCOMES), n))
    therapy = np.isin(fam, list(THERAPY_FAMILIES))
    diagnostic = np.isin(fam, list(DIAGNOSTIC_FAMILIES))
    for i in range(n):
        same_spec = spec == spec[i]
        related = same_spec & (np.isin(fam, list(RELATED.get(fam[i], ()))) | (fam == fam[i]))
        same_family_tier = same_spec & (fam == fam[i]) & (tier == tier[i])
        w[i, CONFIRMED] = np.where(same_family_tier, 0.1, 0.0)
        w[i, CONFIRMED, i] = 0.9 if same_family_tier.sum() > 1 else 1.0
        # Same family lower tier (open -> laparoscopic) is the commonest de-escalation.
        w[i, LESS] = np.where(
            related & (tier >= 1) & (tier < tier[i]), np.where(fam == fam[i], 2.0, 1.0), 0.0
        )
        w[i, MORE] = np.where(related & (tier > tier[i]), 1.0, 0.0)
        w[i, ALTERNATIVE] = np.where(related & (tier == tier[i]) & (fam != fam[i]) & (tier >= 1), 1.0, 0.0)
        care = same_spec & (tier == 0) & therapy
        preferred = care & related
        w[i, NON_SURGICAL] = np.where(preferred, 1.0, 0.0) if preferred.any() else np.where(care, 1.0, 0.0)
        workup = same_spec & diagnostic & (tier <= 1) & (np.arange(n) != i)
        w[i, DEFERRED] = np.where(workup & related, 2.0, np.where(workup, 1.0, 0.0))
    return w


def _calibrate(effect: np.ndarray, group: np.ndarray, target: np.ndarray, iterations: int = 25) -> np.ndarray:
    """Per-group intercepts b with mean(sigmoid(b[g] + effect)) = target[g] (Newton steps)."""
    counts = np.maximum(np.bincount(group, minlength=target.size), 1)
    b = np.log(target / (1 - target))
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(b[group] + effect)))
        f = np.bincount(group, p, minlength=target.size) / counts - target
        d = np.bincount(group, p * (1 - p), minlength=target.size) / counts
        b -= f / np.maximum(d, 1e-9)
    return b


def _rake(counts: np.ndarray, feasible: np.ndarray, target: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Change-type mix per initial code so the specialty's marginal mix meets `target`.

    counts: changed cases per code; feasible: (codes, types) bool; target: (types,). Iterative
    proportional fitting of one scale per type; types no code can reach stay at zero.
    """
    scale = np.ones(target.size)
    total = max(counts.sum(), 1)
    mix = feasible * target
    for _ in range(iterations):
        mix = feasible * target * scale
        mix = mix / np.maximum(mix.sum(axis=1, keepdims=True), 1e-12)
        achieved = (counts[:, None] * mix).sum(axis=0) / total
        ok = achieved > 0
        scale[ok] *= target[ok] / achieved[ok]
    return mix


def _labels(names: list[str] | np.ndarray, index: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    """String column names[index], null where `null` is set or index < 0."""
    index = np.asarray(index)
    series = pl.Series(list(names), dtype=pl.String).gather(np.clip(index, 0, None))
    return _nulled(series, index < 0 if null is None else (index < 0) | null)


def _nulled(series: pl.Series, mask: np.ndarray) -> pl.Series:
    """`series` with nulls where `mask` is set."""
    if not mask.any():
        return series
    return (
        pl.select(pl.when(pl.lit(pl.Series(mask))).then(None).otherwise(series))
        .to_series()
        .alias(series.name)
    )


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series((EPOCH + days.astype("timedelta64[D]")).astype("datetime64[D]"))


def _ordinal(day: dt.date) -> int:
    return int((np.datetime64(day, "D") - EPOCH).astype(np.int64))


def _referral_days(n: int, first: int, last: int, rng: np.random.Generator) -> np.ndarray:
    """Referral days (epoch ordinals), seasonal by month and weekday, growing over time."""
    days = np.arange(first, last + 1)
    month = (days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)) % 12
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    weight = (
        np.asarray(P.MONTH_FACTOR)[month]
        * np.asarray(P.WEEKDAY_FACTOR)[weekday]
        * (1 + P.ANNUAL_GROWTH * (days - first) / 365.25)
    )
    return np.sort(days[draw(weight, n, rng)])


def _roots(n: int, rng: np.random.Generator) -> np.ndarray:
    """Each case's first case of the same patient (repeat referrals point back in time)."""
    idx = np.arange(n)
    repeat = rng.random(n) < P.REPEAT_CASE_SHARE
    repeat[:1] = False
    root = np.where(repeat, np.floor(rng.random(n) * idx).astype(np.int64), idx)
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt


def _weekday_shift(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Most opinions signed on a weekend are dated the next Monday."""
    weekday = (days + 3) % 7
    move = rng.random(days.size) < 0.85
    return days + np.where(move & (weekday == 5), 2, 0) + np.where(move & (weekday == 6), 1, 0)


@dataclass(frozen=True)
class World:
    """Fixtures every case draws from: scenarios, reviewers, plans and regions (seeded)."""

    cat: Catalogue
    scen: pl.DataFrame
    scen_spec: np.ndarray
    scen_code: np.ndarray
    scen_probs: np.ndarray  # (specialties, scenarios)
    reviewer_shift: np.ndarray
    reviewer_speed: np.ndarray
    reviewer_probs: np.ndarray  # (specialties, reviewers)
    reviewer_ids: np.ndarray
    plan_probs: np.ndarray  # (payer types, plans)
    plan_effect: np.ndarray
    plan_ids: np.ndarray
    state_weight: np.ndarray
    state_effect: np.ndarray
    zip_count: np.ndarray
    zip_offset: np.ndarray
    region_names: list[str]


def _world(cat: Catalogue, seed: int) -> World:
    rng = stream(seed, "world")
    scen = scenario_frame(pl.DataFrame({"procedure_code": cat.code, "family": cat.family, "tier": cat.tier}))
    spec_names = list(P.SPECIALTIES)
    scen_spec = np.array([spec_names.index(s) for s in scen["specialty"]])
    scen_probs = np.zeros((len(spec_names), scen.height))
    scen_probs[scen_spec, np.arange(scen.height)] = scen["weight"].to_numpy()

    low, high = P.REVIEWERS_PER_SPECIALTY
    r_spec = np.repeat(np.arange(len(spec_names)), rng.integers(low, high + 1, len(spec_names)))
    r_volume = rng.lognormal(0.0, 0.6, r_spec.size)
    r_kind = rng.random(r_spec.size)
    r_shift = (
        rng.normal(0.0, P.REVIEWER_SD, r_spec.size)
        + np.where(r_kind < P.REVIEWER_HIGH[0], P.REVIEWER_HIGH[1], 0.0)
        + np.where(r_kind > 1 - P.REVIEWER_LOW[0], P.REVIEWER_LOW[1], 0.0)
    )
    r_speed = rng.lognormal(0.0, P.REVIEWER_SPEED_SD, r_spec.size)
    rev_probs = np.zeros((len(spec_names), r_spec.size))
    rev_probs[r_spec, np.arange(r_spec.size)] = r_volume

    plan_payer = np.repeat(np.arange(len(P.PAYERS)), [PLANS_PER_PAYER[p] for p in P.PAYERS])
    plan_rank = np.concatenate([np.arange(PLANS_PER_PAYER[p]) for p in P.PAYERS])
    plan_probs = np.zeros((len(P.PAYERS), plan_payer.size))
    plan_probs[plan_payer, np.arange(plan_payer.size)] = 1.0 / (plan_rank + 1.0) ** 0.8  # a few large plans
    plan_effect = rng.normal(0.0, P.PLAN_EFFECT_SD, plan_payer.size)

    state_names = list(STATES)
    state_effect = rng.normal(0.0, P.REGION_EFFECT_SD, len(state_names))
    zip_lists = [STATES[s][1] for s in state_names]
    zip_count = np.array([len(z) for z in zip_lists])
    return World(
        cat=cat,
        scen=scen,
        scen_spec=scen_spec,
        scen_code=cat.index(scen["initial_procedure_code"].to_numpy()),
        scen_probs=scen_probs,
        reviewer_shift=r_shift,
        reviewer_speed=r_speed,
        reviewer_probs=rev_probs,
        reviewer_ids=pseudonyms(np.arange(r_spec.size), "RV", seed * 7 + 5, width=6),
        plan_probs=plan_probs,
        plan_effect=plan_effect,
        plan_ids=pseudonyms(np.arange(plan_payer.size), "PL", seed * 7 + 4, width=5),
        state_weight=np.array([STATES[s][0] for s in state_names]),
        state_effect=state_effect,
        zip_count=zip_count,
        zip_offset=np.concatenate([[0], np.cumsum(zip_count)[:-1]]),
        region_names=state_names + [z for zs in zip_lists for z in zs],
    )


@dataclass(frozen=True)
class Cases:
    """Per-case draws as index arrays (into the World's and parameters' label lists)."""

    ref_day: np.ndarray
    root: np.ndarray  # the patient's first case
    scenario: np.ndarray
    spec: np.ndarray
    code: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    payer: np.ndarray
    plan: np.ndarray
    state: np.ndarray
    region: np.ndarray
    urgency: np.ndarray
    missing: dict[str, np.ndarray]


def _draw_cases(n: int, seed: int, first: int, last: int, w: World) -> Cases:
    """Referrals in date order; a repeat referral copies its patient's first case."""
    rng = stream(seed, "cases")
    spec_names = list(P.SPECIALTIES)
    profiles = list(AGE_PROFILES)
    urgency_profiles = list(URGENCY_PROFILES)
    ref_day = _referral_days(n, first, last, rng)
    root = _roots(n, rng)
    spec = draw(np.array([P.SPECIALTY_SHARE[s] for s in spec_names]), n, rng)[root]
    sc = draw_grouped(spec, w.scen_probs, rng)[root]
    scen_age = np.array([profiles.index(p) for p in w.scen["age_profile"]])
    age = draw_grouped(scen_age[sc], np.array([AGE_PROFILES[p] for p in profiles]), rng)[root]
    u = rng.random(n)
    sex = np.where(rng.random(n) < w.scen["p_female"].to_numpy()[sc], 0, 1)  # F, M
    sex = np.where(u < 0.01, 3, np.where(u < 0.013, 2, sex))[root]  # U, X
    payer = draw_grouped(age, np.array(PAYER_BY_AGE), rng)[root]
    has_plan = np.array([PLANS_PER_PAYER[p] > 0 for p in P.PAYERS])[payer]
    plan = np.where(has_plan, draw_grouped(payer, w.plan_probs, rng), -1)[root]
    state = draw(w.state_weight, n, rng)[root]
    zip_pick = w.zip_offset[state] + np.floor(rng.random(n) * w.zip_count[state]).astype(np.int64)
    region = np.where(rng.random(n) < ZIP3_SHARE, w.state_weight.size + zip_pick, state)[root]
    scen_urgency = np.array([urgency_profiles.index(p) for p in w.scen["urgency_profile"]])
    urgency = draw_grouped(scen_urgency[sc], np.array([URGENCY_PROFILES[p] for p in urgency_profiles]), rng)
    missing = {f: rng.random(n) < p for f, p in P.MISSING.items()}
    return Cases(
        ref_day,
        root,
        sc,
        w.scen_spec[sc],
        w.scen_code[sc],
        age,
        sex,
        payer,
        plan,
        state,
        region,
        urgency,
        missing,
    )


@dataclass(frozen=True)
class Outcomes:
    reviewer: np.ndarray
    p_change: np.ndarray
    outcome: np.ndarray  # index into P.OUTCOMES
    plan_code: np.ndarray  # catalogue index of the recommended plan, -1 for none


def _draw_outcomes(n: int, seed: int, w: World, c: Cases) -> Outcomes:
    """Reviewer, chance of a changed plan, the outcome, and the plan's procedure code."""
    rng = stream(seed, "outcomes")
    spec_names = list(P.SPECIALTIES)
    reviewer = draw_grouped(c.spec, w.reviewer_probs, rng)
    effect = (
        w.scen["effect"].to_numpy()[c.scenario]
        + np.asarray(P.AGE_EFFECT)[c.age]
        + np.array([P.URGENCY_EFFECT[x] for x in P.URGENCY])[c.urgency]
        + np.array([P.PAYER_EFFECT[x] for x in P.PAYERS])[c.payer]
        + np.where(c.plan >= 0, w.plan_effect[np.maximum(c.plan, 0)], 0.0)
        + w.state_effect[c.state]
        + w.reviewer_shift[reviewer]
    )
    target = np.array([1.0 - P.OUTCOME_MIX[s]["confirmed"] for s in spec_names])
    intercept = _calibrate(effect, c.spec, target)
    p_change = 1.0 / (1.0 + np.exp(-(intercept[c.spec] + effect)))
    changed = rng.random(n) < p_change

    cat = w.cat
    n_codes = cat.code.size
    feasible = cat.plan_weights[:, 1:, :].sum(axis=2) > 0
    feasible[:, NON_SURGICAL - 1] = True
    feasible[:, DEFERRED - 1] = True
    type_mix = np.zeros((n_codes, len(P.CHANGE_TYPES)))
    changed_per_code = np.bincount(c.code[changed], minlength=n_codes).astype(np.float64)
    for s_name in spec_names:
        rows = np.flatnonzero(cat.specialty == s_name)
        tgt = np.array([P.OUTCOME_MIX[s_name][k] for k in P.CHANGE_TYPES])
        type_mix[rows] = _rake(changed_per_code[rows], feasible[rows], tgt / tgt.sum())
    type_mix[type_mix.sum(axis=1) == 0, NON_SURGICAL - 1] = 1.0
    outcome = np.where(changed, 1 + draw_grouped(c.code, type_mix, rng), CONFIRMED)

    flat = cat.plan_weights.reshape(n_codes * len(P.OUTCOMES), n_codes)
    pair = c.code * len(P.OUTCOMES) + outcome
    plan_code = np.where(flat.sum(axis=1)[pair] > 0, draw_grouped(pair, flat, rng), -1)
    return Outcomes(reviewer, p_change, outcome, plan_code)


def _draw_opinion_days(
    n: int, seed: int, last: int, w: World, c: Cases, o: Outcomes
) -> tuple[np.ndarray, np.ndarray]:
    """Opinion day per case, and whether the opinion exists by the extract date."""
    rng = stream(seed, "turnaround")
    median = (
        np.array([P.TURNAROUND_MEDIAN_DAYS[s] for s in P.SPECIALTIES])[c.spec]
        * np.array([P.TURNAROUND_URGENCY[x] for x in P.URGENCY])[c.urgency]
        * w.reviewer_speed[o.reviewer]
    )
    op_day = _weekday_shift(c.ref_day + np.clip(lognormal_days(median, P.TURNAROUND_SIGMA, rng), 0, 180), rng)
    return op_day, (op_day <= last) & (rng.random(n) >= P.NEVER_ANSWERED)


def _structured_fields(
    out: np.ndarray, plan: np.ndarray, structured: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Recommendation index (-1 none) and whether the plan's code is written, per opinion.

    Each form classifies to `out` under the DESIGN rules: confirmed as proceed and/or the code;
    a changed procedure as the code (with alternative_procedure or alone); non-surgical as
    conservative and/or a conservative-care code; deferred as defer or further_testing.
    """
    m = out.size
    u = rng.random(m)
    rec = np.full(m, -1)
    put_code = np.zeros(m, dtype=bool)
    conf = out == CONFIRMED
    rec[conf & (u < 0.8)] = 0
    put_code |= conf & ((u < 0.55) | (u >= 0.8))
    change_code = np.isin(out, [LESS, MORE, ALTERNATIVE])
    rec[change_code & (u < 0.75)] = 1
    put_code |= change_code
    ns = out == NON_SURGICAL
    rec[ns & ((u < 0.85) | (plan < 0))] = 2
    put_code |= ns & (plan >= 0) & ((u < 0.40) | (u >= 0.85))
    de = out == DEFERRED
    further = rng.random(m) < 0.55
    rec[de] = np.where(further[de], 4, 3)
    put_code |= de & further & (plan >= 0) & (u < 0.35)
    return np.where(structured, rec, -1), put_code & structured & (plan >= 0)


@dataclass(frozen=True)
class Opinions:
    frame: pl.DataFrame
    index: np.ndarray  # case index of each (latest) opinion
    signal: np.ndarray  # 0 structured, 1 both, 2 narrative only
    unlisted: np.ndarray


def _opinions(
    seed: int,
    last: int,
    w: World,
    c: Cases,
    o: Outcomes,
    op_day: np.ndarray,
    has_op: np.ndarray,
    case_ids: np.ndarray,
) -> Opinions:
    """One opinion per answered case, plus the earlier versions of corrected opinions."""
    rng = stream(seed, "opinions")
    cat = w.cat
    oi = np.flatnonzero(has_op)
    m = oi.size
    out, plan, spec = o.outcome[oi], o.plan_code[oi], c.spec[oi]
    signal = draw(np.array([P.SIGNAL_SHARE[k] for k in ("structured", "both", "narrative")]), m, rng)
    unlisted = rng.random(m) < P.UNLISTED_CODE_RATE
    signal = np.where(unlisted, 0, signal)
    rec, put_code = _structured_fields(out, plan, (signal < 2) & ~unlisted, rng)
    code_text = np.where(put_code, cat.code[np.maximum(plan, 0)], "")
    code_text = np.where(unlisted, np.array([P.UNLISTED_CODES[s] for s in P.SPECIALTIES])[spec], code_text)

    diag_base = np.array([P.DIAGNOSIS_CHANGED[s] for s in P.SPECIALTIES])[spec]
    diag = rng.random(m) < np.minimum(diag_base * np.where(out == CONFIRMED, 0.5, 1.5), 0.95)
    diag_missing = rng.random(m) >= 0.75

    narrated = signal >= 1
    text = np.full(m, None, dtype=object)
    if narrated.any():
        rec_family = np.where(plan >= 0, cat.family[np.maximum(plan, 0)], "")
        rec_tier = np.where(plan >= 0, cat.tier[np.maximum(plan, 0)], -1)
        text[narrated] = compose_narratives(
            np.array(P.OUTCOMES)[out[narrated]],
            np.array(P.SPECIALTIES)[spec[narrated]],
            cat.family[c.code[oi][narrated]],
            rec_family[narrated],
            stream(seed, "narratives"),
            initial_tier=cat.tier[c.code[oi][narrated]],
            recommended_tier=rec_tier[narrated],
        )

    seconds = (8 * 3600 + rng.integers(0, 10 * 3600, m)).astype("timedelta64[s]")
    updated = (EPOCH + op_day[oi].astype("timedelta64[D]")).astype("datetime64[s]") + seconds
    correct = (rng.random(m) < P.CORRECTION_RATE) & (op_day[oi] + 15 <= last) & ~unlisted
    updated_missing = (rng.random(m) < P.UPDATED_AT_MISSING) & ~correct
    delay = rng.integers(1, 15, m).astype("timedelta64[D]")
    final_updated = np.where(correct, updated + delay, updated)

    frame = pl.DataFrame(
        {
            "opinion_id": pseudonyms(oi, "OP", seed * 7 + 3),
            "case_id": case_ids[oi],
            "reviewer_id": w.reviewer_ids[o.reviewer[oi]],
            "opinion_date": _dates(op_day[oi]),
            "recommendation": _labels(RECOMMENDATIONS, rec),
            "recommended_procedure_code": pl.Series(code_text).replace("", None),
            "diagnosis_changed": _nulled(pl.Series(diag), diag_missing),
            "summary_text": pl.Series(text.tolist(), dtype=pl.String),
            "updated_at": _nulled(pl.Series(final_updated.astype("datetime64[us]")), updated_missing),
        }
    )
    # Corrections: the earlier version said something else; the later updated_at carries the truth.
    ci = np.flatnonzero(correct)
    earlier_rec = np.where(out[ci] == CONFIRMED, np.where(rng.random(ci.size) < 0.5, 4, 2), 0)
    earlier = frame.select(pl.all().gather(ci)).with_columns(
        recommendation=_labels(RECOMMENDATIONS, earlier_rec),
        recommended_procedure_code=_labels(cat.code, np.where(earlier_rec == 0, c.code[oi][ci], -1)),
        summary_text=pl.lit(None, dtype=pl.String),
        updated_at=pl.Series(updated[ci].astype("datetime64[us]")),
    )
    frame = (
        pl.concat([frame, earlier])
        .with_columns(
            pl.coalesce(pl.col("updated_at"), pl.col("opinion_date").cast(pl.Datetime("us"))).alias("_k")
        )
        .sort("_k", "opinion_id", maintain_order=True)
        .select(OPINION_COLUMNS)
    )
    return Opinions(frame, oi, signal, unlisted)


def _cases_frame(seed: int, w: World, c: Cases, case_ids: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "case_id": case_ids,
            "patient_key": pseudonyms(c.root, "P", seed * 7 + 2),
            "specialty": _labels(P.SPECIALTIES, c.spec),
            "referral_date": _dates(c.ref_day),
            "age_band": _labels(P.AGE_BANDS, c.age, c.missing["age_band"]),
            "sex": _labels(["F", "M", "X", "U"], c.sex, c.missing["sex"]),
            "region": _labels(w.region_names, c.region, c.missing["region"]),
            "payer_type": _labels(P.PAYERS, c.payer, c.missing["payer_type"]),
            "plan_id": _labels(w.plan_ids, c.plan, c.missing["plan_id"]),
            "diagnosis_code": _labels(
                w.scen["diagnosis_code"].to_list(), c.scenario, c.missing["diagnosis_code"]
            ),
            "initial_procedure_code": _labels(w.cat.code, c.code),
            "urgency": _labels(P.URGENCY, c.urgency, c.missing["urgency"]),
        }
    )


def _truth_frame(
    w: World, o: Outcomes, ops: Opinions, case_ids: np.ndarray, leaked: np.ndarray
) -> pl.DataFrame:
    """What the data was drawn from: for tests and model evaluation, never written to landing."""
    n = case_ids.size
    names = np.array(P.OUTCOMES, dtype=object)
    outcome = np.full(n, "pending", dtype=object)
    outcome[ops.index] = names[o.outcome[ops.index]]
    expected = np.full(n, None, dtype=object)
    rule_outcome = np.where(ops.signal == 2, None, names[o.outcome[ops.index]])
    expected[ops.index] = np.where(ops.unlisted, "unclassified", rule_outcome)
    signal = np.full(n, "none", dtype=object)
    signal[ops.index] = np.array(["structured", "both", "narrative"], dtype=object)[ops.signal]
    return pl.DataFrame(
        {
            "case_id": case_ids,
            "outcome": pl.Series(outcome.tolist(), dtype=pl.String),
            "expected_outcome": pl.Series(expected.tolist(), dtype=pl.String),
            "signal": pl.Series(signal.tolist(), dtype=pl.String),
            "change_probability": o.p_change,
            "reviewer_id": w.reviewer_ids[o.reviewer],
            "reviewer_shift": w.reviewer_shift[o.reviewer],
            "plan_code": _labels(w.cat.code, o.plan_code),
            "leaked_12m": leaked,
        }
    )


def generate_frames(
    n_cases: int,
    seed: int,
    *,
    start: dt.date | None = None,
    months: int = 24,
    with_truth: bool = False,
    catalogue: pl.DataFrame | None = None,
    enrollment: bool = False,
) -> dict[str, pl.DataFrame]:
    """Clean `cases`, `opinions` and `follow_ups` frames in the input contract's columns.

    The claims world has a known baseline completion (CLAIM_PROBABILITY['confirmed']), leakage
    per specialty and outcome (LEAKAGE_12M), claims run-out (a lag before a claim is in the
    extract) and coverage that ends for some patients (their later claims are absent).
    `enrollment=True` adds an `enrollment` frame: one coverage period per patient.

    Types: strings for enums and codes, `Date` for dates, `Datetime` for updated_at, `Boolean`
    for diagnosis_changed, `Float64` for allowed_amount. Referrals span `months` months from
    `start`; the extract is as of the window's last day, so recent referrals are still pending.
    `with_truth=True` adds a `truth` frame (case_id, outcome, expected_outcome, signal,
    change_probability, reviewer_id, reviewer_shift, plan_code, leaked_12m) for tests and model
    evaluation; `expected_outcome` is what the DESIGN rules give from the structured fields
    (null for narrative-only opinions).
    """
    if n_cases < 1:
        raise ValueError("n_cases must be at least 1")
    first_day, last_day = window(start or DEFAULT_START, months)
    first, last = _ordinal(first_day), _ordinal(last_day)
    world = _world(Catalogue.build(load_catalogue() if catalogue is None else catalogue), seed)
    cases = _draw_cases(n_cases, seed, first, last, world)
    outcomes = _draw_outcomes(n_cases, seed, world, cases)
    op_day, has_op = _draw_opinion_days(n_cases, seed, last, world, cases, outcomes)
    case_ids = pseudonyms(np.arange(n_cases), "C", seed * 7 + 1)
    ops = _opinions(seed, last, world, cases, outcomes, op_day, has_op, case_ids)
    cover_from, cover_to = _coverage(seed, cases)
    follow_ups, leaked = _follow_ups(
        seed, last, world.cat, cases, outcomes, ops.index, op_day, case_ids, cover_to[cases.root]
    )
    frames = {
        "cases": _cases_frame(seed, world, cases, case_ids).select(CASE_COLUMNS),
        "opinions": ops.frame.select(OPINION_COLUMNS),
        "follow_ups": follow_ups.select(FOLLOW_UP_COLUMNS),
    }
    if enrollment:
        frames["enrollment"] = _enrollment_frame(seed, cases, cover_from, cover_to)
    if with_truth:
        frames["truth"] = _truth_frame(world, outcomes, ops, case_ids, leaked)
    return frames


def _coverage(seed: int, c: Cases) -> tuple[np.ndarray, np.ndarray]:
    """Per case index (read at each patient's first case): first and last covered day (last: huge when open)."""
    rng = stream(seed, "coverage")
    n = c.ref_day.size
    low, high = P.COVERAGE_BEFORE_DAYS
    start = c.ref_day - rng.integers(low, high, n)
    low, high = P.COVERAGE_AFTER_DAYS
    leaves = rng.random(n) < P.COVERAGE_CHURN
    end = np.where(leaves, c.ref_day + rng.integers(low, high, n), np.iinfo(np.int64).max)
    return start, end


def _enrollment_frame(seed: int, c: Cases, start: np.ndarray, end: np.ndarray) -> pl.DataFrame:
    """One coverage period per patient (their first case's), in the enrollment contract's columns."""
    roots = np.unique(c.root)
    ends = end[roots]
    open_ended = ends == np.iinfo(np.int64).max
    return pl.DataFrame(
        {
            "patient_key": pseudonyms(roots, "P", seed * 7 + 2),
            "covered_from": _dates(start[roots]),
            "covered_to": _nulled(_dates(np.where(open_ended, 0, ends)), open_ended),
        }
    ).select(ENROLLMENT_COLUMNS)


def _follow_ups(
    seed: int,
    last: int,
    cat: Catalogue,
    c: Cases,
    o: Outcomes,
    oi: np.ndarray,
    op_day: np.ndarray,
    case_ids: np.ndarray,
    covered_to: np.ndarray,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Claims after the opinion: the recommended plan, leaked surgery, unrelated care.

    A claim is in the extract only once its run-out lag has passed by the extract date, and
    only while the patient is covered (`covered_to`, per case). Returns the frame and, per
    case, whether the initial procedure was done within 12 months (billed or not).
    """
    rng = stream(seed, "follow_ups")
    out = o.outcome[oi]
    plan = o.plan_code[oi]
    initial = c.code[oi]
    day0 = op_day[oi]
    # 1. The recommended plan, when the patient follows it.
    p_claim = np.array([P.CLAIM_PROBABILITY[k] for k in P.OUTCOMES])[out]
    urgency_speed = np.array([1.0, 0.4, 0.1])[c.urgency[oi]]
    med = np.array([P.CLAIM_DELAY_MEDIAN[k] for k in P.OUTCOMES])[out] * urgency_speed
    plan_day = day0 + np.maximum(lognormal_days(med, 0.7, rng), 0)
    take_plan = (rng.random(oi.size) < p_claim) & (plan >= 0)
    # 2. Leakage: the initial procedure anyway, within 12 months or later.
    leak_table = np.zeros((len(P.SPECIALTIES), len(P.OUTCOMES)))
    for s_idx, s_name in enumerate(P.SPECIALTIES):
        for o_name, rate in P.LEAKAGE_12M[s_name].items():
            leak_table[s_idx, P.OUTCOMES.index(o_name)] = rate
    p12 = leak_table[c.spec[oi], out]
    u = rng.random(oi.size)
    leak12 = u < p12
    late = ~leak12 & (u < p12 * (1 + P.LATE_LEAK_RATIO))
    leak_day = day0 + np.where(leak12, rng.integers(14, 366, oi.size), rng.integers(366, 731, oi.size))
    take_leak = leak12 | late
    # 3. Unrelated care (office visits, labs, imaging) that must not count as leakage.
    take_other = rng.random(oi.size) < P.UNRELATED_CLAIM_RATE
    other_codes = np.array(list(P.UNRELATED_CODES))
    other_pick = rng.integers(0, other_codes.size, oi.size)
    other_day = day0 + rng.integers(0, 366, oi.size)

    case_idx = np.concatenate([oi[take_plan], oi[take_leak], oi[take_other]])
    codes = np.concatenate(
        [cat.code[plan[take_plan]], cat.code[initial[take_leak]], other_codes[other_pick[take_other]]]
    )
    base = np.concatenate(
        [
            cat.cost[plan[take_plan]],
            cat.cost[initial[take_leak]],
            np.array(list(P.UNRELATED_CODES.values()))[other_pick[take_other]],
        ]
    )
    days = np.concatenate([plan_day[take_plan], leak_day[take_leak], other_day[take_other]])
    lag = lognormal_days(np.full(days.size, P.CLAIM_LAG_MEDIAN_DAYS), P.CLAIM_LAG_SIGMA, rng)
    keep = (days + np.maximum(lag, 0) <= last) & (days <= covered_to[case_idx])
    case_idx, codes, base, days = case_idx[keep], codes[keep], base[keep], days[keep]
    factor = np.array([P.PAYER_PRICE_FACTOR[p] for p in P.PAYERS])[c.payer[case_idx]]
    amount = np.round(base * factor * np.exp(rng.normal(0.0, P.ALLOWED_NOISE_SD, case_idx.size)), 2)
    amount_missing = rng.random(case_idx.size) < P.ALLOWED_MISSING
    frame = (
        pl.DataFrame(
            {
                "case_id": case_ids[case_idx],
                "procedure_code": codes,
                "service_date": _dates(days),
                "allowed_amount": _nulled(pl.Series(amount), amount_missing),
                "_order": np.arange(case_idx.size),
            }
        )
        .sort("service_date", "_order")
        .drop("_order")
    )
    leaked = np.zeros(o.outcome.size, dtype=bool)
    leaked[oi[leak12 & (leak_day <= last)]] = True
    return frame, leaked
