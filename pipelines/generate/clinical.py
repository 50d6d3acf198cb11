"""The clinical world the generator draws from: scenarios, related procedures, people and places.

Why tables rather than formulas: a chart of outcomes by procedure or a propensity model only
shows believable structure if a diagnosis leads to the procedures a surgeon would propose for
it, and a changed plan lands on an option a reviewer would actually suggest. These tables say
so explicitly; the generator combines them with the reference catalogue (codes, families, tiers).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.generate.parameters import SPECIALTIES

CATALOGUE_CSV = Path(__file__).resolve().parents[1] / "lib" / "reference" / "data" / "procedures.csv"


def load_catalogue(path: Path = CATALOGUE_CSV) -> pl.DataFrame:
    """procedure_code, specialty, family, tier, cost_usd from the reference catalogue."""
    cat = pl.read_csv(path, infer_schema=False).select(
        pl.col("procedure_code").str.strip_chars(),
        pl.col("specialty").str.strip_chars(),
        pl.col("family").str.strip_chars(),
        pl.col("tier").cast(pl.Int64),
        pl.col("cost_usd").cast(pl.Float64),
    )
    return cat.unique("procedure_code", keep="first", maintain_order=True)


# Scenario: (specialty, ICD-10-CM diagnosis, initial CPT/HCPCS code, weight within specialty,
# log-odds shift of "plan changed", urgency profile, P(female), age profile or None).
# The shifts encode what the literature singles out as often changed: fusion for non-specific
# back pain (Epstein 2013), arthroscopy for a degenerative knee (BMJ 2017 rapid recommendation),
# angiography for stable chest pain (Graboys 1992), non-acute PCI (Chan 2011: 11.6%
# inappropriate, 38% uncertain); acute and injury presentations are rarely changed.
Scenario = tuple[str, str, str, float, float, str, float, str | None]
SCENARIOS: tuple[Scenario, ...] = (
    ("spine", "M51.16", "63030", 0.16, 0.0, "elective", 0.45, None),
    ("spine", "M51.16", "22630", 0.04, 0.6, "elective", 0.45, None),
    ("spine", "M48.062", "63047", 0.14, 0.0, "elective", 0.5, "older"),
    ("spine", "M48.062", "22612", 0.05, 0.4, "elective", 0.5, "older"),
    ("spine", "M43.16", "22630", 0.08, -0.3, "elective", 0.6, None),
    ("spine", "M43.16", "22633", 0.05, -0.3, "elective", 0.6, None),
    ("spine", "M54.50", "22612", 0.06, 1.0, "elective", 0.55, None),
    ("spine", "M54.50", "62323", 0.06, 0.3, "elective", 0.55, None),
    ("spine", "M47.816", "64635", 0.04, 0.3, "elective", 0.55, None),
    ("spine", "M47.816", "64493", 0.03, 0.3, "elective", 0.55, None),
    ("spine", "M50.120", "22551", 0.08, 0.0, "elective", 0.5, None),
    ("spine", "M50.120", "62321", 0.03, 0.2, "elective", 0.5, None),
    ("spine", "M80.08XA", "22514", 0.04, 0.2, "semi", 0.75, "older"),
    ("spine", "M96.1", "63650", 0.04, 0.5, "elective", 0.5, None),
    ("spine", "S32.009A", "22612", 0.02, -1.2, "emergent", 0.45, None),
    ("orthopedics", "M17.11", "27447", 0.16, 0.0, "elective", 0.6, "older"),
    ("orthopedics", "M17.12", "27447", 0.14, 0.0, "elective", 0.6, "older"),
    ("orthopedics", "M17.0", "27447", 0.05, -0.2, "elective", 0.6, "older"),
    ("orthopedics", "M17.11", "27446", 0.03, 0.2, "elective", 0.6, "older"),
    ("orthopedics", "M16.11", "27130", 0.10, -0.1, "elective", 0.55, "older"),
    ("orthopedics", "M16.12", "27130", 0.08, -0.1, "elective", 0.55, "older"),
    ("orthopedics", "M23.221", "29881", 0.07, 0.9, "elective", 0.45, None),
    ("orthopedics", "M17.11", "29881", 0.03, 1.3, "elective", 0.55, "older"),
    ("orthopedics", "S83.241A", "29881", 0.03, -0.5, "semi", 0.4, "young"),
    ("orthopedics", "S83.511A", "29888", 0.04, -0.6, "semi", 0.4, "young"),
    ("orthopedics", "M75.121", "29827", 0.06, 0.2, "elective", 0.45, None),
    ("orthopedics", "M19.011", "23472", 0.03, 0.0, "elective", 0.55, "older"),
    ("orthopedics", "M20.11", "28296", 0.03, 0.4, "elective", 0.85, None),
    ("orthopedics", "G56.01", "64721", 0.04, 0.2, "elective", 0.65, None),
    ("orthopedics", "G56.01", "29848", 0.03, 0.2, "elective", 0.65, None),
    ("orthopedics", "S72.001A", "27130", 0.02, -1.5, "emergent", 0.7, "older"),
    ("cardiology", "I25.10", "93458", 0.18, 0.8, "elective", 0.4, None),
    ("cardiology", "I25.10", "92928", 0.14, 0.3, "elective", 0.35, None),
    ("cardiology", "I25.10", "33533", 0.10, 0.0, "elective", 0.3, None),
    ("cardiology", "I25.110", "92928", 0.08, -0.4, "semi", 0.35, None),
    ("cardiology", "I21.4", "92928", 0.04, -1.5, "emergent", 0.35, None),
    ("cardiology", "I21.4", "33533", 0.02, -0.8, "acute", 0.3, None),
    ("cardiology", "R07.9", "93458", 0.06, 1.0, "elective", 0.5, None),
    ("cardiology", "I35.0", "33405", 0.08, 0.2, "elective", 0.45, "older"),
    ("cardiology", "I35.0", "33361", 0.08, -0.2, "elective", 0.45, "older"),
    ("cardiology", "I34.0", "33418", 0.03, 0.0, "elective", 0.5, "older"),
    ("cardiology", "I34.0", "33430", 0.03, 0.2, "elective", 0.5, "older"),
    ("cardiology", "I48.91", "93656", 0.05, 0.4, "elective", 0.4, None),
    ("cardiology", "I49.5", "33208", 0.03, -0.3, "semi", 0.45, "older"),
    ("cardiology", "I47.20", "33249", 0.03, 0.0, "semi", 0.3, None),
    ("oncology", "C50.911", "19303", 0.10, 0.4, "semi", 0.99, None),
    ("oncology", "C50.912", "19303", 0.09, 0.4, "semi", 0.99, None),
    ("oncology", "C50.911", "19301", 0.08, -0.2, "semi", 0.99, None),
    ("oncology", "C50.912", "19301", 0.07, -0.2, "semi", 0.99, None),
    ("oncology", "C50.911", "19307", 0.04, 0.3, "semi", 0.99, None),
    ("oncology", "D05.11", "19303", 0.06, 0.9, "elective", 1.0, None),
    ("oncology", "D05.11", "19301", 0.04, 0.1, "elective", 1.0, None),
    ("oncology", "R92.8", "19083", 0.04, 0.6, "elective", 1.0, None),
    ("oncology", "C34.11", "32663", 0.07, -0.2, "semi", 0.5, "older"),
    ("oncology", "C34.11", "32480", 0.04, 0.2, "semi", 0.5, "older"),
    ("oncology", "R91.1", "32663", 0.04, 1.0, "elective", 0.5, "older"),
    ("oncology", "C18.7", "44204", 0.07, -0.3, "semi", 0.5, "older"),
    ("oncology", "C18.7", "44140", 0.05, 0.2, "semi", 0.5, "older"),
    ("oncology", "C25.0", "48150", 0.04, 0.3, "semi", 0.5, "older"),
    ("oncology", "C77.3", "38525", 0.03, 0.2, "semi", 0.9, None),
    ("general_surgery", "K80.20", "47562", 0.20, 0.3, "elective", 0.65, None),
    ("general_surgery", "K80.10", "47562", 0.12, -0.1, "elective", 0.65, None),
    ("general_surgery", "K80.10", "47600", 0.04, 0.4, "elective", 0.6, None),
    ("general_surgery", "K81.0", "47562", 0.05, -0.9, "acute", 0.6, None),
    ("general_surgery", "K40.90", "49650", 0.14, 0.2, "elective", 0.12, None),
    ("general_surgery", "K40.90", "49505", 0.08, 0.2, "elective", 0.12, None),
    ("general_surgery", "K43.2", "49591", 0.05, 0.0, "elective", 0.55, None),
    ("general_surgery", "K42.9", "49591", 0.04, 0.1, "elective", 0.45, None),
    ("general_surgery", "K35.80", "44970", 0.06, -1.0, "emergent", 0.5, "young"),
    ("general_surgery", "K35.80", "44950", 0.02, -0.5, "emergent", 0.5, "young"),
    ("general_surgery", "E66.01", "43775", 0.07, 0.2, "elective", 0.78, "middle"),
    ("general_surgery", "E66.01", "43644", 0.05, 0.3, "elective", 0.78, "middle"),
    ("gynecology", "D25.9", "58150", 0.12, 0.5, "elective", 1.0, None),
    ("gynecology", "D25.9", "58571", 0.12, 0.2, "elective", 1.0, None),
    ("gynecology", "D25.9", "58140", 0.04, 0.3, "elective", 1.0, None),
    ("gynecology", "D25.9", "58545", 0.05, 0.1, "elective", 1.0, None),
    ("gynecology", "N92.0", "58571", 0.08, 0.6, "elective", 1.0, None),
    ("gynecology", "N92.0", "58353", 0.08, 0.2, "elective", 1.0, None),
    ("gynecology", "N80.9", "58571", 0.07, 0.3, "elective", 1.0, "young"),
    ("gynecology", "N80.9", "58661", 0.04, 0.3, "elective", 1.0, "young"),
    ("gynecology", "N81.2", "58260", 0.07, 0.0, "elective", 1.0, "older"),
    ("gynecology", "N39.3", "57288", 0.06, 0.2, "elective", 1.0, None),
    ("gynecology", "N83.201", "58661", 0.06, 0.7, "elective", 1.0, "young"),
    ("gynecology", "C54.1", "58150", 0.04, -0.6, "semi", 1.0, "older"),
    ("gynecology", "C54.1", "58571", 0.04, -0.6, "semi", 1.0, "older"),
    ("gynecology", "N85.00", "58558", 0.04, 0.0, "elective", 1.0, None),
    ("urology", "N40.1", "52601", 0.18, 0.3, "elective", 0.0, "older"),
    ("urology", "N40.1", "52441", 0.06, 0.2, "elective", 0.0, "older"),
    ("urology", "C61", "55866", 0.16, 0.5, "elective", 0.0, None),
    ("urology", "C61", "55840", 0.04, 0.5, "elective", 0.0, None),
    ("urology", "C61", "55875", 0.03, 0.3, "elective", 0.0, None),
    ("urology", "R97.20", "55700", 0.08, 0.6, "elective", 0.0, None),
    ("urology", "N20.0", "52356", 0.08, 0.0, "semi", 0.4, "middle"),
    ("urology", "N20.0", "50590", 0.05, 0.1, "semi", 0.4, "middle"),
    ("urology", "C67.9", "52235", 0.06, -0.5, "semi", 0.25, "older"),
    ("urology", "C64.1", "50220", 0.04, 0.3, "semi", 0.4, None),
    ("urology", "C64.1", "50545", 0.04, 0.0, "semi", 0.4, None),
    ("urology", "N39.3", "53445", 0.03, 0.2, "elective", 0.0, "older"),
    ("urology", "R31.9", "52000", 0.05, 0.3, "elective", 0.35, None),
)

# (elective, urgent, emergent) probabilities per urgency profile (assumption).
URGENCY_PROFILES: dict[str, tuple[float, float, float]] = {
    "elective": (0.90, 0.09, 0.01),
    "semi": (0.60, 0.35, 0.05),
    "acute": (0.20, 0.50, 0.30),
    "emergent": (0.05, 0.35, 0.60),
}

# Age-band distributions (order of AGE_BANDS); specialty defaults plus scenario overrides.
AGE_PROFILES: dict[str, tuple[float, ...]] = {
    "spine": (0.002, 0.03, 0.09, 0.17, 0.22, 0.23, 0.18, 0.075, 0.003),
    "orthopedics": (0.005, 0.04, 0.06, 0.10, 0.18, 0.27, 0.24, 0.10, 0.005),
    "cardiology": (0.001, 0.004, 0.02, 0.07, 0.17, 0.28, 0.28, 0.15, 0.025),
    "oncology": (0.003, 0.01, 0.04, 0.12, 0.22, 0.28, 0.22, 0.10, 0.007),
    "general_surgery": (0.03, 0.12, 0.16, 0.17, 0.18, 0.16, 0.11, 0.06, 0.01),
    "gynecology": (0.005, 0.06, 0.18, 0.35, 0.24, 0.10, 0.05, 0.015, 0.0),
    "urology": (0.002, 0.01, 0.03, 0.08, 0.18, 0.32, 0.26, 0.11, 0.008),
    "young": (0.06, 0.30, 0.26, 0.18, 0.11, 0.06, 0.02, 0.01, 0.0),
    "middle": (0.005, 0.12, 0.22, 0.26, 0.22, 0.12, 0.05, 0.005, 0.0),
    "older": (0.0, 0.003, 0.01, 0.04, 0.14, 0.30, 0.32, 0.17, 0.017),
}

# Payer mix by age band (commercial, medicare, medicaid, self_pay, other): Medicare from 65,
# so the 60-69 band is split (assumption).
PAYER_BY_AGE: tuple[tuple[float, ...], ...] = (
    (0.55, 0.0, 0.40, 0.02, 0.03),
    (0.66, 0.02, 0.22, 0.04, 0.06),
    (0.68, 0.02, 0.20, 0.04, 0.06),
    (0.68, 0.03, 0.19, 0.04, 0.06),
    (0.68, 0.05, 0.17, 0.04, 0.06),
    (0.45, 0.45, 0.06, 0.02, 0.02),
    (0.08, 0.88, 0.02, 0.01, 0.01),
    (0.05, 0.92, 0.02, 0.005, 0.005),
    (0.03, 0.95, 0.02, 0.0, 0.0),
)
# Plans per payer type ("a few dozen plans"); self-pay has none.
PLANS_PER_PAYER: dict[str, int] = {"commercial": 20, "medicare": 8, "medicaid": 6, "self_pay": 0, "other": 4}

# Regions: states with approximate population weights and some of their 3-digit ZIP prefixes.
# None of the prefixes is on HIPAA Safe Harbor's list of ZIP3 areas under 20,000 people
# ([hipaa-safe-harbor]), which must be published as 000.
STATES: dict[str, tuple[float, tuple[str, ...]]] = {
    "CA": (0.12, ("900", "902", "913", "917", "921", "926", "941", "945", "950", "958")),
    "TX": (0.09, ("750", "752", "770", "773", "782", "787", "799")),
    "FL": (0.07, ("320", "322", "327", "331", "334", "336", "338")),
    "NY": (0.06, ("100", "104", "112", "117", "120", "142")),
    "PA": (0.04, ("150", "152", "170", "180", "191")),
    "IL": (0.04, ("600", "604", "606", "611", "625")),
    "OH": (0.035, ("430", "432", "441", "452")),
    "GA": (0.033, ("300", "303", "310", "317")),
    "NC": (0.032, ("270", "275", "282", "286")),
    "MI": (0.03, ("480", "482", "488", "495")),
    "NJ": (0.028, ("070", "075", "080", "088")),
    "VA": (0.026, ("220", "223", "230", "240")),
    "WA": (0.024, ("980", "981", "983", "992")),
    "AZ": (0.022, ("850", "852", "857")),
    "MA": (0.021, ("010", "014", "021", "024")),
    "TN": (0.021, ("370", "372", "381")),
    "IN": (0.02, ("460", "462", "468")),
    "MO": (0.018, ("630", "631", "641", "658")),
    "MD": (0.018, ("206", "208", "212")),
    "WI": (0.018, ("530", "532", "537")),
    "CO": (0.017, ("800", "802", "805")),
    "MN": (0.017, ("550", "554", "559")),
    "SC": (0.016, ("290", "294", "296")),
    "AL": (0.015, ("350", "352", "366")),
    "LA": (0.014, ("700", "701", "708")),
    "KY": (0.013, ("400", "402", "405")),
    "OR": (0.013, ("970", "972", "974")),
    "OK": (0.012, ("730", "731", "741")),
    "CT": (0.011, ("060", "064", "066")),
    "UT": (0.010, ("840", "841", "844")),
}
ZIP3_SHARE = 0.25  # sources that report a ZIP prefix instead of a state (assumption)

# Families a reviewer would plausibly recommend instead of each initial family (any tier; the
# tier decides whether that is less invasive, more invasive or an alternative). The initial
# family itself is always related (open -> laparoscopic within a family is less invasive).
RELATED: dict[str, tuple[str, ...]] = {
    "spinal_fusion": (
        "spinal_decompression",
        "discectomy",
        "spinal_injection",
        "nerve_ablation",
        "neurostimulation",
        "physical_therapy",
    ),
    "spinal_decompression": ("discectomy", "spinal_injection", "spinal_fusion", "physical_therapy"),
    "discectomy": ("spinal_injection", "spinal_decompression", "spinal_fusion", "physical_therapy"),
    "vertebral_augmentation": ("spinal_injection", "spinal_fusion", "physical_therapy"),
    "neurostimulation": ("spinal_injection", "nerve_ablation", "spinal_decompression", "physical_therapy"),
    "spinal_injection": ("nerve_ablation", "discectomy", "physical_therapy"),
    "nerve_ablation": ("spinal_injection", "physical_therapy"),
    "knee_arthroplasty": ("knee_arthroscopy", "joint_injection", "physical_therapy", "bracing"),
    "hip_arthroplasty": ("joint_injection", "physical_therapy"),
    "shoulder_arthroplasty": ("shoulder_arthroscopy", "joint_injection", "physical_therapy"),
    "knee_arthroscopy": ("joint_injection", "knee_arthroplasty", "physical_therapy", "bracing"),
    "ligament_reconstruction": ("knee_arthroscopy", "physical_therapy", "bracing"),
    "shoulder_arthroscopy": (
        "joint_injection",
        "soft_tissue_injection",
        "shoulder_arthroplasty",
        "physical_therapy",
    ),
    "bunion_correction": ("soft_tissue_injection", "bracing", "physical_therapy"),
    "carpal_tunnel_release": ("soft_tissue_injection", "bracing", "physical_therapy"),
    "joint_injection": ("knee_arthroscopy", "soft_tissue_injection", "physical_therapy", "bracing"),
    "cabg": ("pci", "cardiac_cath", "office_management", "cardiac_rehabilitation", "noninvasive_testing"),
    "valve_replacement": ("tavr", "transcatheter_valve_repair", "office_management", "noninvasive_testing"),
    "tavr": ("valve_replacement", "transcatheter_valve_repair", "office_management", "noninvasive_testing"),
    "transcatheter_valve_repair": ("valve_replacement", "tavr", "office_management", "noninvasive_testing"),
    "pci": ("cabg", "cardiac_cath", "office_management", "cardiac_rehabilitation", "noninvasive_testing"),
    "cardiac_cath": ("pci", "office_management", "noninvasive_testing"),
    "catheter_ablation": ("cardiac_device", "office_management", "noninvasive_testing"),
    "cardiac_device": ("catheter_ablation", "office_management", "noninvasive_testing"),
    "mastectomy": (
        "partial_mastectomy",
        "biopsy",
        "systemic_therapy",
        "radiation_therapy",
        "office_management",
    ),
    "partial_mastectomy": (
        "mastectomy",
        "biopsy",
        "systemic_therapy",
        "radiation_therapy",
        "office_management",
    ),
    "lymph_node_excision": ("biopsy", "systemic_therapy", "radiation_therapy", "office_management"),
    "biopsy": ("partial_mastectomy", "mastectomy", "office_management"),
    "lung_resection": ("bronchoscopy", "systemic_therapy", "radiation_therapy", "office_management"),
    "bronchoscopy": ("lung_resection", "office_management"),
    "colectomy": ("systemic_therapy", "office_management"),
    "pancreatectomy": ("systemic_therapy", "radiation_therapy", "office_management"),
    "cholecystectomy": ("office_management", "diagnostic_imaging", "endoscopy"),
    "hernia_repair": ("office_management",),
    "appendectomy": ("office_management", "diagnostic_imaging"),
    "bariatric_surgery": ("endoscopy", "office_management"),
    "endoscopy": ("office_management", "diagnostic_imaging"),
    "hysterectomy": (
        "myomectomy",
        "uterine_embolization",
        "endometrial_ablation",
        "hysteroscopy",
        "hormonal_therapy",
        "diagnostic_imaging",
        "office_management",
    ),
    "myomectomy": ("hysterectomy", "uterine_embolization", "hormonal_therapy", "diagnostic_imaging"),
    "uterine_embolization": ("myomectomy", "hysterectomy", "hormonal_therapy"),
    "adnexal_surgery": ("diagnostic_imaging", "office_management", "hormonal_therapy"),
    "incontinence_surgery": ("office_management",),
    "endometrial_ablation": ("hysteroscopy", "hysterectomy", "hormonal_therapy"),
    "hysteroscopy": ("endometrial_ablation", "hormonal_therapy", "diagnostic_imaging"),
    "prostatectomy": ("brachytherapy", "prostate_biopsy", "monitoring", "office_management"),
    "prostate_resection": ("prostate_lift", "cystoscopy", "office_management"),
    "prostate_lift": ("prostate_resection", "cystoscopy", "office_management"),
    "prostate_biopsy": ("prostatectomy", "monitoring", "office_management"),
    "brachytherapy": ("prostatectomy", "monitoring", "office_management"),
    "nephrectomy": ("monitoring", "office_management"),
    "ureteroscopy": ("lithotripsy", "office_management"),
    "lithotripsy": ("ureteroscopy", "office_management"),
    "bladder_tumor_resection": ("cystoscopy", "office_management"),
    "incontinence_implant": ("office_management",),
    "cystoscopy": ("office_management",),
}

# Tier-0 families that are care rather than a test: what "non-surgical" recommends.
THERAPY_FAMILIES: frozenset[str] = frozenset(
    {
        "physical_therapy",
        "bracing",
        "office_management",
        "cardiac_rehabilitation",
        "systemic_therapy",
        "radiation_therapy",
        "hormonal_therapy",
        "monitoring",
    }
)
# Families that are a work-up: what "further testing" points at when it names a code.
DIAGNOSTIC_FAMILIES: frozenset[str] = frozenset(
    {
        "diagnostic_imaging",
        "noninvasive_testing",
        "biopsy",
        "bronchoscopy",
        "prostate_biopsy",
        "cystoscopy",
        "hysteroscopy",
        "colposcopy",
        "endoscopy",
        "cardiac_cath",
        "monitoring",
    }
)


def scenario_frame(catalogue: pl.DataFrame) -> pl.DataFrame:
    """SCENARIOS as a frame, restricted to codes the catalogue holds, with family and tier."""
    frame = pl.DataFrame(
        SCENARIOS,
        schema=[
            "specialty",
            "diagnosis_code",
            "initial_procedure_code",
            "weight",
            "effect",
            "urgency_profile",
            "p_female",
            "age_profile",
        ],
        orient="row",
    )
    frame = frame.join(
        catalogue.select(pl.col("procedure_code").alias("initial_procedure_code"), "family", "tier"),
        on="initial_procedure_code",
        how="inner",
    ).with_columns(pl.col("age_profile").fill_null(pl.col("specialty")))
    missing = sorted(set(SPECIALTIES) - set(frame["specialty"].to_list()))
    if missing:
        raise ValueError(f"the procedure catalogue has no scenario codes for {', '.join(missing)}")
    return frame
