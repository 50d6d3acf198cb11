"""The privacy guard: what in a landing file looks like a direct identifier (DESIGN "Privacy").

Inputs must already be de-identified; the pipeline refuses what is not, before any row is read.
"""

from __future__ import annotations

import re

from pipelines.lib.landing.files import normalise_column

# Column names that carry HIPAA Safe Harbor direct identifiers (45 CFR 164.514(b)(2)): names, SSN,
# medical record numbers, e-mail, phone/fax, street address, date of birth, a full 5-digit ZIP.
# Matched against the column name lower-cased with every non-alphanumeric run turned into "_".
IDENTIFIER_COLUMN = re.compile(
    r"""^(
        (.*_)?(first|last|middle|full|patient|member|given|family|sur)_?name
      | name | surname
      | (.*_)?(ssn|social_security(_number)?|sin)
      | (.*_)?(mrn|medical_record(_number)?|record_number|chart_number)
      | (.*_)?(e_?mail(_address)?)
      | (.*_)?(phone|telephone|mobile|cell|fax)(_number|_no)?
      | (.*_)?(street|address|address_line_?\d?|home_address|street_address)
      | (.*_)?(dob|date_of_birth|birth_?date|birthdate)
      | (.*_)?(zip|zip_?code|zipcode|postal_?code|zip5)
    )$""",
    re.VERBOSE,
)


def identifier_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if IDENTIFIER_COLUMN.match(normalise_column(c))]
