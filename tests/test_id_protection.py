"""The ID number at rest: sealed, found by blind index, never stored or logged in clear.

The first tests are pure (a keyring from a fixed master key); the rest go through the
citizens service on both backends and read the raw tables with SQL.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import pytest
from sqlalchemy import text

from idp.errors import InvalidInput
from idp.ids import InvalidIdNumber
from idp.ids import parse_id_number
from idp.ids.protect import UnsealError
from idp.ids.protect import blind_index
from idp.ids.protect import seal
from idp.ids.protect import unseal
from idp.keyring import keyring_from_master

KEYRING = keyring_from_master(b"\x01" * 32)
OTHER_KEYRING = keyring_from_master(b"\x02" * 32)
NUMBER = "11010519491231002X"
CITIZEN_ID_NUMBER = NUMBER  # the conftest `citizen`
CITIZEN_PASSWORD = "correct horse battery staple"
CONTEXT = "citizen/0000/id_number"
# Every spelling of the demo citizen's number that must never reach a table or a log.
CLEAR_FORMS = ("11010519491231002X", "11010519491231002x", "110105491231002", "19491231002")


def test_seal_round_trips() -> None:
    blob = seal(KEYRING, NUMBER, context=CONTEXT)
    assert unseal(KEYRING, blob, context=CONTEXT) == NUMBER
    assert NUMBER.encode() not in blob and b"19491231" not in blob


def test_seal_uses_a_fresh_nonce_each_time() -> None:
    first, second = (seal(KEYRING, NUMBER, context=CONTEXT) for _ in range(2))
    assert first != second and first[1:13] != second[1:13]
    assert first[0] == second[0] == 0x01  # format version
    assert len(first) == 1 + 12 + len(NUMBER) + 16


@pytest.mark.parametrize("position", [0, 1, 12, 13, 20, -1])
def test_any_altered_byte_is_detected(position: int) -> None:
    blob = bytearray(seal(KEYRING, NUMBER, context=CONTEXT))
    blob[position] ^= 0x01
    with pytest.raises(UnsealError):
        unseal(KEYRING, bytes(blob), context=CONTEXT)


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x01" + b"\x00" * 27, b"\x02" + b"\x00" * 40])
def test_malformed_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(UnsealError):
        unseal(KEYRING, blob, context=CONTEXT)


def test_a_blob_opens_only_in_its_own_context() -> None:
    blob = seal(KEYRING, NUMBER, context="citizen/a/id_number")
    with pytest.raises(UnsealError):
        unseal(KEYRING, blob, context="citizen/b/id_number")
    with pytest.raises(UnsealError):
        unseal(KEYRING, blob, context="registry_entry/a/id_number")


def test_a_blob_opens_only_under_its_own_key() -> None:
    blob = seal(KEYRING, NUMBER, context=CONTEXT)
    with pytest.raises(UnsealError):
        unseal(OTHER_KEYRING, blob, context=CONTEXT)


def test_blind_index_is_hmac_sha256_under_the_blind_index_key() -> None:
    expected = hmac.new(KEYRING.blind_index, NUMBER.encode(), hashlib.sha256).hexdigest()
    assert blind_index(KEYRING, NUMBER) == blind_index(KEYRING, NUMBER) == expected
    assert len(expected) == 64
    assert blind_index(OTHER_KEYRING, NUMBER) != expected  # keyed: another key, another index
    assert hashlib.sha256(NUMBER.encode()).hexdigest() != expected  # not a bare hash
    assert blind_index(KEYRING, "11010519491231003X") != expected


def test_every_form_of_a_number_has_one_blind_index() -> None:
    forms = [
        "11010519491231002X",
        "11010519491231002x",
        "110105491231002",
        "１１０１０５１９４９１２３１００２Ｘ",
    ]
    indexes = {blind_index(KEYRING, parse_id_number(number=f).normalised) for f in forms}
    assert len(indexes) == 1


# --- the citizens service, on both backends ---------------------------------------------


def _raw_rows(app: Any, table: str) -> list[tuple[Any, ...]]:
    from idp.extensions import db

    with db.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}"))]


def _assert_no_clear_number(rows: list[tuple[Any, ...]]) -> None:
    assert rows
    for row in rows:
        for value in row:
            raw = bytes(value) if isinstance(value, (bytes, memoryview)) else str(value).encode()
            for form in CLEAR_FORMS:
                assert form.encode() not in raw.upper()


def test_citizen_row_never_holds_the_clear_number(app: Any, citizen: Any) -> None:
    from idp.authn.citizens import id_number_of

    _assert_no_clear_number(_raw_rows(app, "citizen"))
    _assert_no_clear_number(_raw_rows(app, "password_credential"))
    assert id_number_of(citizen) == CITIZEN_ID_NUMBER
    assert citizen.birthdate.isoformat() == "1949-12-31" and citizen.gender == "F"
    assert citizen.id_type == "resident" and citizen.proofing == "registry"
    assert citizen.phone == "+8613800138000"


def test_password_is_stored_as_argon2id(app: Any, citizen: Any) -> None:
    from idp.authn.methods.password import verify_password
    from idp.extensions import db
    from idp.models import PasswordCredential

    stored = db.session.get(PasswordCredential, citizen.id).hash
    assert stored.startswith("$argon2id$") and CITIZEN_PASSWORD not in stored
    assert verify_password(hash=stored, password=CITIZEN_PASSWORD)
    assert not verify_password(hash=stored, password=CITIZEN_PASSWORD + "!")


@pytest.mark.parametrize(
    "presented", ["11010519491231002x", " 110105491231002 ", "１１０１０５１９４９１２３１００２Ｘ"]
)
def test_citizen_is_found_by_any_form_of_the_number(app: Any, citizen: Any, presented: str) -> None:
    from idp.authn.citizens import find_by_id_number

    assert find_by_id_number(presented).id == citizen.id


@pytest.mark.parametrize("presented", ["", "not a number", "11010519491231003X", "440305800101123"])
def test_unknown_or_malformed_numbers_find_nobody(app: Any, citizen: Any, presented: str) -> None:
    from idp.authn.citizens import find_by_id_number

    assert find_by_id_number(presented) is None


def test_second_account_for_a_number_is_refused(app: Any, citizen: Any) -> None:
    from idp.authn.citizens import create_citizen

    with pytest.raises(InvalidInput) as caught:
        create_citizen(id_number="110105491231002", name="李四")
    assert caught.value.field == "id_number"
    assert "110105" not in str(caught.value)
    assert len(_raw_rows(app, "citizen")) == 1


def test_malformed_number_creates_nothing(app: Any) -> None:
    from idp.authn.citizens import create_citizen

    with pytest.raises(InvalidIdNumber):
        create_citizen(id_number="11010519491231003X", name="张三")
    assert _raw_rows(app, "citizen") == []


def test_swapped_blobs_fail_to_open(app: Any, citizen: Any) -> None:
    """Copying one row's sealed number into another row is detected, not decrypted."""
    from idp.authn.citizens import create_citizen
    from idp.authn.citizens import id_number_of
    from idp.extensions import db

    other = create_citizen(id_number="110105491231011", name="王五")
    other.id_number_enc = citizen.id_number_enc
    db.session.commit()
    with pytest.raises(UnsealError):
        id_number_of(other)


def test_nothing_is_logged_in_clear(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    from idp.authn.citizens import create_citizen
    from idp.authn.citizens import find_by_id_number

    caplog.set_level(logging.DEBUG)
    create_citizen(id_number=NUMBER.lower(), name="张三", password="pw-for-log-test")
    find_by_id_number(NUMBER)
    for form in CLEAR_FORMS:
        assert form.upper() not in caplog.text.upper()


def test_registry_match_needs_the_registered_name(app: Any) -> None:
    from idp.authn.citizens import registry_match
    from idp.citizens_import import import_registry

    data = "id_number,name\n11010519491231002X,张三\n110105491231011,Anna Müller·Li\n"
    import_registry(data=data.encode())
    assert registry_match(id_number="110105491231002", name=" 张 三 ") is not None
    assert registry_match(id_number=NUMBER, name="张三丰") is None
    assert registry_match(id_number="11010519491231003X", name="张三") is None
    assert registry_match(id_number="440305800101123", name="张三") is None
    found = registry_match(id_number="110105491231011", name="ANNA  MÜLLER・LI")
    assert found is not None and found.name == "Anna Müller·Li"
    _assert_no_clear_number(_raw_rows(app, "registry_entry"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  张  三 ", "张三"),
        ("阿依古丽 • 买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("José  Ñúñez", "José Ñúñez"),
        ("ＡＮＮＡ　ＬＩ", "ANNA LI"),
    ],
)
def test_names_are_normalised_for_storage_and_matching(typed: str, stored: str) -> None:
    from idp.authn.citizens import normalise_name

    assert normalise_name(name=typed) == stored


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "x" * 201])
def test_unusable_names_are_refused(bad: str) -> None:
    from idp.authn.citizens import normalise_name

    with pytest.raises(InvalidInput) as caught:
        normalise_name(name=bad)
    assert caught.value.field == "name"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0086 13800138000", "+8613800138000"),
        ("+85291234567", "+85291234567"),
        ("00852 9123 4567", "+85291234567"),
    ],
)
def test_phones_are_kept_in_e164(typed: str, stored: str) -> None:
    from idp.authn.citizens import normalise_phone

    assert normalise_phone(phone=typed) == stored


@pytest.mark.parametrize(
    "bad", ["12345", "010-12345678", "+0123456789", "phone", "+8613800138000000"]
)
def test_non_mobile_phones_are_refused(bad: str) -> None:
    from idp.authn.citizens import normalise_phone

    with pytest.raises(InvalidInput):
        normalise_phone(phone=bad)
