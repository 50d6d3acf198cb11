"""Literature-driven parameters of the synthetic landing data, each with the figure behind it.

Why a module of its own: every chart and model downstream shows structure that comes from here,
so a reader must be able to trace a generated rate back to a published figure (or see plainly
that it is our assumption). References are to docs/sources.md (its keys, or the authors
with source and year). Figures marked "assumption" have no published basis there.
"""

from __future__ import annotations

from pipelines.lib.vocabulary import REVIEW_OUTCOMES
from pipelines.lib.vocabulary import SPECIALTIES as CONTRACT_SPECIALTIES

SPECIALTIES: tuple[str, ...] = CONTRACT_SPECIALTIES  # written once, in data_contracts/cases.yaml

OUTCOMES: tuple[str, ...] = REVIEW_OUTCOMES  # written once, in pipelines/outcomes.py
CHANGE_TYPES: tuple[str, ...] = OUTCOMES[1:]

# Share of referrals by specialty. Assumption, shaped by docs/sources.md: spine is the specialty
# with the most second-opinion data and ~40.6% of spine consultations are second opinions
# (Gattas 2021, §1.2 #16); employer programmes target back, hip and knee surgery (2nd.MD case
# study, §1.3 #21; Walmart COE, §1.2 #17), so musculoskeletal cases lead.
SPECIALTY_SHARE: dict[str, float] = {
    "spine": 0.24,
    "orthopedics": 0.22,
    "cardiology": 0.14,
    "oncology": 0.13,
    "general_surgery": 0.10,
    "gynecology": 0.09,
    "urology": 0.08,
}

# Outcome mix of a completed second opinion, per specialty (rows sum to 1). The generator hits
# these marginals per specialty; features, reviewers and procedures move individual cases.
OUTCOME_MIX: dict[str, dict[str, float]] = {
    # Lenza 2017 (§1.2 #7): same surgery 15.5%, conservative 55.3%, no spinal diagnosis 11.1%,
    # other surgery 18.1%; Einstein 2023 (§1.2 #8): conservative 60.8%, injection 4.5%, surgery
    # 34.7%; Epstein 2013 (§1.2 #5): unnecessary 60.7%, overly extensive 33.3%, right 6%.
    "spine": {
        "confirmed": 0.16,
        "less_invasive": 0.17,
        "non_surgical": 0.55,
        "deferred": 0.07,
        "more_invasive": 0.02,
        "alternative": 0.03,
    },
    # Bavarian TKA programme 2021 (§1.3 #19): TKA 40% / later TKA if worse 40% / no TKA 20%;
    # the injection share reflects the BMJ 2017 recommendation against arthroscopy (§1.3 #20)
    # and 2nd.MD's 25% of surgeries cancelled (§1.3 #21, vendor).
    "orthopedics": {
        "confirmed": 0.40,
        "less_invasive": 0.08,
        "non_surgical": 0.20,
        "deferred": 0.28,
        "more_invasive": 0.02,
        "alternative": 0.02,
    },
    # Graboys 1992 (§1.4 #23): angiography not needed 80%, deferred 16%, done ~4%; Tsang 2020
    # (§1.4 #24): heart team disagreed in 30% (45% of PCI); Veljkovic (§1.4 #26): CABG -> PCI
    # 4.86%. Blended: about half confirmed.
    "cardiology": {
        "confirmed": 0.50,
        "less_invasive": 0.10,
        "non_surgical": 0.22,
        "deferred": 0.10,
        "more_invasive": 0.05,
        "alternative": 0.03,
    },
    # Tumour boards: U Michigan 2006 52% changed surgical recommendation (§1.5 #40); breast
    # pathology review altered surgery in 7.8% (§1.5 #41); Garcia 2018 additional cancers 22.8%
    # (§1.5 #39) drives the more-invasive share. Blended: 38% changed. No alternative: the
    # catalogue has no same-tier procedure in a related family for these cancers.
    "oncology": {
        "confirmed": 0.62,
        "less_invasive": 0.15,
        "non_surgical": 0.06,
        "deferred": 0.09,
        "more_invasive": 0.08,
        "alternative": 0.0,
    },
    # Grafe 1978 (§1.8 #61): general surgery 18% not confirmed; JAMA 1979 (§1.8 #62): only a third
    # of non-confirmations (8 of 25 points) were firm rejections, the rest deferrals/alternatives.
    # No alternative: no same-tier procedure in a related family in the catalogue.
    "general_surgery": {
        "confirmed": 0.80,
        "less_invasive": 0.06,
        "non_surgical": 0.07,
        "deferred": 0.06,
        "more_invasive": 0.01,
        "alternative": 0.0,
    },
    # Grafe 1978 (§1.8 #61): gynaecology among the highest non-confirmation (overall 27.6%);
    # JACS 1997 (§1.8 #63): gynaecology 22% not confirmed.
    "gynecology": {
        "confirmed": 0.72,
        "less_invasive": 0.10,
        "non_surgical": 0.08,
        "deferred": 0.07,
        "more_invasive": 0.01,
        "alternative": 0.02,
    },
    # Grafe 1978 overall 27.6% not confirmed (§1.8 #61); Chan & Epstein 2005 (§1.5 #34): prostate
    # biopsy diagnosis changed in 35.2%, so active surveillance (non-surgical) leads the changes.
    "urology": {
        "confirmed": 0.72,
        "less_invasive": 0.07,
        "non_surgical": 0.11,
        "deferred": 0.07,
        "more_invasive": 0.01,
        "alternative": 0.02,
    },
}

# Change-propensity effects (log-odds of "plan changed"). Assumptions chosen so a propensity
# model has real signal; their direction follows the literature where it speaks.
URGENCY: tuple[str, ...] = ("elective", "urgent", "emergent")
URGENCY_EFFECT: dict[str, float] = {"elective": 0.0, "urgent": -0.8, "emergent": -2.0}
AGE_BANDS: tuple[str, ...] = ("0-17", "18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80-89", "90+")
# Older patients are more often steered to conservative care or deferral (assumption).
AGE_EFFECT: tuple[float, ...] = (-0.2, -0.3, -0.2, 0.0, 0.0, 0.1, 0.3, 0.5, 0.7)
PAYERS: tuple[str, ...] = ("commercial", "medicare", "medicaid", "self_pay", "other")
PAYER_EFFECT: dict[str, float] = {
    "commercial": 0.0,
    "medicare": 0.1,
    "medicaid": 0.25,
    "self_pay": -0.3,
    "other": 0.0,
}
# Spread of per-state and per-plan log-odds shifts (regional practice variation; assumption).
REGION_EFFECT_SD = 0.3
PLAN_EFFECT_SD = 0.25

# Reviewers: 15-40 per specialty; log-odds shift N(0, REVIEWER_SD), plus a minority who change
# plans far more (or less) often, so funnel plots have real outliers (assumption).
REVIEWERS_PER_SPECIALTY = (15, 40)
# Most reviewers sit inside a funnel plot's limits; the outliers are what the chart is for.
REVIEWER_SD = 0.2
REVIEWER_HIGH = (0.10, 1.0)  # (share of reviewers, extra log-odds)
REVIEWER_LOW = (0.05, -0.8)

# Diagnosis changed at review: Lenza 2017 spine 59.8% (§1.2 #7); Meyer 2015 multispecialty
# 14.8% (§1.1 #2); Mayo 2017 21% (§1.1 #1); Garcia 2018 breast 42.8% and Chan & Epstein 2005
# prostate 35.2% (§1.5). Base rate; changed plans carry it more often than confirmed ones.
DIAGNOSIS_CHANGED: dict[str, float] = {
    "spine": 0.55,
    "orthopedics": 0.2,
    "cardiology": 0.18,
    "oncology": 0.3,
    "general_surgery": 0.15,
    "gynecology": 0.18,
    "urology": 0.3,
}

# Turnaround, calendar days from referral to opinion: lognormal with these medians.
# Cleveland Clinic MyConsult: written opinion in 5-7 working days (§1.7 #52, ~7-9 calendar days);
# 2nd.MD: consult within 1.53 days on average for MSK (§1.3 #21, vendor). Specialty medians sit
# between the two; oncology is quicker because treatment is waiting (assumption).
TURNAROUND_MEDIAN_DAYS: dict[str, float] = {
    "spine": 6.0,
    "orthopedics": 3.5,
    "cardiology": 6.0,
    "oncology": 5.0,
    "general_surgery": 7.0,
    "gynecology": 8.0,
    "urology": 7.0,
}
TURNAROUND_SIGMA = 0.6
TURNAROUND_URGENCY: dict[str, float] = {"elective": 1.0, "urgent": 0.6, "emergent": 0.3}
REVIEWER_SPEED_SD = 0.3  # per-reviewer lognormal multiplier on turnaround (assumption)
NEVER_ANSWERED = 0.004  # referrals withdrawn before any opinion (assumption)

# Leakage: probability of a claim for the initial procedure within 12 months of the opinion,
# by specialty and outcome. JACS 1997 (§1.8 #63): 38% of non-confirmed patients had surgery
# within 2 years; Schmerz 2023 (§1.2 #10): 18% spine surgery at ~2 years; COURAGE high-risk
# subset (§1.4 #31): 30% of OMT-only crossed over in year 1; deferral leaks more than a firm
# "no" (JAMA 1979, §1.8 #62; Ferreira 2022, §1.2 #15).
LEAKAGE_12M: dict[str, dict[str, float]] = {
    "spine": {"non_surgical": 0.12, "deferred": 0.25, "less_invasive": 0.08},
    "orthopedics": {"non_surgical": 0.15, "deferred": 0.30, "less_invasive": 0.15},
    "cardiology": {"non_surgical": 0.22, "deferred": 0.30, "less_invasive": 0.10},
    "oncology": {"non_surgical": 0.20, "deferred": 0.35, "less_invasive": 0.08},
    "general_surgery": {"non_surgical": 0.20, "deferred": 0.30, "less_invasive": 0.10},
    "gynecology": {"non_surgical": 0.20, "deferred": 0.30, "less_invasive": 0.10},
    "urology": {"non_surgical": 0.20, "deferred": 0.30, "less_invasive": 0.10},
}
# Leaks in months 13-24 relative to those within 12 months, so the 2-year rate is ~1.35x the
# 1-year rate (about JACS 1997's 38% at 2 years for the deferral-heavy mix; assumption).
LATE_LEAK_RATIO = 0.35
# Adherence: share of recommended plans that show up as a claim. Meyer 2015 (§1.1 #2): only
# 61.2% planned to follow the recommendation; confirmed surgery almost always goes ahead.
CLAIM_PROBABILITY: dict[str, float] = {
    "confirmed": 0.92,
    "less_invasive": 0.8,
    "more_invasive": 0.85,
    "alternative": 0.8,
    "non_surgical": 0.7,
    "deferred": 0.65,
}
# Median days from opinion to the recommended procedure's claim (assumption).
CLAIM_DELAY_MEDIAN: dict[str, float] = {
    "confirmed": 30.0,
    "less_invasive": 25.0,
    "more_invasive": 30.0,
    "alternative": 30.0,
    "non_surgical": 14.0,
    "deferred": 14.0,
}
UNRELATED_CLAIM_RATE = 0.15
# Claims reach the extract weeks after the service (run-out): lognormal lag, median 21 days,
# so about 99% of claims are in within 90 days, the default claims_runout_days (assumption).
CLAIM_LAG_MEDIAN_DAYS = 21.0
CLAIM_LAG_SIGMA = 0.7
# Coverage: each patient is covered from some time before the first referral; a share leaves
# the plan within 18 months of it, and their later claims are not this payer's (assumption).
# The optional enrollment file states these periods, so a covered case without claims counts.
COVERAGE_CHURN = 0.06
COVERAGE_BEFORE_DAYS = (30, 1500)
COVERAGE_AFTER_DAYS = (30, 540)
ALLOWED_MISSING = 0.07
ALLOWED_NOISE_SD = 0.12
# Allowed amount relative to the catalogue price by payer (commercial prices exceed Medicare;
# assumption in the direction of docs/sources.md "Prices and costs" (charges != costs != payments)).
PAYER_PRICE_FACTOR: dict[str, float] = {
    "commercial": 1.25,
    "medicare": 1.0,
    "medicaid": 0.75,
    "self_pay": 1.0,
    "other": 1.1,
}
# Claims of codes unrelated to the second opinion, with rough prices (estimates, not catalogue).
UNRELATED_CODES: dict[str, float] = {
    "99213": 90.0,
    "80053": 14.0,
    "85025": 10.0,
    "71046": 30.0,
    "93000": 17.0,
    "36415": 3.0,
    "73721": 230.0,
}

# Opinion form. Narrative-only ~15% (brief); the rest structured, half of it with a narrative.
SIGNAL_SHARE: dict[str, float] = {"structured": 0.45, "both": 0.40, "narrative": 0.15}
CORRECTION_RATE = 0.01  # opinions re-issued with a later updated_at and another recommendation
UPDATED_AT_MISSING = 0.08
UNLISTED_CODE_RATE = 0.003  # code-only opinions naming an unlisted CPT code -> unclassified
# CPT "unlisted procedure" codes by specialty: never in the catalogue, so rule 6 applies.
UNLISTED_CODES: dict[str, str] = {
    "spine": "22899",
    "orthopedics": "27599",
    "cardiology": "33999",
    "oncology": "19499",
    "general_surgery": "49999",
    "gynecology": "58999",
    "urology": "55899",
}

# Referral seasonality (assumption, per the brief): a January peak as deductibles reset, a
# summer and a late-December dip; weekends are quiet; the programme grows ~15% a year.
MONTH_FACTOR: tuple[float, ...] = (1.18, 1.06, 1.08, 1.0, 0.98, 0.95, 0.86, 0.9, 1.0, 1.04, 0.97, 0.78)
WEEKDAY_FACTOR: tuple[float, ...] = (1.1, 1.0, 1.0, 1.0, 0.95, 0.15, 0.08)  # Monday first
ANNUAL_GROWTH = 0.15

# Patients referred more than once (other knee, recurrence, re-referral): assumption.
REPEAT_CASE_SHARE = 0.12

# Missing optional case fields (assumption).
MISSING: dict[str, float] = {
    "age_band": 0.02,
    "sex": 0.01,
    "region": 0.03,
    "payer_type": 0.02,
    "plan_id": 0.04,
    "diagnosis_code": 0.04,
    "urgency": 0.05,
}
