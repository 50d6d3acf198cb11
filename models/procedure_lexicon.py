"""Procedure vocabulary of narratives: which procedure family a phrase names, and how invasive it is.

Why: whether a second opinion is *less invasive*, *more invasive* or an *alternative* depends on
how the procedure it proposes compares with the first one — "a stent rather than bypass" is a
step down only if you know a stent is less invasive than bypass. Word n-grams cannot learn that
comparison from one initial family at a time, so the text model gets it as knowledge: phrases are
mapped to the catalogue's families and invasiveness tiers (DESIGN.md "Outcome classification",
tiers 0-4), and features compare the procedures a narrative names with the initial procedure.

Patterns are Rust-regex (Polars) over normalised lower-case text (numbers folded to 0). A family
whose tier depends on the approach (cholecystectomy, hernia repair, hysterectomy: open tier 3,
laparoscopic tier 2) has tier None; the approach words themselves are the `approach_minimal`
(tier 2) and `approach_open` (tier 3) pseudo-families.
"""

from __future__ import annotations

from pipelines.lib.vocabulary import FAMILY_TIER as CATALOGUE_TIER

# Rewrites applied before matching so a longer phrase is not also counted as a shorter one
# ("partial mastectomy" is not a mastectomy, "CT angiography" is imaging, not a catheterisation).
CANONICAL_REWRITES: tuple[tuple[str, str], ...] = (
    (r"\b(partial|segmental|quadrant) mastectom\w*", "lumpectomy"),
    (r"\btranscatheter (aortic |mitral )?valve (replacement|implantation)\b", "tavr"),
    (r"\b(ct|computed tomography|cardiac ct|coronary ct|mr|magnetic resonance) angiogra\w*", "ctimaging"),
    (r"\bresection of the prostate\b", "turp"),
    (r"\bopen[- ]heart surgery\b", "cabgsurgery"),
)

# family -> pattern; the tier of a catalogue family is the catalogue's (pipelines.lib.vocabulary)
PROCEDURE_TERMS: dict[str, str] = {
    "spinal_fusion": r"\b(fusion|fusions|fuse|fusing|fused|arthrodesis|instrumentation|instrumented|pedicle screws?|tlif|plif|alif|xlif|acdf)\b",
    "spinal_decompression": r"\b(laminectomy|laminectomies|laminotomy|decompression|decompressive|decompress|foraminotomy|laminoplasty)\b",
    "discectomy": r"\b(micro-?discectomy|discectomy|microdiscectomy|disc excision|disc removal|remove the disc)\b",
    "spinal_injection": r"\b(epidural\w*|nerve root (block|injection)s?|root blocks?|facet (joint )?(injection|block)s?|medial branch blocks?|radiofrequency ablation|rhizotomy)\b",
    "cabg": r"\b(cabg|cabgsurgery|bypass( graft\w*| surgery| operation)?|coronary artery bypass|surgical revasculari[sz]ation|grafting)\b",
    "valve_replacement": r"\b(savr|(surgical|open) (aortic |mitral )?valve (replacement|repair|surgery)|valve (replacement|repair) surgery|mitral valve (replacement|repair|surgery)|sternotomy|replace the valve surgically)\b",
    "tavr": r"\b(tavr|tavi|transcatheter\w*|percutaneous valve)\b",
    "pci": r"\b(pci|stent|stents|stented|stenting|angioplasty|percutaneous coronary)\b",
    "cardiac_cath": r"\b(catheteri[sz]ation|cath|angiogram|angiography|coronary angiogra\w*)\b",
    "cholecystectomy": r"\b(cholecystectomy|gallbladder (removal|surgery|operation)|(remov\w*|take|taking|taken) (out )?(the |her |his )?gallbladder( out)?)\b",
    "hernia_repair": r"\b(hernia repair|herniorrhaphy|hernioplasty|mesh repair|repair (of )?(the |her |his )?hernia|hernia surgery|hernia operation)\b",
    "knee_arthroplasty": r"\b(knee (\w+ ){0,3}(replacement|replacing|replaced|arthroplasty)|tka|tkr|replac\w* (the |her |his |a )?(\w+ )?knee|total knee)\b",
    "hip_arthroplasty": r"\b(hip (\w+ ){0,3}(replacement|replacing|replaced|arthroplasty)|tha|thr|replac\w* (the |her |his |a )?(\w+ )?hip|total hip|hemiarthroplasty)\b",
    "knee_arthroscopy": r"\b(arthroscop\w*|scope|meniscectomy|meniscal (repair|trimming)|arthroscopic debridement|chondroplasty)\b",
    "joint_injection": r"\b((joint|intra-?articular|knee|hip|shoulder|cortisone|steroid|corticosteroid|hyaluronic\w*|gel|prp) (injection|injections|shot|shots)|injection into the (joint|knee|hip|shoulder)|viscosupplementation)\b",
    "mastectomy": r"\b(mastectomy|mastectomies|remov\w* (of )?(the |her )?(whole |entire )?breast)\b",
    "partial_mastectomy": r"\b(lumpectomy|breast[- ]conserv\w*|wide local excision|conservation surgery|breast conservation)\b",
    "prostatectomy": r"\b(prostatectomy|remov\w* (of )?the (whole )?prostate|adenomectomy)\b",
    "prostate_resection": r"\b(turp|transurethral\w*|holep|thulep|enucleation|prostate resection|greenlight|laser vapori[sz]ation)\b",
    "prostate_biopsy": r"\b(biopsy|biopsies|biopsied|rebiopsy)\b",
    "hysterectomy": r"\b(hysterectomy|hysterectomies|remov\w* (of )?the (uterus|womb))\b",
    "endometrial_ablation": r"\b(endometrial ablation|ablation|ablate|novasure)\b",
    "physical_therapy": r"\b(physio\w*|physical therapy|exercise\w*|rehab\w*|strengthening|core (work|training|stability)|functional restoration|pelvic floor)\b",
    "office_management": r"\b(medication\w*|medicines?|tablets|pills|drugs?|medical (therapy|management|treatment)|medically|conservative\w*|non-?operative\w*|non-?surgical\w*|surveillance|lifestyle|weight loss|lose weight|brace|bracing|alpha[- ]blockers?|tamsulosin|finasteride|beta[- ]blockers?|statins?|nitrates?|iud|coil|tranexamic|hormonal|hormones?|analgesi\w*|pain relief|painkillers|nsaids?|anti-?inflammator\w*|reassurance|endocrine therapy|radiotherapy|radiation)\b",
    "approach_minimal": r"\b(laparoscop\w*|keyhole|minimally invasive|endoscopic\w*|day case|day surgery)\b",
    "approach_open": r"\b(open (operation|surgery|approach|procedure|repair|technique|incision)|done open|as an open|through an open|laparotomy|abdominal incision)\b",
}

#: The approach words are pseudo-families of their own tier: laparoscopic (2) or open (3).
APPROACH_TIER: dict[str, int] = {"approach_minimal": 2, "approach_open": 3}
FAMILY_TIER: dict[str, int | None] = {
    fam: APPROACH_TIER.get(fam, CATALOGUE_TIER.get(fam)) for fam in PROCEDURE_TERMS
}

# A sentence that states or weighs a recommendation (rather than history or findings): procedure
# mentions in such sentences are what the reviewer proposes, elsewhere they are mostly history
# ("an injection gave no relief") and are kept as separate features.
DECISION_CUES = (
    r"\b(would|should|recommend\w*|advis\w*|suggest\w*|need|needs|offer\w*|favou?r\w*|prefer\w*|plan\w*"
    r"|indicated|appropriate|agree\w*|concur\w*|support\w*|endorse\w*|proceed\w*|go ahead|better|best"
    r"|reasonable|consider\w*|opinion|choice|instead|rather|option|right|correct|warranted|justified"
    r"|necessary|unnecessary|required|defer\w*|postpone\w*|wait\w*|hold)\b"
)

# A statement that negates what precedes it ("surgery is not indicated", "breast conservation is
# not a realistic option"): the one or two words before the verb join the negated scope. Applied
# two-word form first, then one-word (a word already marked NEG_ cannot match again).
_PREDICATE = r"(is|are|was|would be|will be|seems|remains) (not|no longer|unlikely|unnecessary|excessive|inappropriate|premature|too)\b"
POST_NEGATION: tuple[tuple[str, str], ...] = (
    (r"\b([a-z][a-z'\-]*) ([a-z][a-z'\-]*) " + _PREDICATE, "NEG_$1 NEG_$2 $3 $4"),
    (r"\b([a-z][a-z'\-]*) " + _PREDICATE, "NEG_$1 $2 $3"),
)
