"""ID numbers: validate and normalise every form a citizen may present.

``parse_id_number(number=...)`` is the single entry. It accepts, after NFKC normalisation
(full-width digits and letters become ASCII), upper-casing and removal of spaces:

===========================  ==========================================  ===============
form                         shape                                       normalised to
===========================  ==========================================  ===============
resident, GB 11643-1999      18 digits, last may be X                    itself
resident, GB 11643-1989      15 digits                                   18-digit form
HK / Macao / Taiwan permit   18 digits from 810000 / 820000 / 830000     itself
permanent residence, 2017    3 letters + 12 digits                       itself
permanent residence, 2023    18 digits from 9                            itself
===========================  ==========================================  ===============

Rejections raise ``InvalidIdNumber`` whose ``rule`` says which rule was broken; its
message never contains the number. An ID number is an identifier, not a secret: a valid
one authenticates nobody (DESIGN.md "Assurance").
"""

from __future__ import annotations

import unicodedata
from datetime import date

from .other_ids import is_permit_shaped
from .other_ids import parse_permanent_residence_2017
from .other_ids import parse_permanent_residence_2023
from .other_ids import parse_residence_permit
from .protect import redact
from .resident_id import IdNumber
from .resident_id import IdType
from .resident_id import InvalidIdNumber
from .resident_id import Rule
from .resident_id import parse_legacy_resident_id
from .resident_id import parse_resident_id

__all__ = [
    "IdNumber",
    "IdType",
    "InvalidIdNumber",
    "Rule",
    "normalise",
    "parse_id_number",
    "redact",
]

# Longer input is rejected before any work: nothing valid is longer than 18 characters.
_MAX_INPUT = 64


def normalise(number: str) -> str:
    """NFKC (full-width "１１０１…ｘ" -> "1101…x"), drop whitespace, upper-case.

    Spaces inside the number are dropped too: forms and letters often print it grouped
    ("110105 19491231 002X").
    """
    folded = unicodedata.normalize("NFKC", number)
    return "".join(folded.split()).upper()


def parse_id_number(*, number: str, today: date | None = None) -> IdNumber:
    """Validate ``number`` and return its normalised form and what it tells.

    ``today`` (a date in China) exists for tests; it defaults to the current date.
    """
    if len(number) > _MAX_INPUT:
        raise InvalidIdNumber(rule=Rule.LENGTH)
    value = normalise(number)
    if not value:
        raise InvalidIdNumber(rule=Rule.EMPTY)
    if not (value.isascii() and value.isalnum()):
        raise InvalidIdNumber(rule=Rule.CHARACTERS)
    if len(value) == 18:
        if value[0] == "9":
            return parse_permanent_residence_2023(number=value, today=today)
        if is_permit_shaped(value):
            return parse_residence_permit(number=value, today=today)
        return parse_resident_id(number=value, today=today)
    if len(value) == 15:
        if value.isdigit():
            return parse_legacy_resident_id(number=value, today=today)
        return parse_permanent_residence_2017(number=value, today=today)
    raise InvalidIdNumber(rule=Rule.LENGTH)
