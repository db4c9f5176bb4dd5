"""ID numbers of residents who are not PRC citizens: residence permits and green cards.

- 港澳台居民居住证 (Residence Permit for Hong Kong, Macao and Taiwan Residents), issued since
  2018 under 《港澳台居民居住证申领发放办法》 (国办发〔2018〕81号): "公民身份号码" layout of
  GB 11643-1999 with the region code 810000 (Hong Kong), 820000 (Macao) or 830000
  (Taiwan), birth date, sequence code and the ISO 7064 MOD 11-2 check digit.
- 外国人永久居留身份证, 2017 edition: 15 characters, "3 位拉丁字母+12 位数字" (National
  Immigration Administration, 新版外国人永久居留身份证机读信息规则, 2023, section 2).
- 外国人永久居留身份证, 2023 edition (issued from 2023-12-01), same source: "由 15 位（3 位拉丁
  字母+12 位数字）调整为 18 位（17 位数字+1 位校验位）... 号码首位设置为"9" ... 最后一位采用
  MOD11-2 算法设置为校验码，与公民身份号码校验方式相同。"

Pure module: no Flask, no database, no logging.
"""

from __future__ import annotations

from datetime import date

from .resident_id import MAINLAND_PROVINCES
from .resident_id import IdNumber
from .resident_id import IdType
from .resident_id import InvalidIdNumber
from .resident_id import Rule
from .resident_id import birth_date
from .resident_id import check_gb11643_layout
from .resident_id import sex_of
from .resident_id import today_in_china
from .resident_id import verify_check_digit

# 810000 Hong Kong, 820000 Macao, 830000 Taiwan: the only region codes a permit carries.
PERMIT_REGIONS = frozenset({"810000", "820000", "830000"})

# ISO 3166-1 numeric code of China: a foreigner's green card never carries it.
_CHINA_NUMERIC = "156"


def is_permit_shaped(number: str) -> bool:
    return len(number) == 18 and number[:2] in {"81", "82", "83"}


def parse_residence_permit(*, number: str, today: date | None = None) -> IdNumber:
    """An 18-digit Hong Kong / Macao / Taiwan residence-permit number."""
    today = today or today_in_china()
    if len(number) != 18:
        raise InvalidIdNumber(rule=Rule.LENGTH)
    check_gb11643_layout(number=number)
    if number[:6] not in PERMIT_REGIONS:
        raise InvalidIdNumber(rule=Rule.REGION)
    born = birth_date(yyyymmdd=number[6:14], today=today)
    verify_check_digit(number=number)
    return IdNumber(
        normalised=number,
        id_type=IdType.HK_MACAO_TAIWAN_PERMIT,
        birthdate=born,
        sex=sex_of(digit=number[16]),
        region=number[:6],
    )


def parse_permanent_residence_2023(*, number: str, today: date | None = None) -> IdNumber:
    """The 18-digit 2023 green-card number.

    Layout (NIA 2023 rules, table 1): "9" (foreigner), 2-digit province of the issuing
    office, 3-digit ISO 3166-1 numeric nationality, 8-digit birth date, 2-digit sequence,
    1 digit odd for men / even for women, MOD 11-2 check digit.
    """
    today = today or today_in_china()
    if len(number) != 18:
        raise InvalidIdNumber(rule=Rule.LENGTH)
    check_gb11643_layout(number=number)
    if number[0] != "9":
        raise InvalidIdNumber(rule=Rule.LAYOUT)
    if number[1:3] not in MAINLAND_PROVINCES:
        raise InvalidIdNumber(rule=Rule.REGION)
    nationality = number[3:6]
    # Structure only: ISO 3166-1 numeric codes are 001-999; the full list changes with
    # ISO maintenance agency notices and is checked by the issuing authority, not here.
    if nationality in {"000", _CHINA_NUMERIC}:
        raise InvalidIdNumber(rule=Rule.NATIONALITY)
    born = birth_date(yyyymmdd=number[6:14], today=today)
    verify_check_digit(number=number)
    return IdNumber(
        normalised=number,
        id_type=IdType.PERMANENT_RESIDENCE_2023,
        birthdate=born,
        sex=sex_of(digit=number[16]),
        region=number[1:3] + "0000",
        nationality=nationality,
    )


def parse_permanent_residence_2017(*, number: str, today: date | None = None) -> IdNumber:
    """The 15-character 2017 green-card number: 3 letters + 12 digits.

    Layout as read by card readers and third-party validators (no official text is
    published): ISO 3166-1 alpha-3 nationality, 4-digit region of the accepting office
    (GB/T 2260, first four digits), birth date YYMMDD, one sequence digit, one check
    character. The check algorithm and whether the sequence digit encodes sex are not in
    any public specification, so neither is enforced nor derived here: we validate the
    structure, the region's province and the birth date, and leave sex unknown. Every
    number is still checked against the population registry before it proofs anyone.
    """
    today = today or today_in_china()
    if len(number) != 15:
        raise InvalidIdNumber(rule=Rule.LENGTH)
    nationality, digits = number[:3], number[3:]
    if not (nationality.isascii() and nationality.isalpha() and nationality.isupper()):
        raise InvalidIdNumber(rule=Rule.LAYOUT)
    if not digits.isdigit():
        raise InvalidIdNumber(rule=Rule.LAYOUT)
    if nationality == "CHN":
        raise InvalidIdNumber(rule=Rule.NATIONALITY)
    if digits[:2] not in MAINLAND_PROVINCES:
        raise InvalidIdNumber(rule=Rule.REGION)
    born = _two_digit_year_birth(yymmdd=digits[4:10], today=today)
    return IdNumber(
        normalised=number,
        id_type=IdType.PERMANENT_RESIDENCE_2017,
        birthdate=born,
        sex=None,
        region=digits[:4] + "00",
        nationality=nationality,
    )


def _two_digit_year_birth(*, yymmdd: str, today: date) -> date:
    """YYMMDD read as the most recent past date: 2000s unless that is in the future.

    A holder born in 1920 and one born in 2020 share "20": a green card is far likelier to
    belong to the child, and the registry holds the full date either way.
    """
    for century in ("20", "19"):
        try:
            return birth_date(yyyymmdd=century + yymmdd, today=today)
        except InvalidIdNumber as exc:
            if exc.rule is not Rule.BIRTH_DATE_FUTURE:
                raise
    raise InvalidIdNumber(rule=Rule.BIRTH_DATE_FUTURE)  # pragma: no cover - 19xx is past
