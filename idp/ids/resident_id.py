"""Citizen identity numbers, GB 11643-1999 (https://openstd.samr.gov.cn, 公民身份号码).

GB 11643-1999 section 4: "公民身份号码是特征组合码，由十七位数字本体码和一位数字校验码组成。
排列顺序从左至右依次为：六位数字地址码，八位数字出生日期码，三位数字顺序码和一位数字校验码。"
(a 6-digit region code, an 8-digit birth date, a 3-digit sequence code whose odd values go
to men and even values to women, and an ISO 7064:1983 MOD 11-2 check digit, 10 written X).

This module also holds the vocabulary every ID format shares (``IdType``, ``Rule``,
``IdNumber``, ``InvalidIdNumber``). It is pure: no Flask, no database, no logging.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from enum import StrEnum
from typing import Literal

from ..errors import InvalidInput

Sex = Literal["M", "F"]


class IdType(StrEnum):
    RESIDENT = "resident"  # GB 11643-1999, including converted 15-digit numbers
    HK_MACAO_TAIWAN_PERMIT = "hk_macao_taiwan_permit"  # 港澳台居民居住证 (2018)
    PERMANENT_RESIDENCE_2017 = "permanent_residence_2017"  # 外国人永久居留身份证, 15 chars
    PERMANENT_RESIDENCE_2023 = "permanent_residence_2023"  # 外国人永久居留身份证, 18 digits


class Rule(StrEnum):
    """The rule a rejected number broke; the value is the public (ASCII) wording."""

    EMPTY = "no ID number was given"
    CHARACTERS = "contains characters that are not allowed"
    LENGTH = "wrong length"
    LAYOUT = "does not have the layout of any accepted ID type"
    REGION = "unknown region code"
    NATIONALITY = "unknown nationality code"
    BIRTH_DATE_NOT_REAL = "birth date is not a real date"
    BIRTH_DATE_FUTURE = "birth date is in the future"
    BIRTH_DATE_TOO_EARLY = "birth date is before 1900"
    CHECK_DIGIT = "check digit does not match"


class InvalidIdNumber(InvalidInput):
    """A number broke ``rule``. The message names the rule and never echoes the number."""

    def __init__(self, *, rule: Rule) -> None:
        super().__init__(f"The ID number is not valid: {rule.value}.", field="id_number")
        self.rule = rule


@dataclass(frozen=True)
class IdNumber:
    # repr=False: an IdNumber that reaches a log line or a traceback shows neither.
    normalised: str = field(repr=False)  # canonical form: blind-index input, what is sealed
    id_type: IdType
    birthdate: date | None = field(repr=False)
    sex: Sex | None
    region: str | None  # 6-digit GB/T 2260 code (province level for permits)
    nationality: str | None = None  # permanent residence: ISO 3166-1 alpha-3 or numeric-3
    converted_from_legacy: bool = False  # presented as a 15-digit GB 11643-1989 number


# GB/T 2260 province-level codes (first two digits of the region code). 71 (Taiwan) is
# listed in GB/T 2260; 81/82/83 appear only as 810000/820000/830000 on residence permits
# (other_ids.py), and a leading 9 marks a foreigner (2023 permanent-residence format).
MAINLAND_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65".split()
)
RESIDENT_PROVINCES = MAINLAND_PROVINCES | {"71"}

# ISO 7064:1983 MOD 11-2 weights: W_i = 2^(i-1) mod 11, positions counted from the right
# with the check digit at position 1 (GB 11643-1999 section 7.2).
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
EARLIEST_BIRTH = date(1900, 1, 1)
_BEIJING = timezone(timedelta(hours=8))


def today_in_china() -> date:
    """Birth dates are calendar dates in China (UTC+8), not in the server's zone."""
    return datetime.now(_BEIJING).date()


def mod11_2(*, body: str) -> str:
    """ISO 7064 MOD 11-2 check character of 17 digits: "0"-"9" or "X" for 10."""
    if len(body) != 17 or not body.isdigit():
        raise ValueError("MOD 11-2 body must be 17 digits")
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def birth_date(*, yyyymmdd: str, today: date) -> date:
    """A real calendar date, not in the future and not before 1900."""
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise InvalidIdNumber(rule=Rule.BIRTH_DATE_NOT_REAL) from None
    if born > today:
        raise InvalidIdNumber(rule=Rule.BIRTH_DATE_FUTURE)
    if born < EARLIEST_BIRTH:
        raise InvalidIdNumber(rule=Rule.BIRTH_DATE_TOO_EARLY)
    return born


def sex_of(*, digit: str) -> Sex:
    # GB 11643-1999 section 5.3: "顺序码的奇数分配给男性，偶数分配给女性。"
    return "M" if int(digit) % 2 else "F"


def check_gb11643_layout(*, number: str) -> None:
    """17 digits then a digit or X; the length was checked by the caller."""
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidIdNumber(rule=Rule.LAYOUT)


def verify_check_digit(*, number: str) -> None:
    if mod11_2(body=number[:17]) != number[17]:
        raise InvalidIdNumber(rule=Rule.CHECK_DIGIT)


def parse_resident_id(*, number: str, today: date | None = None) -> IdNumber:
    """An 18-digit resident number, already normalised (upper case, no spaces)."""
    today = today or today_in_china()
    if len(number) != 18:
        raise InvalidIdNumber(rule=Rule.LENGTH)
    check_gb11643_layout(number=number)
    if number[:2] not in RESIDENT_PROVINCES:
        raise InvalidIdNumber(rule=Rule.REGION)
    born = birth_date(yyyymmdd=number[6:14], today=today)
    verify_check_digit(number=number)
    return IdNumber(
        normalised=number,
        id_type=IdType.RESIDENT,
        birthdate=born,
        sex=sex_of(digit=number[16]),
        region=number[:6],
    )


def upgrade_legacy(*, number: str) -> str:
    """GB 11643-1989 15-digit number -> its 18-digit GB 11643-1999 form.

    The 1989 number is region(6) + YYMMDD + sequence(3); the 1999 standard inserts the
    century "19" (every 1989 number was issued to someone born in the 1900s) and appends
    the MOD 11-2 check digit.
    """
    if len(number) != 15 or not number.isdigit():
        raise InvalidIdNumber(rule=Rule.LAYOUT)
    body = number[:6] + "19" + number[6:]
    return body + mod11_2(body=body)


def parse_legacy_resident_id(*, number: str, today: date | None = None) -> IdNumber:
    """A 15-digit number, validated and normalised to its 18-digit form."""
    if len(number) != 15:
        raise InvalidIdNumber(rule=Rule.LENGTH)
    parsed = parse_resident_id(number=upgrade_legacy(number=number), today=today)
    return IdNumber(
        normalised=parsed.normalised,
        id_type=IdType.RESIDENT,
        birthdate=parsed.birthdate,
        sex=parsed.sex,
        region=parsed.region,
        converted_from_legacy=True,
    )
