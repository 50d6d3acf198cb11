"""Identifiers refused wherever they hide: in column names (CSV headers, Parquet fields, nested
JSON keys), in the values of every field, in a column of values, in a header row that is data.
Each of the 18 HIPAA Safe Harbor categories is planted; ordinary columns and clinical text pass."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.generate import generate_frames
from pipelines.lib.landing.contracts import load_contracts
from pipelines.lib.landing.ingest import ingest
from pipelines.lib.landing.naming import q
from pipelines.lib.landing.privacy import column_category, findings_sql, load_policy, mask_sql, tokens
from tests.landing.test_ingest import CASE_HEADER, OPINION_HEADER, TODAY, audit, case_row, reasons, write

LETTERS = set("ABCDEFGHIJKLMNOPQR")  # 45 CFR 164.514(b)(2)(i)(A)-(R)


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


def found(text: str) -> list[str]:
    conn = duckdb.connect()
    return list(conn.execute(f"SELECT {findings_sql('$v')}", {"v": text}).fetchall()[0][0])


def stored_text(conn: duckdb.DuckDBPyConnection) -> str:
    """Every value of every table ingest wrote, as one text to search."""
    tables = conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('audit', 'quarantine', 'staging')"
    ).fetchall()
    return "\n".join(str(row) for (t,) in tables for row in conn.execute(f"SELECT * FROM {t}").fetchall())


# --- column names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DateOfBirth", ("date", "of", "birth")),
        ("SSNLast4", ("ssn", "last", "4")),
        ("ssn_last4", ("ssn", "last", "4")),
        ("meta.DateOfBirth", ("meta", "date", "of", "birth")),
        ("PatientFullName", ("patient", "full", "name")),
        ("IPAddress", ("ip", "address")),
        ("e-mail", ("e", "mail")),
        ("\ufeffZIP5", ("zip", "5")),
    ],
)
def test_column_names_split_at_humps_digits_and_separators(name: str, expected: tuple[str, ...]) -> None:
    assert tokens(name) == expected


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("DateOfBirth", "date"),
        ("MedicalRecordNumber", "mrn"),
        ("SocialSecurityNumber", "ssn"),
        ("PhoneNumber", "phone"),
        ("pt_name", "name"),
        ("ssn_last4", "ssn"),
        ("HomeAddress", "geography"),
        ("AddressLine1", "geography"),
        ("meta.DateOfBirth", "date"),
        ("PatientFullName", "name"),
    ],
)
def test_the_issues_column_names_are_identifiers(name: str, category: str) -> None:
    assert column_category(name) == category


#: Column names for each Safe Harbor category, as senders spell them.
PLANTED_COLUMNS: dict[str, list[str]] = {
    "A": ["patient_name", "FirstName", "surname", "guarantor.fullName"],
    "B": ["street", "city", "zip_code", "Zip5", "geo.latitude", "county_fips"],
    "C": ["birth_date", "dob", "AdmissionDate", "discharge_dt", "date_of_death"],
    "D": ["mobile", "home_phone", "cell_phone"],
    "E": ["fax", "FaxNumber"],
    "F": ["email", "EmailAddress", "contact.e_mail"],
    "G": ["ssn", "SocialSecurityNo", "member_ssn"],
    "H": ["mrn", "medical_record_no", "chart_number", "patientId"],
    "I": ["member_id", "SubscriberNumber", "mbi", "policy_number"],
    "J": ["account_number", "acct", "credit_card", "iban"],
    "K": ["drivers_license", "license_number", "passport", "certificate_no"],
    "L": ["vin", "license_plate", "VehicleId"],
    "M": ["device_serial", "SerialNumber", "udi", "imei", "mac_address"],
    "N": ["url", "website", "homepage"],
    "O": ["ip", "ip_address", "clientIP", "ipv6"],
    "P": ["fingerprint", "voice_print", "biometrics"],
    "Q": ["photo", "headshot", "profile_picture"],
    "R": ["national_id", "employee_id", "user_id", "tax_id"],
}


def test_every_safe_harbor_category_is_caught_in_a_column_name() -> None:
    policy = load_policy()
    letter = {c.key: c.hipaa for c in policy.columns}
    assert set(PLANTED_COLUMNS) == LETTERS == set(letter.values())
    for hipaa, names in PLANTED_COLUMNS.items():
        for name in names:
            category = column_category(name)
            assert category is not None and letter[category] == hipaa, (name, category, hipaa)


ORDINARY_COLUMNS = [
    "plan_id",
    "region",
    "diagnosis_code",
    "opinion_date",
    "referral_date",
    "service_date",
    "updated_at",
    "plan_name",
    "procedure_name",
    "zip3",
    "Zip_3_digit",
    "birth_year",
    "YearOfBirth",
    "cell_type",
    "ip_days",
    "discharge_disposition",
    "account_type",
    "platelet_count",
    "device_type",
    "state",
    "country",
    "notes",
    "hospital_name",
    "surgery_date",
    "comment",
]


@pytest.mark.parametrize("name", ORDINARY_COLUMNS)
def test_ordinary_columns_are_not_identifiers(name: str) -> None:
    assert column_category(name) is None


def test_no_contract_column_looks_like_an_identifier_even_without_the_exemption() -> None:
    columns = {c for contract in load_contracts().values() for c in contract.columns}
    assert {"case_id", "patient_key", "plan_id", "reviewer_id", "summary_text"} <= columns
    assert {c: column_category(c) for c in columns if column_category(c)} == {}


def _cases_frame(extra: dict[str, object]) -> dict[str, list[object]]:
    base: dict[str, list[object]] = {
        "case_id": ["c1"],
        "patient_key": ["p1"],
        "specialty": ["spine"],
        "referral_date": ["2026-01-05"],
        "initial_procedure_code": ["22612"],
    }
    return {**base, **{k: [v] for k, v in extra.items()}}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_an_identifier_column_in_any_format_refuses_the_file_naming_column_and_category(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path, fmt: str
) -> None:
    planted = {"jane.roe.planted@example.org", "1961-03-14", "Jane Planted-Roe", "4 Elm Street"}
    if fmt == "csv":
        write(
            tmp_path,
            "cases.csv",
            [
                CASE_HEADER + ",PatientFullName,DateOfBirth",
                case_row("c1") + ",Jane Planted-Roe,1961-03-14",
            ],
        )
        expected = ["PatientFullName (name)", "DateOfBirth (date)"]
    elif fmt == "parquet":
        meta = pa.array([{"DateOfBirth": "1961-03-14", "contact": {"HomeAddress": "4 Elm Street"}}])
        table = pa.table(
            {
                **{k: pa.array(v) for k, v in _cases_frame({}).items()},
                "PatientFullName": pa.array(["Jane Planted-Roe"]),
                "meta": meta,
            }
        )
        pq.write_table(table, tmp_path / "cases.parquet")
        expected = [
            "PatientFullName (name)",
            "meta.DateOfBirth (date)",
            "meta.contact.HomeAddress (geography)",
        ]
    else:
        row = {k: v[0] for k, v in _cases_frame({}).items()}
        row["meta"] = {"DateOfBirth": "1961-03-14", "contact": [{"e_mail": "jane.roe.planted@example.org"}]}
        (tmp_path / "cases.jsonl").write_text(json.dumps(row) + "\n")
        expected = ["meta.DateOfBirth (date)", "meta.contact.e_mail (email)"]
    res = ingest(conn, tmp_path, run_id="r1", today=TODAY).files[0]
    assert res.status == "rejected"
    assert res.error == (
        f"identifier-like column(s) {', '.join(expected)}: file refused whole, nothing of it stored "
        "(inputs must be de-identified: README, What is refused)"
    )
    assert conn.execute("SELECT count(*) FROM staging.cases").fetchall() == [(0,)]
    assert conn.execute("SELECT count(*) FROM quarantine.rows").fetchall() == [(0,)]
    text = stored_text(conn)
    assert not {p for p in planted if p in text}


# --- values ---------------------------------------------------------------------------------

#: Identifier values for each Safe Harbor category, as they turn up in a narrative or a key field.
PLANTED_VALUES: dict[str, list[tuple[str, str]]] = {
    "A": [("Seen with Mrs Alvarez today.", "name"), ("name: Jane Roe", "name")],
    "B": [("Lives at ZIP 02139.", "zip"), ("Boston, MA 02118", "zip"), ("02139-1234", "zip")],
    "C": [("DOB 03/14/1961", "dob"), ("born on March 3, 1958", "dob"), ("died on 2024-03-02", "date")],
    "D": [("617-555-0142", "phone"), ("(312) 555-0187", "phone"), ("+44 20 7946 0958", "phone")],
    "E": [("fax 212.555.0134", "phone")],
    "F": [("jane.doe@example.org", "email")],
    "G": [("536-22-0417", "ssn"), ("536220417", "ssn"), ("536 22 0417", "ssn")],
    "H": [("MRN: 00482913", "mrn"), ("medical record number A-77120", "mrn")],
    "I": [("1EG4-TE5-MK73", "beneficiary"), ("member id XJ4471902", "beneficiary")],
    "J": [("4111 1111 1111 1111", "account"), ("account no 00912234", "account")],
    "K": [("license number D1234567", "licence"), ("passport X12345678", "licence")],
    "L": [("VIN 1HGCM82633A004352", "vehicle"), ("licence plate 7ABC123", "vehicle")],
    "M": [("serial number SN-88231", "device"), ("00:1A:2B:3C:4D:5E", "device")],
    "N": [("https://portal.example.org/u/8812", "url"), ("www.example.org", "url")],
    "O": [("192.168.10.45", "ip"), ("2001:db8::1", "ip")],
    "P": [("fingerprint template Rk9PQkFSYmF6cXV4", "biometric"), ("A" * 90, "biometric")],
    "Q": [("data:image/png;base64,iVBORw0KGgoAAAANSUhEUg", "photo")],
    "R": [("employee id 445566", "other_id"), ("user id U-88123", "other_id")],
}


def test_every_safe_harbor_category_is_caught_in_a_value() -> None:
    """A fax number has the shape of a phone number, so (E) is found as `phone` (D)."""
    letter = {v.key: v.hipaa for v in load_policy().values}
    assert set(PLANTED_VALUES) == LETTERS == set(letter.values()) | {"E"}
    for hipaa, examples in PLANTED_VALUES.items():
        for text, category in examples:
            assert category in found(text), (text, category)
            assert letter[category] == ("D" if hipaa == "E" else hipaa)


CLEAN_TEXT = [
    "L4-L5 stenosis, 3 months of PT, EF 55%, CPT 22612 then 27447.",
    "Referral 2026-01-05, opinion 2026-02-01T10:30:00, follow-up 03/14/2026.",
    "M51.16 and S83.241A; BMI 31.2; dose 0.5 mg/kg/day; 10:30:00.",
    "CT 71250 showed no mass; MD 99214 visit; OR 27447 booked.",
    "Discussed options.Patient prefers physical therapy; see e.g. the handout.",
    "$28,000.50 allowed; 1,200 mg; 12/2025",
    "C0123ABCDE",
    "P7QK4M2ZX9",
    "OP9K2M4X7Q1Z",
    "RV0A1B",
    "PL3K9Q",
]


@pytest.mark.parametrize("text", CLEAN_TEXT)
def test_clinical_text_codes_dates_and_pseudonyms_are_not_identifiers(text: str) -> None:
    assert found(text) == []


def test_a_generated_programme_holds_no_identifier_value_in_any_string_field() -> None:
    frames = generate_frames(3000, 17)
    conn = duckdb.connect()
    for name in ("cases", "opinions", "follow_ups"):
        frame = frames[name].select(pl.col(pl.String))
        conn.register("t", frame.to_arrow())
        for column in frame.columns:
            hits = conn.execute(f"SELECT count(*) FROM t WHERE len({findings_sql(q(column))}) > 0").fetchall()
            assert hits == [(0,)], (name, column)
        conn.unregister("t")


def test_masking_replaces_every_match_and_keeps_json_valid() -> None:
    conn = duckdb.connect()
    record = {
        "summary_text": 'Pt "JR" at https://x.example.org/a\\"b, DOB 03/14/1961, call (312) 555-0187',
        "plan_id": "jane.doe@example.org",
        "case_id": 'c1"\\',
    }
    masked = conn.execute(f"SELECT {mask_sql('$t')}", {"t": json.dumps(record)}).fetchall()[0][0]
    back = json.loads(masked)
    assert back["plan_id"] == "[redacted email]"
    assert back["summary_text"] == 'Pt "JR" at [redacted url]\\"b, [redacted dob], call [redacted phone]'
    assert back["case_id"] == 'c1"\\'


# --- the reference: Microsoft Presidio's pattern recognisers -------------------------------------

#: Ours -> the Presidio entity that means the same.
PRESIDIO_ENTITY = {
    "ssn": "US_SSN",
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "ip": "IP_ADDRESS",
    "url": "URL",
    "account": "CREDIT_CARD",
    "beneficiary": "US_MBI",
    "device": "MAC_ADDRESS",
    "dob": "DATE_TIME",
}
#: One shared list: each text with the categories we find in it.
SHARED_EXAMPLES: list[tuple[str, set[str]]] = [
    ("SSN 536-22-0417 on file", {"ssn"}),
    ("536 22 0417", {"ssn"}),
    ("536.22.0417", {"ssn"}),
    ("536220417", {"ssn"}),
    ("SSN 123-45-6789", {"ssn"}),
    ("078-05-1120", {"ssn"}),
    ("jane.doe@example.org", {"email"}),
    ("r.smith+spine@mailhost.net", {"email"}),
    ("user at example dot org", set()),
    ("617-555-0142", {"phone"}),
    ("(312) 555-0187", {"phone"}),
    ("+1 415.555.0123", {"phone"}),
    ("6175550142", {"phone"}),
    ("+44 20 7946 0958", {"phone"}),
    ("call 555-0142", set()),
    ("192.168.10.45", {"ip"}),
    ("10.0.0.1", {"ip"}),
    ("2001:db8::1", {"ip"}),
    ("fe80:0:0:0:200:f8ff:fe21:67cf", {"ip"}),
    ("999.1.1.1", set()),
    ("version 1.2.3", set()),
    ("https://portal.example.org/u/8812", {"url"}),
    ("www.example.org", {"url"}),
    ("example.com/jane", {"url"}),
    ("example.com", set()),
    ("Discussed options.pt prefers rest", set()),
    ("DOB 03/14/1961", {"dob"}),
    ("2026-01-05", set()),
    ("03/14/1961", set()),
    ("4111 1111 1111 1111", {"account"}),
    ("5500-0000-0000-0004", {"account"}),
    ("4111111111111112", {"account"}),
    ("1EG4-TE5-MK73", {"beneficiary"}),
    ("1EG4TE5MK73", {"beneficiary"}),
    ("00:1A:2B:3C:4D:5E", {"device"}),
    ("CPT 27447 then 22612", set()),
    ("M51.16 and S83.2", set()),
    ("L4-L5 stenosis, EF 55%, 3 months of PT", set()),
    ("C0123ABCDE", set()),
    ("10:30:00", set()),
    ("$28,000.50", set()),
    ("02139-1234", {"zip"}),
]
#: Where we and Presidio part, on purpose: (text, our category) -> why.
DIVERGENCES: dict[tuple[str, str], str] = {
    (
        "SSN 123-45-6789",
        "ssn",
    ): "Presidio drops published sample SSNs; a sample SSN is masked here all the same",
    ("078-05-1120", "ssn"): "the same sample SSN (the Woolworth card)",
    ("078-05-1120", "phone"): "phonenumbers reads a 3-2-4 grouping as a phone number; here it is an SSN",
    ("192.168.10.45", "phone"): "phonenumbers reads a dotted quad as a phone number; here it is an IP",
    ("jane.doe@example.org", "url"): "Presidio also reads an e-mail's domain as a URL",
    ("r.smith+spine@mailhost.net", "url"): "Presidio also reads an e-mail's domain as a URL",
    ("example.com", "url"): "a bare domain is not a URL here: it also matches 'options.pt' in unspaced text",
    ("Discussed options.pt prefers rest", "url"): "Presidio reads a missing space after a full stop as a URL",
    ("2026-01-05", "dob"): "any date is a DATE_TIME to Presidio; only a date tied to birth, death, "
    "admission or discharge is an identifier here (contract dates are allowed)",
    ("03/14/1961", "dob"): "a date with no birth context is not a date of birth",
    ("4111111111111112", "account"): "Presidio requires the Luhn check; any 13-19 digit run is masked here",
    ("02139-1234", "ssn"): "Presidio reads ZIP+4 as a (very weak) SSN; here it is a ZIP",
    ("02139-1234", "phone"): "phonenumbers reads ZIP+4 as a phone number; here it is a ZIP",
}


@pytest.fixture(scope="session")
def presidio():
    """Presidio's pattern recognisers, called directly: no spaCy model, no network (tldextract
    reads its bundled suffix list instead of fetching one)."""
    pytest.importorskip("presidio_analyzer")
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IpRecognizer,
        MacAddressRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsMbiRecognizer,
        UsSsnRecognizer,
    )

    offline = tldextract.TLDExtract(suffix_list_urls=())
    patch = pytest.MonkeyPatch()
    patch.setattr(tldextract, "extract", offline)
    recognisers = [
        EmailRecognizer(),
        UsSsnRecognizer(),
        PhoneRecognizer(),
        IpRecognizer(),
        UrlRecognizer(),
        DateRecognizer(),
        CreditCardRecognizer(),
        UsMbiRecognizer(),
        MacAddressRecognizer(),
    ]

    def entities(text: str) -> set[str]:
        return {
            r.entity_type
            for rec in recognisers
            for r in rec.analyze(text, entities=rec.supported_entities, nlp_artifacts=None)
        }

    yield entities
    patch.undo()


def test_our_patterns_find_what_the_shared_examples_say() -> None:
    assert [(t, set(found(t))) for t, _ in SHARED_EXAMPLES] == SHARED_EXAMPLES


def test_our_patterns_agree_with_presidios_recognisers_but_where_documented(presidio) -> None:
    disagreements = {}
    for text, ours in SHARED_EXAMPLES:
        theirs = presidio(text)
        for category, entity in PRESIDIO_ENTITY.items():
            if (category in ours) != (entity in theirs) and (text, category) not in DIVERGENCES:
                disagreements[(text, category)] = (category in ours, entity in theirs)
    assert disagreements == {}
    examples = dict(SHARED_EXAMPLES)
    stale = [(t, c) for t, c in DIVERGENCES if (c in examples[t]) == (PRESIDIO_ENTITY[c] in presidio(t))]
    assert stale == [], "a documented divergence no longer diverges: remove it"


# --- ingest: values in any field ----------------------------------------------------------------


def test_an_identifier_in_a_key_field_quarantines_the_row_masked_with_only_contract_columns(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "cases.csv",
        [
            CASE_HEADER + ",notes",
            case_row("c1") + ",fine",
            case_row("c2").replace(",pl1,", ",536-22-0417,") + ",call 617-555-0142",
            case_row("c3").replace("p-c3", "jane.doe@example.org") + ",ok",
            case_row("c4").replace(",CA,", ",02139,") + ",ok",
        ],
    )
    write(tmp_path, "opinions.csv", [OPINION_HEADER, "o1,c1,r.smith@mailhost.net,2026-02-01,defer,,,,"])
    report = ingest(conn, tmp_path, run_id="r1", today=TODAY)
    assert reasons(conn) == [
        ("cases.csv", 2, ["plan_id:identifier_ssn"]),
        ("cases.csv", 3, ["patient_key:identifier_email"]),
        ("cases.csv", 4, ["region:pattern", "region:identifier_zip"]),
        ("opinions.csv", 1, ["reviewer_id:identifier_email"]),
    ]
    records = [
        json.loads(r[0])
        for r in conn.execute("SELECT record FROM quarantine.rows ORDER BY file_name, row_number").fetchall()
    ]
    assert records[0]["plan_id"] == "[redacted ssn]" and "notes" not in records[0]
    assert records[1]["patient_key"] == "[redacted email]"
    assert records[2]["region"] == "[redacted zip]" and records[2]["initial_procedure_code"] == "22612"
    assert set(records[0]) == set(load_contracts()["cases"].columns)
    assert report.files[0].ignored_columns == ["notes"]
    text = stored_text(conn)
    for planted in ("536-22-0417", "617-555-0142", "jane.doe@example.org", "02139", "r.smith@mailhost.net"):
        assert planted not in text, planted
    assert audit(conn)["cases.csv"] == ("partial", 4, 1, 3, 0)


def test_a_column_of_identifier_values_refuses_the_file_with_the_share_sampled(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Nine-digit pseudonymous keys look exactly like undashed SSNs: refused (README says so)."""
    rows = [case_row(f"c{i}").replace(f"p-c{i}", f"53622{i:04d}") for i in range(1, 9)]
    write(
        tmp_path,
        "cases.csv",
        [CASE_HEADER + ",contact", *[r + f",pt{i}@example.org" for i, r in enumerate(rows)]],
    )
    res = ingest(conn, tmp_path, run_id="r1", today=TODAY).files[0]
    assert (res.status, res.rows_read) == ("rejected", 0)
    assert res.error == (
        "identifier-like values in column(s) contact (email: 100% of 8 sampled values), "
        "patient_key (ssn: 100% of 8 sampled values): file refused whole, nothing of it stored "
        "(inputs must be de-identified: README, What is refused)"
    )
    assert "536220001" not in stored_text(conn) and "pt0@example.org" not in stored_text(conn)


def test_a_few_identifier_values_in_a_large_column_quarantine_rows_not_the_file(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    rows = [case_row(f"c{i}") for i in range(40)]
    rows[7] = rows[7].replace(",pl1,", ",536-22-0417,")
    rows[9] = rows[9].replace(",pl1,", ",536-22-0418,")
    write(tmp_path, "cases.csv", [CASE_HEADER, *rows])
    ingest(conn, tmp_path, run_id="r1", today=TODAY)
    assert audit(conn)["cases.csv"] == ("partial", 40, 38, 2, 0)


def test_a_header_row_of_data_is_refused_without_being_echoed(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "cases.csv",
        ["c1,jane.doe@example.org,spine,2026-01-05,22612", "c2,p2,spine,2026-01-06,22612"],
    )
    res = ingest(conn, tmp_path, run_id="r1", today=TODAY).files[0]
    assert res.status == "rejected"
    assert res.error.startswith(
        "column name(s) that are themselves identifier values (is the header row missing?) at position 2 (email)"
    )
    assert "jane.doe@example.org" not in stored_text(conn)


def test_an_identifier_quoted_in_a_readers_error_is_not_stored(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    line = 'c2,p2,"spine SSN 536-22-0417 jane.doe@example.org, 617-555-0142'
    (tmp_path / "cases.csv").write_bytes(f"{CASE_HEADER}\r\n{case_row('c1')}\r\n{line}\r\nc3,x\r\n".encode())
    res = ingest(conn, tmp_path, run_id="r1", today=TODAY).files[0]
    assert res.error == "Invalid Input Error: CSV Error on Line: 3 Value with unterminated quote found."
    assert not {p for p in ("536-22-0417", "jane.doe", "617-555-0142") if p in stored_text(conn)}


def test_valid_typed_values_are_not_read_as_identifiers(
    conn: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A contract date, a code or a number that satisfies its field is not scanned: the ISO
    referral date and a nine-digit amount load; a narrative's ISO date does too."""
    write(tmp_path, "cases.csv", [CASE_HEADER, case_row("c1")])
    write(
        tmp_path,
        "opinions.csv",
        [
            OPINION_HEADER,
            'o1,c1,r1,2026-02-01,defer,,,"Seen 2026-02-01, CPT 22612 declined",2026-02-01T10:00:00',
        ],
    )
    write(
        tmp_path,
        "follow_ups.csv",
        ["case_id,procedure_code,service_date,allowed_amount", "c1,22612,2026-05-01,123456789"],
    )
    ingest(conn, tmp_path, run_id="r1", today=dt.date(2026, 6, 30))
    assert conn.execute("SELECT count(*) FROM quarantine.rows").fetchall() == [(0,)]
    assert conn.execute("SELECT allowed_amount FROM staging.follow_ups").fetchall() == [(123456789.0,)]
