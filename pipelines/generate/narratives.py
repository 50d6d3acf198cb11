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

import numpy as np
import polars as pl

from pipelines.lib.vocabulary import FAMILY_TIER, REVIEW_OUTCOMES
from pipelines.lib.vocabulary import SPECIALTIES as CONTRACT_SPECIALTIES

OUTCOMES: tuple[str, ...] = REVIEW_OUTCOMES  # written once, in pipelines/outcomes.py
SPECIALTIES: tuple[str, ...] = CONTRACT_SPECIALTIES  # written once, in data_contracts/cases.yaml

# --- procedure vocabulary by family (noun phrases, no leading article) -----------------------
FAMILY_TERMS: dict[str, list[str]] = {
    "spinal_fusion": [
        "lumbar fusion",
        "spinal fusion",
        "instrumented fusion",
        "L4-L5 fusion",
        "posterior lumbar interbody fusion",
        "TLIF",
        "multilevel fusion",
        "fusion surgery",
        "anterior cervical discectomy and fusion",
        "pedicle screw fixation",
    ],
    "spinal_decompression": [
        "laminectomy",
        "lumbar decompression",
        "open decompression",
        "decompressive laminectomy",
        "multilevel laminectomy",
        "posterior decompression",
    ],
    "discectomy": [
        "microdiscectomy",
        "discectomy",
        "lumbar microdiscectomy",
        "endoscopic discectomy",
        "disc excision",
    ],
    "spinal_injection": [
        "epidural steroid injection",
        "an epidural injection",
        "transforaminal epidural injection",
        "selective nerve root block",
        "facet injection",
        "medial branch block",
    ],
    "cabg": [
        "coronary artery bypass grafting",
        "CABG",
        "bypass surgery",
        "surgical revascularization",
        "coronary bypass",
        "three-vessel bypass",
    ],
    "valve_replacement": [
        "surgical aortic valve replacement",
        "open valve replacement",
        "SAVR",
        "valve replacement surgery",
        "mitral valve replacement",
    ],
    "tavr": [
        "TAVR",
        "transcatheter aortic valve replacement",
        "TAVI",
        "transcatheter valve implantation",
    ],
    "pci": [
        "PCI",
        "stenting",
        "coronary stenting",
        "percutaneous coronary intervention",
        "angioplasty",
        "stent placement",
    ],
    "cardiac_cath": [
        "cardiac catheterization",
        "coronary angiography",
        "diagnostic cath",
        "left heart cath",
        "invasive angiography",
    ],
    "cholecystectomy": [
        "cholecystectomy",
        "gallbladder removal",
        "laparoscopic cholecystectomy",
        "open cholecystectomy",
        "gallbladder surgery",
    ],
    "hernia_repair": [
        "hernia repair",
        "inguinal hernia repair",
        "laparoscopic hernia repair",
        "open mesh repair",
        "herniorrhaphy",
        "ventral hernia repair",
    ],
    "knee_arthroplasty": [
        "total knee replacement",
        "knee arthroplasty",
        "TKA",
        "total knee arthroplasty",
        "knee replacement",
    ],
    "hip_arthroplasty": [
        "total hip replacement",
        "hip arthroplasty",
        "THA",
        "hip replacement",
        "total hip arthroplasty",
    ],
    "knee_arthroscopy": [
        "knee arthroscopy",
        "arthroscopic meniscectomy",
        "arthroscopic debridement",
        "partial meniscectomy",
        "knee scope",
    ],
    "joint_injection": [
        "joint injection",
        "intra-articular steroid injection",
        "corticosteroid injection",
        "hyaluronic acid injection",
        "a cortisone shot",
    ],
    "mastectomy": [
        "mastectomy",
        "total mastectomy",
        "simple mastectomy",
        "modified radical mastectomy",
        "removal of the breast",
    ],
    "partial_mastectomy": [
        "lumpectomy",
        "partial mastectomy",
        "breast-conserving surgery",
        "wide local excision",
        "segmental mastectomy",
    ],
    "prostatectomy": [
        "radical prostatectomy",
        "prostatectomy",
        "robotic prostatectomy",
        "robot-assisted radical prostatectomy",
        "removal of the prostate",
    ],
    "prostate_resection": [
        "TURP",
        "transurethral resection of the prostate",
        "prostate resection",
        "HoLEP",
        "laser enucleation of the prostate",
    ],
    "prostate_biopsy": [
        "prostate biopsy",
        "repeat biopsy",
        "MRI-targeted biopsy",
        "transperineal biopsy",
        "saturation biopsy",
    ],
    "hysterectomy": [
        "hysterectomy",
        "total abdominal hysterectomy",
        "laparoscopic hysterectomy",
        "removal of the uterus",
        "total laparoscopic hysterectomy",
    ],
    "endometrial_ablation": [
        "endometrial ablation",
        "ablation of the endometrium",
        "hysteroscopic ablation",
        "global endometrial ablation",
    ],
    "physical_therapy": [
        "physical therapy",
        "a supervised exercise program",
        "physiotherapy",
        "a course of rehabilitation",
        "structured rehab",
    ],
    "office_management": [
        "medical management",
        "office follow-up",
        "medication and monitoring",
        "observation with regular review",
        "clinic-based management",
    ],
    # Families a richer catalogue may add; unknown families fall back to their own name.
    "shoulder_arthroscopy": ["shoulder arthroscopy", "arthroscopic subacromial decompression"],
    "rotator_cuff_repair": ["rotator cuff repair", "cuff repair"],
    "colectomy": ["colectomy", "bowel resection", "hemicolectomy"],
    "appendectomy": ["appendectomy", "appendix removal"],
    "cardiac_ablation": ["catheter ablation", "ablation for the arrhythmia"],
    "pacemaker": ["pacemaker implantation", "a pacemaker"],
    "myomectomy": ["myomectomy", "fibroid removal"],
    "ureteroscopy": ["ureteroscopy", "stone extraction"],
    "nephrectomy": ["nephrectomy", "kidney removal"],
}

# Families whose tier depends on the approach (DESIGN.md catalogue: 47600 open cholecystectomy
# tier 3, 47562 laparoscopic tier 2, and likewise hernia repair and hysterectomy): when the tier
# is known the phrase names the approach, so "open -> laparoscopic" reads as a step down.
FAMILY_TERMS_BY_TIER: dict[str, list[str]] = {
    "cholecystectomy@3": [
        "open cholecystectomy",
        "open gallbladder removal",
        "cholecystectomy through an open incision",
    ],
    "cholecystectomy@2": ["laparoscopic cholecystectomy", "keyhole gallbladder removal", "lap chole"],
    "hernia_repair@3": ["open hernia repair", "open mesh repair", "open inguinal repair"],
    "hernia_repair@2": ["laparoscopic hernia repair", "TEP repair", "keyhole hernia repair"],
    "hysterectomy@3": ["abdominal hysterectomy", "open hysterectomy", "total abdominal hysterectomy"],
    "hysterectomy@2": [
        "laparoscopic hysterectomy",
        "vaginal hysterectomy",
        "minimally invasive hysterectomy",
    ],
}
# --- specialty vocabulary ---------------------------------------------------------------------
CONSERVATIVE: dict[str, list[str]] = {
    "spine": [
        "physical therapy and core strengthening",
        "a structured exercise program",
        "NSAIDs and a home exercise program",
        "activity modification with physiotherapy",
        "a multidisciplinary pain program",
        "McKenzie-based therapy",
        "weight loss and walking",
    ],
    "cardiology": [
        "optimal medical therapy",
        "intensified anti-anginal medication",
        "risk-factor control with a statin and beta blocker",
        "cardiac rehabilitation",
        "guideline-directed medical therapy",
        "long-acting nitrates and lifestyle change",
    ],
    "orthopedics": [
        "weight loss and quadriceps strengthening",
        "physical therapy and an unloader brace",
        "NSAIDs and activity modification",
        "a supervised exercise program",
        "bracing and physiotherapy",
        "analgesia and a walking aid",
    ],
    "oncology": [
        "endocrine therapy",
        "systemic therapy with close surveillance",
        "definitive radiotherapy",
        "surveillance imaging",
        "medical oncology management",
        "hormonal treatment",
    ],
    "general_surgery": [
        "dietary modification and analgesia",
        "a low-fat diet",
        "weight loss and a supportive garment",
        "symptom control with medication",
        "observation and dietary advice",
    ],
    "gynecology": [
        "hormonal therapy",
        "a levonorgestrel IUD",
        "tranexamic acid",
        "pelvic floor physiotherapy",
        "oral progestins",
        "medical management of the bleeding",
    ],
    "urology": [
        "an alpha blocker",
        "combination medical therapy",
        "active surveillance with PSA checks",
        "lifestyle measures and bladder training",
        "a 5-alpha reductase inhibitor",
        "tamsulosin",
    ],
}
TESTS: dict[str, list[str]] = {
    "spine": [
        "flexion-extension radiographs",
        "an updated MRI",
        "EMG and nerve conduction studies",
        "a diagnostic nerve block",
        "a CT myelogram",
        "standing scoliosis films",
    ],
    "cardiology": [
        "a stress test",
        "a stress echocardiogram",
        "coronary CT angiography",
        "FFR measurement",
        "a cardiac MRI",
        "a repeat echocardiogram",
        "a nuclear perfusion scan",
    ],
    "orthopedics": [
        "weight-bearing radiographs",
        "an MRI of the joint",
        "a diagnostic injection",
        "standing long-leg films",
        "a CT scan",
        "inflammatory markers",
    ],
    "oncology": [
        "a pathology re-review",
        "staging PET-CT",
        "a breast MRI",
        "genetic testing",
        "a repeat core biopsy",
        "tumor board review",
    ],
    "general_surgery": [
        "an abdominal ultrasound",
        "a HIDA scan",
        "a CT of the abdomen",
        "upper endoscopy",
        "liver function tests",
        "a dynamic ultrasound of the groin",
    ],
    "gynecology": [
        "a pelvic ultrasound",
        "endometrial sampling",
        "hysteroscopy",
        "a pelvic MRI",
        "a saline sonogram",
        "iron studies and a hormone panel",
    ],
    "urology": [
        "a repeat PSA",
        "a prostate MRI",
        "urodynamic studies",
        "cystoscopy",
        "a pathology re-review of the biopsy",
        "a bladder diary and flow study",
    ],
}
INTERVALS: list[str] = [
    "three months",
    "six weeks",
    "6 months",
    "two to three months",
    "eight weeks",
    "a few months",
    "12 weeks",
    "four months",
    "one year",
]

# --- decision sentences: the label-bearing wording; template index = phrasing group ------------
# Placeholders: {init} / {Init} initial procedure, {rec} / {Rec} recommended procedure,
# {cons} conservative plan, {test} further test, {interval} time.
DECISIONS: dict[str, list[str]] = {
    "confirmed": [
        "I agree with the recommendation for {init}.",
        "I concur that {init} is indicated.",
        "{Init} is appropriate and I would proceed.",
        "The proposed {init} is the right operation for this patient.",
        "Surgery as planned is reasonable; I would not change the plan.",
        "I see no reason to delay {init}.",
        "Conservative treatment has been exhausted and {init} is warranted.",
        "I support proceeding with {init} as recommended by the treating surgeon.",
        "My recommendation is the same: {init}.",
        "The indication for {init} is sound.",
        "I would not hesitate to proceed with {init}.",
        "The original plan is correct and {init} should go ahead.",
        "There is no further role for non-operative care; {init} is the appropriate next step.",
        "The findings support the planned {init} without modification.",
        "I agree with the referring surgeon. {Init} offers the best chance of relief.",
        "Proceed with {init}.",
        "I recommend the patient undergo {init} as originally proposed.",
        "{Init} is clearly indicated and should be scheduled.",
        "Nonoperative options are unlikely to help at this stage, so I endorse {init}.",
        "The surgical recommendation is confirmed.",
        "In my opinion the planned {init} is necessary.",
        "Agree with surgery. {Init} is the correct choice.",
        "I find the recommendation for {init} well founded.",
        "I would offer the same procedure, {init}.",
        "Delaying {init} is not advisable given the findings.",
        "The case for {init} is strong and I concur with it.",
        "This second opinion is concordant with the first: {init}.",
        "I fully agree that {init} should be performed.",
        "No lesser procedure is likely to succeed; {init} remains the best choice.",
        "The patient is a good candidate for {init} and I would recommend going ahead.",
        "Operative treatment is justified and the choice of {init} is correct.",
        "I would not recommend any change to the surgical plan.",
        "Further conservative care would only prolong disability; {init} is advised.",
        "Both the indication and the choice of procedure are appropriate.",
        "I explained that the operation is the right treatment and should go ahead.",
        "The planned surgery should be done soon.",
        "I would not postpone {init}; the findings will only worsen with time.",
        "Surgery without further delay is advisable.",
        "My advice is to go ahead with {init}.",
        "I am comfortable with the plan for {init}.",
        "This is a clear surgical indication and {init} is the appropriate operation.",
        "I told the patient I would make the same recommendation.",
        "{Init} is the standard treatment for this problem and I recommend it.",
        "The treating team's plan is sound and nothing needs to change.",
        "Given the failure of everything short of surgery, {init} is justified.",
        "The operation that has been offered is the correct one.",
        "Further conservative treatment is unlikely to help, so I agree with the recommended surgery.",
        "{Init}: agree.",
        "Concur with operative management as planned.",
        "I endorse the surgical plan in full.",
    ],
    "less_invasive": [
        "I would favour {rec}, a smaller intervention than {init}.",
        "{Init} is more than this patient needs; {rec} should be tried first.",
        "A less invasive approach, {rec}, is more appropriate than {init}.",
        "I would not perform {init} at this point; {rec} is a reasonable first step.",
        "Rather than a major operation, I recommend {rec}.",
        "{Rec} would address the problem with less risk than {init}.",
        "The findings do not justify {init}; a smaller procedure such as {rec} is sufficient.",
        "I recommend stepping down to {rec}.",
        "{Init} is excessive for these findings. I suggest {rec}.",
        "A more limited procedure, {rec}, is likely to give the same benefit.",
        "I would start with {rec} and keep {init} in reserve.",
        "The less invasive option of {rec} should be offered instead of {init}.",
        "{Init} is not necessary; {rec} should suffice.",
        "My recommendation is {rec}, which is less extensive than the proposed {init}.",
        "A minimally invasive alternative, {rec}, is preferred.",
        "I would scale the plan back from {init} to {rec}.",
        "{Rec} is the more proportionate intervention.",
        "There is no need for an operation as extensive as {init}; {rec} is adequate.",
        "I recommend {rec} in place of {init}, with lower morbidity and a faster recovery.",
        "I advise against {init} and suggest the lesser procedure, {rec}.",
        "This can be managed with {rec}; {init} would be overtreatment.",
        "A lesser intervention is indicated: {rec}.",
        "I think {rec} is the right first intervention, not a big operation.",
        "{Rec} offers a good chance of relief with a shorter recovery than {init}.",
        "I would not go straight to {init}; {rec} comes first.",
        "Less extensive treatment with {rec} is appropriate.",
        "{Init} is too aggressive for this problem; {rec} is what I would do.",
        "A smaller operation would do: {rec} rather than {init}.",
        "I would downgrade the recommendation to {rec}.",
        "The same goal can be reached with a less invasive {rec}.",
        "My recommendation is {rec}.",
        "I would try {rec} before considering {init}.",
        "{Rec} should be offered first, and {init} can follow if it fails.",
        "I would offer {rec} rather than {init}.",
        "The problem can be dealt with by {rec} alone.",
        "A step down to {rec} is reasonable.",
        "A smaller operation, {rec}, gives the same result with a shorter recovery.",
        "{Rec} would be sufficient here.",
        "I would suggest {rec}; the larger operation is not needed.",
        "I told the patient that {rec} is a better first choice than {init}.",
    ],
    "non_surgical": [
        "Surgery is not indicated.",
        "I would not operate.",
        "I do not recommend {init}. {Cons} is the appropriate treatment.",
        "No surgery is needed at this time; I recommend {cons}.",
        "This patient does not need {init}.",
        "The findings do not warrant an operation. I recommend {cons}.",
        "I would treat this non-operatively with {cons}.",
        "Conservative management with {cons} is recommended instead of {init}.",
        "There is no surgical indication; treatment should be {cons}.",
        "{Init} is unlikely to help and carries real risk; {cons} is preferred.",
        "Operative treatment is not recommended.",
        "I advise against surgery and recommend {cons}.",
        "Surgery would not address the cause of the symptoms. Treat with {cons}.",
        "Non-surgical care is appropriate, namely {cons}.",
        "The risks of {init} outweigh the expected benefit. Manage medically with {cons}.",
        "I would avoid surgery altogether and continue {cons}.",
        "There is no need for {init}; the patient should be managed with {cons}.",
        "My recommendation is non-operative care.",
        "{Init} is not justified by the findings.",
        "I recommend against {init}.",
        "The patient can be managed conservatively.",
        "Medical management is the better option: {cons}.",
        "I would not proceed with any procedure. Start {cons}.",
        "Surgery is unnecessary.",
        "The patient should not undergo {init}; {cons} is sufficient.",
        "Nonoperative treatment with {cons} is the standard of care here.",
        "I cannot support surgical intervention and suggest {cons}.",
        "An operation offers no advantage over {cons}.",
        "Does not meet criteria for surgery. Continue {cons}.",
        "I do not see a surgical problem here.",
        "Neither {init} nor any other operation is needed.",
        "I would manage this without surgery.",
        "I explained that an operation would not help.",
        "The evidence does not support surgery for this problem.",
        "Surgery would offer no benefit over non-operative treatment.",
        "This is not a problem that surgery will fix.",
        "I see no indication for {init} or any other procedure.",
        "There is nothing to operate on.",
        "The lesion is benign and needs no operation.",
        "The symptoms come from a different source and do not need surgery.",
        "I would keep the patient on {cons}.",
        "{Cons} should continue and no procedure is required.",
        "No intervention is required.",
        "The best treatment here is non-surgical.",
    ],
    "deferred": [
        "I would defer {init} until {test} has been done.",
        "Before any decision on {init}, I recommend {test}.",
        "Further work-up is needed, starting with {test}; decide on surgery afterwards.",
        "The patient may eventually need {init}, but not now; reassess in {interval}.",
        "It is reasonable to consider {init} later if symptoms persist beyond {interval}.",
        "I would postpone surgery and re-evaluate in {interval}.",
        "Surgery is premature. Obtain {test} and review.",
        "I cannot make a firm recommendation without {test}.",
        "Watchful waiting for {interval}, then reconsider {init}.",
        "The indication is unclear and {test} should come first.",
        "Hold off on {init} pending {test}.",
        "I recommend {test} before proceeding with anything.",
        "Not yet. Revisit the question of {init} in {interval}.",
        "A decision on {init} should wait for {test}.",
        "{Init} may be appropriate in the future, but the case is not ready for surgery today.",
        "I suggest a period of observation for {interval} and a repeat assessment.",
        "Defer surgery and repeat the evaluation with {test}.",
        "Additional testing with {test} is required before I can endorse {init}.",
        "Timing is the issue: I would wait {interval} and reassess.",
        "The diagnosis is not settled; {test} should come first.",
        "Surgery could be reconsidered after {test}.",
        "The question of {init} should be revisited once {test} is available.",
        "I would delay {init} for now and monitor.",
        "I would re-examine the patient in {interval} before deciding on {init}.",
        "It is too early to decide on an operation; complete {test} first.",
        "Postpone {init} pending further evaluation.",
        "I recommend reassessment after {interval} of observation; {init} remains an option.",
        "Further investigation is warranted prior to any surgery.",
        "The decision about {init} is best made after {test}.",
        "I would not commit to {init} until the picture is clearer.",
        "I would like {test} before giving a firm opinion.",
        "Please repeat {test} and send me the results.",
        "Let us see how things are in {interval} before any decision.",
        "The decision on surgery can be made once {test} is back.",
        "It is too soon to say whether an operation is needed.",
        "I would wait and review in {interval}.",
        "Re-refer after {test}.",
        "Surgery may be needed in time, but the decision should wait.",
        "I would recheck in {interval} and decide then.",
        "We need more information before deciding, starting with {test}.",
    ],
    "more_invasive": [
        "{Init} would not be sufficient; I recommend {rec}.",
        "The disease is more extensive than appreciated and requires {rec}.",
        "I would recommend a more extensive operation, {rec}, rather than {init}.",
        "{Init} is likely to fail, and {rec} is the definitive option.",
        "Given the findings, a bigger operation is needed: {rec} instead of {init}.",
        "I would escalate to {rec}.",
        "A larger procedure is warranted, namely {rec}.",
        "{Init} undertreats the problem. {Rec} is indicated.",
        "The more definitive procedure, {rec}, should be performed.",
        "I recommend {rec}; a limited procedure such as {init} would likely need to be redone.",
        "The planned {init} is inadequate for this anatomy; proceed with {rec}.",
        "{Rec} offers a more durable result than {init}.",
        "I would go further than {init} and perform {rec}.",
        "A more aggressive approach is needed: {rec}.",
        "{Init} is not enough; {rec} is required.",
        "The appropriate operation is {rec}, which is more extensive than the one proposed.",
        "I recommend upgrading from {init} to {rec}.",
        "I am concerned {init} will not address the disease; the more complete {rec} is better.",
        "Proceeding with {init} risks a second operation; I would do {rec} now.",
        "The extent of disease calls for {rec}.",
        "A limited approach is not adequate here and I would proceed directly to {rec}.",
        "The patient needs a bigger operation than planned: {rec}.",
        "My recommendation is {rec}.",
        "{Init} would not deal with the whole problem; {rec} is needed.",
        "A more complete operation is required: {rec}.",
        "{Init} is likely to be inadequate, so I would plan {rec} from the outset.",
        "Only {rec} addresses the extent of the disease.",
        "I would offer {rec}, the definitive operation.",
        "A repeat {init} is likely to fail; {rec} is the better operation.",
    ],
    "alternative": [
        "I would recommend {rec} instead of {init}.",
        "A different approach, {rec}, is better suited than {init}.",
        "Rather than {init}, {rec} is the better option for this patient.",
        "{Rec} is an equally major but better-targeted alternative to {init}.",
        "I suggest a different procedure, {rec}, in place of {init}.",
        "An alternative procedure, {rec}, is preferred.",
        "{Init} is not the right operation; {rec} addresses the problem differently.",
        "I would change the procedure to {rec}.",
        "A different operation is indicated: {rec}.",
        "I recommend switching from {init} to {rec}.",
        "{Rec} would be my choice over {init}, which targets the wrong problem.",
        "The better operation here is {rec}, not {init}.",
        "It is reasonable to consider {rec} as an alternative to {init}.",
        "I would substitute {rec} for {init}.",
        "Another option, {rec}, is better suited to the anatomy.",
        "{Init} is not the best choice; {rec} treats the underlying problem.",
        "Instead of {init}, the patient should have {rec}.",
        "A different procedure of similar magnitude, {rec}, is more appropriate.",
        "The diagnosis points to {rec} rather than {init}.",
        "I disagree with the choice of {init} and would offer {rec}.",
        "A comparable operation by another route, {rec}, is what I would advise.",
        "I would take a different surgical route: {rec}.",
        "My recommendation is {rec}.",
        "The problem is better treated with {rec}; {init} targets the wrong structure.",
        "I would offer {rec} and not {init}.",
        "The findings point to a different operation: {rec}.",
        "{Init} would treat the wrong problem and {rec} is what is needed.",
        "It is {rec}, not {init}, that the patient needs.",
        "I would leave that alone and perform {rec} instead.",
    ],
}

# Outcome-specific support and plan sentences (optional slots; they also carry the label, as
# real letters do, but are shared across phrasing groups only within an outcome).
SUPPORT: dict[str, list[str]] = {
    "confirmed": [
        "Imaging correlates well with the symptoms.",
        "Risks and benefits were discussed and the patient wishes to proceed.",
        "The patient has failed {interval} of appropriate conservative care.",
        "Function is severely limited despite medication.",
        "The expected benefit clearly outweighs the risk.",
        "Surgery should be scheduled with the original team.",
        "Without surgery the deficit may become permanent.",
        "Non-operative options have been used up.",
    ],
    "less_invasive": [
        "This should allow a faster recovery.",
        "The larger operation can be kept in reserve if this fails.",
        "The pathology is more limited than the referral suggests.",
        "A smaller procedure carries fewer complications.",
        "If symptoms recur, the original plan can be revisited.",
    ],
    "non_surgical": [
        "Symptoms are likely to settle with time.",
        "Imaging findings are age-appropriate and do not explain the complaint.",
        "The symptoms are better explained by another condition that does not need an operation.",
        "Function is preserved and there is no progressive deficit.",
        "The natural history is favourable.",
        "Follow up in clinic as needed.",
        "Red flags were excluded.",
    ],
    "deferred": [
        "The patient should return with the results.",
        "Symptoms are fluctuating and the picture may change.",
        "We will meet again to decide.",
        "A firm plan will follow once the results are in.",
        "The current data are insufficient to decide.",
    ],
    "more_invasive": [
        "Imaging shows more extensive disease than described in the referral.",
        "A limited operation would probably have to be revised.",
        "The patient understands this is a larger operation with a longer recovery.",
        "The additional risk is justified by the disease.",
    ],
    "alternative": [
        "The referral diagnosis needs revision.",
        "The symptoms are better explained by a different lesion.",
        "The recovery time is similar.",
        "This approach fits the patient's anatomy better.",
    ],
}

# Distractors: history and imaging findings by specialty; they never decide anything.
HISTORY: dict[str, list[str]] = {
    "spine": [
        "Low back pain for two years with intermittent leg symptoms.",
        "MRI shows multilevel degenerative change with mild foraminal narrowing.",
        "Neurologic examination is non-focal.",
        "There is a grade 1 spondylolisthesis at L4-L5.",
        "Pain is worse with standing and eased by sitting.",
        "Prior physiotherapy helped for a while.",
        "Straight leg raise is negative.",
        "No bowel or bladder symptoms.",
    ],
    "cardiology": [
        "Exertional chest tightness for several months.",
        "Echocardiogram shows preserved ejection fraction.",
        "Angiography showed a moderate lesion in the LAD.",
        "Risk factors include hypertension and hyperlipidemia.",
        "Symptoms are stable on current medication.",
        "Aortic valve area is reported at 0.9 cm2.",
        "Former smoker with type 2 diabetes.",
        "Troponin was negative.",
    ],
    "orthopedics": [
        "Knee pain for 18 months, worse on stairs.",
        "Radiographs show moderate joint space narrowing.",
        "MRI demonstrates a degenerative medial meniscal tear.",
        "Range of motion is mildly reduced.",
        "BMI is 34.",
        "No mechanical locking is reported.",
        "Walking is limited to about a mile by pain.",
        "Night pain is occasional.",
    ],
    "oncology": [
        "Screening mammogram showed a cluster of calcifications.",
        "Core biopsy reported ductal carcinoma in situ.",
        "The lesion measures 1.4 cm on imaging.",
        "Axillary ultrasound was unremarkable.",
        "Family history includes a sister with breast cancer.",
        "Receptor status is ER positive.",
        "Staging studies are negative for distant disease.",
    ],
    "general_surgery": [
        "Intermittent right upper quadrant pain after fatty meals.",
        "Ultrasound shows gallstones without wall thickening.",
        "A reducible inguinal bulge is present on exam.",
        "Liver tests are normal.",
        "One emergency visit for pain last year.",
        "The hernia has been present for about a year with mild discomfort.",
        "There is no history of obstruction.",
    ],
    "gynecology": [
        "Heavy menstrual bleeding for the past year.",
        "Ultrasound shows a 4 cm intramural fibroid.",
        "Hemoglobin is 10.8.",
        "She is 46 and has completed her family.",
        "Endometrial biopsy was benign.",
        "Pelvic pain is cyclical.",
        "Prior trial of oral contraceptives was partly effective.",
    ],
    "urology": [
        "PSA is 6.2 with a free fraction of 18 percent.",
        "Biopsy showed Gleason 3+3 disease in two cores.",
        "Prostate volume is estimated at 60 mL.",
        "Nocturia three times a night.",
        "IPSS score is 18.",
        "MRI shows a PI-RADS 3 lesion.",
        "Post-void residual is 90 mL.",
    ],
}
GENERIC_HISTORY: list[str] = [
    "Records from the referring physician were reviewed.",
    "Past medical history is otherwise unremarkable.",
    "Medications were reviewed.",
    "Comorbidities include obesity and sleep apnea.",
    "The patient works in a physically demanding job.",
    "Symptoms have gradually progressed.",
    "Examination today was limited to the relevant region.",
    "Prior imaging was compared with the current study.",
    "The patient is otherwise active and independent.",
]
# Prior care and tests, in the past tense: they appear whatever the outcome, so words like
# "therapy", "injection" or a test name in the history do not decide the label.
PRIOR_CARE: list[str] = [
    "{Cons} has been tried for several months with partial relief.",
    "A course of {cons} last year gave little lasting benefit.",
    "There has been some response to {cons}.",
    "{Cons} was started by the primary care physician.",
    "Results of {test} were reviewed.",
    "{Test} was done before the referral.",
    "The patient has already had {test}.",
    "Symptoms persisted despite {cons}.",
    "The patient stopped {cons} because of side effects.",
    "Waiting list for surgery is about three months.",
    "Symptoms began about a year ago and have been slowly getting worse.",
    "The patient waited several weeks for this review.",
]
OPENERS: list[str] = [
    "Second opinion requested by the patient.",
    "Referred for review of a recommendation for {init}.",
    "Case reviewed at the request of the health plan.",
    "Records, imaging and the surgical consultation were reviewed.",
    "{Age}-year-old referred for a second opinion regarding {init}.",
    "Seen for a second opinion.",
    "Reason for review: proposed {init}.",
    "Thank you for asking me to review this patient.",
    "Independent review of the proposed treatment plan.",
    "I reviewed the chart and examined the patient.",
    "The patient was referred after being advised to have {init}.",
    "Virtual consultation; outside records reviewed.",
]
PREFERENCES: list[str] = [
    "The patient would prefer to avoid surgery if possible.",
    "The patient is keen to get back to work quickly.",
    "The patient is anxious about the operation.",
    "The patient wants to be sure surgery is the right choice.",
    "Family members attended and asked good questions.",
    "The patient is willing to follow whichever plan is advised.",
    "Cost and time off work are concerns for the patient.",
    "The patient asked about alternatives.",
]
CLOSINGS: list[str] = [
    "Happy to discuss further.",
    "Copy to the referring physician.",
    "Please contact me with any questions.",
    "The patient agrees with this plan.",
    "Questions were answered.",
    "Summary sent to the primary care physician.",
]

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


# Plausible (initial, recommended) family pairs per specialty and outcome for the corpus.
_PAIRS: dict[str, dict[str, list[tuple[str, str | None]]]] = {
    "spine": {
        "confirmed": [("spinal_fusion", None), ("discectomy", None), ("spinal_decompression", None)],
        "less_invasive": [
            ("spinal_fusion", "spinal_decompression"),
            ("spinal_fusion", "discectomy"),
            ("spinal_decompression", "spinal_injection"),
            ("discectomy", "spinal_injection"),
            ("spinal_fusion", "spinal_injection"),
        ],
        "more_invasive": [
            ("discectomy", "spinal_fusion"),
            ("spinal_decompression", "spinal_fusion"),
            ("spinal_injection", "discectomy"),
        ],
        "alternative": [("spinal_decompression", "discectomy"), ("discectomy", "spinal_decompression")],
        "other": [("spinal_fusion", None), ("spinal_decompression", None), ("discectomy", None)],
    },
    "cardiology": {
        "confirmed": [("cabg", None), ("pci", None), ("valve_replacement", None), ("tavr", None)],
        "less_invasive": [
            ("cabg", "pci"),
            ("valve_replacement", "tavr"),
            ("pci", "cardiac_cath"),
            ("cabg", "cardiac_cath"),
        ],
        "more_invasive": [("pci", "cabg"), ("tavr", "valve_replacement"), ("cardiac_cath", "pci")],
        "alternative": [("pci", "tavr"), ("cabg", "valve_replacement"), ("tavr", "pci")],
        "other": [("cabg", None), ("pci", None), ("cardiac_cath", None), ("valve_replacement", None)],
    },
    "orthopedics": {
        "confirmed": [("knee_arthroplasty", None), ("hip_arthroplasty", None), ("knee_arthroscopy", None)],
        "less_invasive": [
            ("knee_arthroplasty", "knee_arthroscopy"),
            ("knee_arthroplasty", "joint_injection"),
            ("knee_arthroscopy", "joint_injection"),
            ("hip_arthroplasty", "joint_injection"),
        ],
        "more_invasive": [
            ("knee_arthroscopy", "knee_arthroplasty"),
            ("joint_injection", "knee_arthroplasty"),
        ],
        "alternative": [("knee_arthroplasty", "hip_arthroplasty"), ("hip_arthroplasty", "knee_arthroplasty")],
        "other": [("knee_arthroplasty", None), ("knee_arthroscopy", None), ("hip_arthroplasty", None)],
    },
    "oncology": {
        "confirmed": [("mastectomy", None), ("partial_mastectomy", None)],
        "less_invasive": [("mastectomy", "partial_mastectomy")],
        "more_invasive": [("partial_mastectomy", "mastectomy")],
        "alternative": [("mastectomy", "hysterectomy@3"), ("partial_mastectomy", "prostate_resection")],
        "other": [("mastectomy", None), ("partial_mastectomy", None)],
    },
    "general_surgery": {
        "confirmed": [
            ("cholecystectomy@2", None),
            ("cholecystectomy@3", None),
            ("hernia_repair@2", None),
            ("hernia_repair@3", None),
        ],
        "less_invasive": [("cholecystectomy@3", "cholecystectomy@2"), ("hernia_repair@3", "hernia_repair@2")],
        "more_invasive": [
            ("hernia_repair@2", "cholecystectomy@3"),
            ("cholecystectomy@2", "cholecystectomy@3"),
            ("hernia_repair@2", "hernia_repair@3"),
        ],
        "alternative": [("cholecystectomy@2", "hernia_repair@2"), ("hernia_repair@3", "cholecystectomy@3")],
        "other": [
            ("cholecystectomy@2", None),
            ("cholecystectomy@3", None),
            ("hernia_repair@2", None),
            ("hernia_repair@3", None),
        ],
    },
    "gynecology": {
        "confirmed": [("hysterectomy@3", None), ("hysterectomy@2", None)],
        "less_invasive": [
            ("hysterectomy@3", "endometrial_ablation"),
            ("hysterectomy@3", "hysterectomy@2"),
            ("hysterectomy@2", "endometrial_ablation"),
        ],
        "more_invasive": [
            ("endometrial_ablation", "hysterectomy@3"),
            ("hysterectomy@2", "hysterectomy@3"),
            ("endometrial_ablation", "hysterectomy@2"),
        ],
        "alternative": [
            ("hysterectomy@2", "partial_mastectomy"),
            ("endometrial_ablation", "prostate_biopsy"),
        ],
        "other": [("hysterectomy@3", None), ("hysterectomy@2", None), ("endometrial_ablation", None)],
    },
    "urology": {
        "confirmed": [("prostatectomy", None), ("prostate_resection", None)],
        "less_invasive": [
            ("prostatectomy", "prostate_resection"),
            ("prostatectomy", "prostate_biopsy"),
            ("prostate_resection", "prostate_biopsy"),
        ],
        "more_invasive": [("prostate_resection", "prostatectomy"), ("prostate_biopsy", "prostate_resection")],
        "alternative": [("prostate_resection", "hysterectomy")],
        "other": [("prostatectomy", None), ("prostate_resection", None)],
    },
}


def training_corpus(n: int, seed: int) -> pl.DataFrame:
    """A labelled fallback corpus: summary_text, outcome, specialty, initial/recommended family and
    tier, phrase_group.

    Outcome shares loosely follow the published spread (e.g. Epstein 2013: 60.7% unnecessary,
    33.3% wrong/overly extensive, 6% right — literature.md #5; Graboys 1992: 16% deferred
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
