"""ID-number parsing: table-driven over real-format vectors, no mocks.

Check digits are computed here from the definition in GB 11643-1999 section 7.2
(sum of a_i * W_i over all 18 positions, W_i = 2^(i-1) mod 11, must be 1 mod 11), a
different formulation from the implementation's, so the two check each other.
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from idp.errors import InvalidInput
from idp.ids import IdType
from idp.ids import InvalidIdNumber
from idp.ids import Rule
from idp.ids import parse_id_number
from idp.ids import redact
from idp.ids.resident_id import mod11_2
from idp.ids.resident_id import upgrade_legacy

TODAY = date(2024, 6, 1)


def check_char(body: str) -> str:
    """The character c such that sum(a_i * 2^(i-1)) over all 18 positions is 1 mod 11."""
    for c in "0123456789X":
        digits = [int(d) for d in body] + [10 if c == "X" else int(c)]
        if sum(a * pow(2, 17 - pos, 11) for pos, a in enumerate(digits)) % 11 == 1:
            return c
    raise AssertionError("no check character")  # pragma: no cover


def full(body: str) -> str:
    return body + check_char(body)


def wrong_check(body: str) -> str:
    right = check_char(body)
    return body + ("0" if right != "0" else "1")


# Published examples: GB 11643-1999's own 11010519491231002X (Beijing Chaoyang, female),
# and a 2023 green card (Beijing, Canada 124) from a public validator's test suite.
RES, HMT = IdType.RESIDENT, IdType.HK_MACAO_TAIWAN_PERMIT
G17, G23 = IdType.PERMANENT_RESIDENCE_2017, IdType.PERMANENT_RESIDENCE_2023
EXAMPLE = "11010519491231002X"

VALID = [
    # input, normalised (None: the input itself), type, born, sex, region, nationality
    (EXAMPLE, None, RES, "1949-12-31", "F", "110105", None),
    ("11010519491231002x", EXAMPLE, RES, "1949-12-31", "F", "110105", None),
    ("１１０１０５１９４９１２３１００２ｘ", EXAMPLE, RES, "1949-12-31", "F", "110105", None),
    ("11010519491231002Ⅹ", EXAMPLE, RES, "1949-12-31", "F", "110105", None),  # IME Roman ten
    (" \t11010519491231002X\n", EXAMPLE, RES, "1949-12-31", "F", "110105", None),
    ("110105 19491231 002X", EXAMPLE, RES, "1949-12-31", "F", "110105", None),
    (full("44030520000229123"), None, RES, "2000-02-29", "M", "440305", None),
    (full("65010219000101001"), None, RES, "1900-01-01", "M", "650102", None),
    (full("71000019800101002"), None, RES, "1980-01-01", "F", "710000", None),
    (full("32010620240601005"), None, RES, "2024-06-01", "M", "320106", None),
    # GB 11643-1989 legacy numbers: "19" inserted, check digit computed.
    ("110105491231002", EXAMPLE, RES, "1949-12-31", "F", "110105", None),
    ("440305800101123", full("44030519800101123"), RES, "1980-01-01", "M", "440305", None),
    # Hong Kong / Macao / Taiwan residence permits.
    (full("81000019900101001"), None, HMT, "1990-01-01", "M", "810000", None),
    (full("82000020010615002"), None, HMT, "2001-06-15", "F", "820000", None),
    (full("83000019751111013"), None, HMT, "1975-11-11", "M", "830000", None),
    # Foreigner permanent residence, 2023: 9, province, ISO 3166-1 numeric, birth, seq, check.
    ("911124198108030024", None, G23, "1981-08-03", "F", "110000", "124"),
    (full("93184019850704011"), None, G23, "1985-07-04", "M", "310000", "840"),
    # Foreigner permanent residence, 2017: alpha-3, region(4), YYMMDD, seq, check (unchecked).
    ("KAZ110090123105", None, G17, "1990-12-31", None, "110000", "KAZ"),
    ("usa310115070412", "USA310115070412", G17, "2015-07-04", None, "310100", "USA"),
    ("DEU440199030107", None, G17, "1999-03-01", None, "440100", "DEU"),
]


@pytest.mark.parametrize(
    ("raw", "normalised", "id_type", "birthdate", "sex", "region", "nationality"), VALID
)
def test_valid_numbers_parse_and_normalise(
    raw: str,
    normalised: str | None,
    id_type: IdType,
    birthdate: str,
    sex: str | None,
    region: str,
    nationality: str | None,
) -> None:
    parsed = parse_id_number(number=raw, today=TODAY)
    assert parsed.normalised == (normalised or raw)
    assert parsed.id_type is id_type
    assert parsed.birthdate == date.fromisoformat(birthdate)
    assert parsed.sex == sex
    assert parsed.region == region
    assert parsed.nationality == nationality


def test_repr_hides_the_number_and_birth_date() -> None:
    shown = repr(parse_id_number(number=EXAMPLE, today=TODAY))
    assert "19491231" not in shown and "1949" not in shown and "002X" not in shown
    assert "resident" in shown


def test_legacy_number_is_flagged_and_equals_its_18_digit_form() -> None:
    legacy = parse_id_number(number="110105491231002", today=TODAY)
    modern = parse_id_number(number="11010519491231002X", today=TODAY)
    assert legacy.converted_from_legacy and not modern.converted_from_legacy
    assert legacy.normalised == modern.normalised
    assert upgrade_legacy(number="110105491231002") == "11010519491231002X"


REJECTED = [
    ("", Rule.EMPTY),
    ("  \u3000 ", Rule.EMPTY),  # ideographic space only
    ("1101051949123100", Rule.LENGTH),
    ("11010519491231002X1", Rule.LENGTH),
    ("1" * 65, Rule.LENGTH),
    ("11010519491231002?", Rule.CHARACTERS),
    ("110105-19491231-002X", Rule.CHARACTERS),
    ("11010519491231002é", Rule.CHARACTERS),
    ("1101051949123100X2", Rule.LAYOUT),
    ("X10105491231002", Rule.LAYOUT),  # 15 characters, one letter: neither format
    ("KA1110090123105", Rule.LAYOUT),
    ("KAZ11009012310X", Rule.LAYOUT),
    (full("00010519491231002"), Rule.REGION),
    (full("16010519491231002"), Rule.REGION),
    (full("81100019900101001"), Rule.REGION),  # a permit region is exactly 810000
    (full("90010519491231002"), Rule.REGION),  # 9 = green card; 00 is no province
    ("000105491231002", Rule.REGION),
    ("KAZ990090123105", Rule.REGION),
    (full("11010519490230002"), Rule.BIRTH_DATE_NOT_REAL),
    (full("11010519491301002"), Rule.BIRTH_DATE_NOT_REAL),
    (full("11010519000229002"), Rule.BIRTH_DATE_NOT_REAL),  # 1900 was not a leap year
    (full("11010519490000002"), Rule.BIRTH_DATE_NOT_REAL),
    ("110105491331002", Rule.BIRTH_DATE_NOT_REAL),
    ("KAZ110090023105", Rule.BIRTH_DATE_NOT_REAL),
    (full("81000019900231001"), Rule.BIRTH_DATE_NOT_REAL),
    (full("91112419810832002"), Rule.BIRTH_DATE_NOT_REAL),
    (full("11010520240602002"), Rule.BIRTH_DATE_FUTURE),
    (full("82000020300101002"), Rule.BIRTH_DATE_FUTURE),
    (full("44052418800101001"), Rule.BIRTH_DATE_TOO_EARLY),  # GB 11643-1999's other example
    (full("11010518991231002"), Rule.BIRTH_DATE_TOO_EARLY),
    (full("91100019810803002"), Rule.NATIONALITY),
    (full("91115619810803002"), Rule.NATIONALITY),  # 156 is China itself
    ("CHN110090123105", Rule.NATIONALITY),
    ("110105194912310021", Rule.CHECK_DIGIT),
    (wrong_check("44030520000229123"), Rule.CHECK_DIGIT),
    (wrong_check("81000019900101001"), Rule.CHECK_DIGIT),
    ("911124198108030025", Rule.CHECK_DIGIT),
]


@pytest.mark.parametrize(("raw", "rule"), REJECTED)
def test_each_rejection_names_the_rule_and_never_echoes_the_number(raw: str, rule: Rule) -> None:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(number=raw, today=TODAY)
    exc = caught.value
    assert exc.rule is rule
    assert isinstance(exc, InvalidInput) and exc.field == "id_number"
    message = str(exc)
    assert rule.value in message and message == exc.public and message.isascii()
    digits = "".join(ch for ch in raw if ch.isalnum())
    if len(digits) >= 6:
        assert digits[:6] not in message and digits[-6:] not in message


def test_born_today_is_accepted_and_born_tomorrow_is_not() -> None:
    parse_id_number(number=full("11010520240601002"), today=date(2024, 6, 1))
    with pytest.raises(InvalidIdNumber):
        parse_id_number(number=full("11010520240601002"), today=date(2024, 5, 31))


def test_exactly_one_check_character_is_accepted_per_body() -> None:
    rng = random.Random(11643)
    for _ in range(200):
        body = (
            rng.choice(["110105", "440305", "650102", "810000"])
            + "19"
            + (
                f"{rng.randint(10, 99)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
                f"{rng.randint(0, 999):03d}"
            )
        )
        assert mod11_2(body=body) == check_char(body)
        accepted = []
        for c in "0123456789X":
            try:
                parse_id_number(number=body + c, today=TODAY)
                accepted.append(c)
            except InvalidIdNumber as exc:
                assert exc.rule is Rule.CHECK_DIGIT
        assert accepted == [check_char(body)]


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("11010519491231002X", "11**************2X"),
        ("110105491231002", "11***********02"),
        ("KAZ110090123105", "KA***********05"),
        ("110105 19491231 002X", "11**************2X"),
        ("12345", "*****"),
        ("张三", "**"),
        ("", ""),
        ("9" * 40, "99" + "*" * 20 + "..."),
    ],
)
def test_redact_keeps_only_province_and_last_two(raw: str, masked: str) -> None:
    assert redact(raw) == masked
    assert "19491231" not in redact(raw)
