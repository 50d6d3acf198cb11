"""What each column header means, in one place: every table's headers carry these as tooltips.

Keys are headers as the views write them (matched without case or surrounding spaces). A
header with no entry reads its own words only; the site tests fail on one, so a new column comes
with its definition.
"""

from __future__ import annotations

from pipelines.lib.vocabulary import OUTCOME_LABELS

_INTERVAL = (
    "95% interval: the range that holds the true value in 95 of 100 repetitions of the programme "
    "(Wilson score interval for shares, bootstrap over cases for money and ratios)."
)
_SHARE = "Share of the specialty's reviewed cases with this outcome, with the number of cases in brackets."

DEFINITIONS: dict[str, str] = {
    # labels
    "specialty": "The specialty of the reviewing specialist; 'All specialties' pools every case.",
    "outcome": "What the second opinion did to the recommended surgery (confirmed, changed, deferred).",
    "month": "Calendar month of the second opinion.",
    "reviewer": "A reviewing specialist under a stable pseudonym; 'other' pools reviewers with fewer than 11 cases.",
    "payer type": "The case's payer type as recorded at referral; 'other' pools small groups.",
    "plan": "The health plan under its display name or pseudonym; 'other' pools plans with fewer than 11 cases.",
    "first recommendation": "Procedure family the first doctor recommended.",
    "second opinion": "Procedure family the second opinion recommended, or its outcome when no procedure.",
    "record type": "Kind of landing file: cases, opinions, follow-up claims, prices, enrollment or labels.",
    "status": "What the run did with the file: loaded, a repeat of one already loaded, refused or unreadable.",
    "field": "The column whose value broke the rule.",
    "rule": "The data-contract rule the value broke.",
    "check": "Name of the asset check.",
    "asset": "The warehouse table the check ran on.",
    "result": "Whether the check passed in this run.",
    "severity": "A failed ERROR check stops the run; a WARN check is reported only.",
    "what it checks": "The check's rule in words.",
    "assumption": "The assumption moved, one at a time, to its low and high setting.",
    "scenario": "Low or high setting of the assumption.",
    "setting": "The value the assumption takes in this scenario.",
    "what": "What the disclosure audit measured.",
    "value": "Its value in this run.",
    "rate": "The rate a cost figure uses: baseline completion c, or leakage l of an outcome.",
    "basis": "Where the rate in force comes from: observed in closed claims, pooled, or a published default.",
    "source": "The published source of the default or reference value.",
    "procedure code": "CPT/HCPCS code of the catalogue entry.",
    "description": "The procedure in words.",
    "family": "Procedure family: codes that answer the same clinical question.",
    "tier": "Invasiveness tier of the family, 0 (non-surgical) to 4 (most invasive).",
    "price": "Reference price of the code in US dollars.",
    "price basis": "What the price is: a Medicare payment, a commercial estimate or a published mean.",
    "price year": "The year the price is quoted in (no price index is applied).",
    "price source": "The published source of the price.",
    "estimate": "Yes when the price is an estimate rather than a published payment.",
    "decile": "Tenth of referrals ranked by the change-propensity score; 1 holds the highest scores.",
    # counts
    "cases": "Reviewed cases counted in this row (shown as <11 when 1 to 10, * when hidden to protect one).",
    "cases reviewed": "Cases with a second opinion, classified or not; pending cases are not counted.",
    "files": "Number of landing files (files, not people: never suppressed).",
    "new files": "Files whose bytes no earlier run had ingested; the others load nothing new.",
    "run": "The ingest run's id, as in audit.ingest_files and the run summary.",
    "ingested at": "When the run looked at the landing folder (UTC).",
    "rows read": "Rows read from the files.",
    "loaded": "Rows that passed every rule and were staged.",
    "quarantined": "Rows refused by a data-contract rule, kept with their reasons.",
    "duplicate": "Rows identical to one already staged, counted once.",
    "rows": "Rows quarantined for this rule (a row can break several).",
    "reviewers shown": "Reviewers with 11 or more cases shown on the specialty page.",
    "expected changes": "Changes the reviewer's cases predict from their referral-time case mix (E).",
    "observed changes": "Cases the reviewer did not confirm (O).",
    "closed cases with claims": "Cases whose follow-up horizon has closed and that have some claim.",
    "billed for the initial family": "Closed cases with a claim in the first recommendation's family.",
    "no claims seen": "Closed cases with no claim at all: left out of the observed rate.",
    "verified cases": "Cases whose horizon has closed by the claims-through date and whose claims were priced.",
    "closed cohort": "Every review whose horizon has closed: the verified net charges each one's fee.",
    "unpriced changes": "Changed cases with no priced recommended code: they claim no saving.",
    "left out: no tier": "Cases with no invasiveness tier on one side, left out of both kappas.",
    "higher than expected, beyond 99.8%": "Reviewers above the 99.8% O/E limit: more changes than their case mix predicts.",
    "lower than expected, beyond 99.8%": "Reviewers below the 99.8% O/E limit: fewer changes than predicted.",
    "beyond 95% (either side)": "Reviewers outside the 95% O/E limits, above or below.",
    "beyond 95%, unadjusted rate": "Reviewers outside the 95% limits of the raw change-rate funnel.",
    "cusum signals": "Reviewers whose risk-adjusted CUSUM has crossed its limit.",
    # shares, rates and intervals
    "share": "Share of the specialty's reviewed cases with this outcome.",
    "change rate": "Share of the reviewer's cases not confirmed (raw, not adjusted for case mix).",
    "change rate, unadjusted": "Flag of the raw change rate against the specialty's funnel, without case mix.",
    "compared with case mix": "Where O/E lies against limits widened for the ordinary spread between reviewers.",
    "over time (cusum)": "First month the reviewer's risk-adjusted CUSUM signalled, if it has.",
    "o/e": "Observed changes divided by expected: above 1, more changes than the case mix predicts.",
    "o/e 95% ci": "95% interval of O/E from the reviewer's own cases (chance alone).",
    "o/e 99.8% limits": "Funnel limits of O/E at 99.8%, widened by the between-reviewer variance τ².",
    "95% ci": _INTERVAL,
    "95% ci (wilson)": "Wilson score 95% interval of the share.",
    "wilson 95% ci": "Wilson score 95% interval of the observed rate.",
    "roi 95% ci": "95% bootstrap interval of the return on programme cost.",
    "verified 95% ci": "95% bootstrap interval of the verified gross.",
    "verified net 95% ci": "95% bootstrap interval of the verified net.",
    "weighted κ (linear)": "Agreement of the invasiveness tiers beyond chance, partial credit by tier distance (1 = perfect).",
    "cohen's κ": "Agreement of the tiers beyond chance, exact matches only (1 = perfect, 0 = chance).",
    "raw agreement": "Share of cases whose two recommendations fall in the same tier.",
    "landis & koch band": "Landis & Koch (1977) words for the weighted κ: slight, fair, moderate, substantial.",
    "observed": "The rate observed in closed claims (empty below the minimum cases).",
    "in force": "The rate the cost figures use.",
    "baseline completion c": "Share of first recommendations that would have been carried out with no second opinion.",
    "median days": "Median days from referral to opinion.",
    "90th percentile days": "Nine in ten opinions arrived within this many days of referral.",
    "days (bin upper edge)": "Days from referral to opinion, up to this bin edge.",
    "mean score": "Mean change-propensity score of the decile's referrals.",
    "observed change rate": "Share of the decile's reviewed cases not confirmed.",
    "lift": "Decile's change rate divided by the overall change rate.",
    "cumulative lift": "Change rate of this and the higher deciles divided by the overall rate.",
    # money
    "gross avoided (projected)": "E0 − E1 summed over classified cases: expected cost of the first plan minus the second plan plus leakage.",
    "programme cost": "Reviews × the fee per review.",
    "net avoided (projected)": "Projected gross minus the programme cost.",
    "net avoided": "Net cost avoided in this scenario.",
    "base net": "Net cost avoided at the assumptions in force.",
    "change": "Scenario net minus base net.",
    "net per case": "Projected net divided by reviewed cases.",
    "roi": "Return on programme cost: net avoided per $1 of programme cost.",
    "verified gross": "E0 minus what follow-up claims show was spent, on verified cases.",
    "verified net": "Verified gross minus the fee for every review of the closed cohort.",
    "deferred (provisional)": "Savings of deferred cases, inside the projected gross; deferral may only delay surgery.",
    "claims through": "Claims are complete up to this date.",
    "horizon (months)": "Months after the opinion in which the first plan's procedure counts as done.",
    "conservative pathway": "Cost of the non-surgical pathway charged when surgery is avoided.",
    "work-up": "Cost of the work-up charged when a case is deferred.",
    "fee per review": "What one second opinion costs the payer.",
    "price basis (share of gross)": "How the gross was priced: observed claims, the payer's prices or the catalogue, by share.",
    # data quality and provenance
    "structured fields": "Cases whose outcome came from the structured recommendation codes.",
    "text extraction": "Cases whose outcome was read from the narrative by the rule-based extraction.",
    "text classifier": "Cases decided by the text classifier alone.",
    "people's labels": "Cases decided by a person's label.",
}
# every outcome's label is a share column in the outcome tables
DEFINITIONS |= {label.lower(): _SHARE for label in OUTCOME_LABELS.values()}


def definition(header: str) -> str:
    """The header's definition, or "" when it has none (the site tests flag that)."""
    return DEFINITIONS.get(header.strip().lower(), "")
