"""Rules a new password must meet, kept short enough to explain on the page.

NIST SP 800-63B 5.1.1.2: "verifiers SHALL compare the prospective secrets against a list
that contains values known to be commonly-used, expected, or compromised", and SHALL NOT
impose other composition rules (no "one digit and one symbol"). So:

- at least ``MIN_LENGTH`` characters (and at most the hasher's cap);
- not a commonly used password, nor a keyboard run, a counting run or one repeated chunk;
- not built on the citizen's own ID number or phone number.

The list is the long end (10+ characters, everything shorter fails the length rule) of
the passwords most common in public leak corpora, Chinese sites included.
"""

from __future__ import annotations

import re

from ..errors import InvalidInput
from .methods.password import MAX_PASSWORD_LENGTH

MIN_LENGTH = 10

COMMON = frozenset(
    """
    1234567890 0123456789 9876543210 0987654321 12345678910 123456789a a123456789
    1234567890a 123456789q q123456789 123456789z 123456789abc abc123456789 abcd123456
    abcd1234567 abc1234567 a1234567890 aa123456789 aa12345678 abcdefghij abcdefg123
    abc123abc123 qwertyuiop qwerty123456 qwertyuiop123 1q2w3e4r5t 1q2w3e4r5t6y
    1qaz2wsx3edc 1qaz2wsx3edc4rfv qazwsxedcrfv qweasdzxc123 zxcvbnm123 asdfghjkl123
    asdfghjkl; zaq12wsxcde3 1234qwerasdf 1234qwer!@#$ qwer1234asdf password123
    password1234 password12 passw0rd123 p@ssw0rd123 p@ssword123 iloveyou123 iloveyou1314
    woaini1314 woaini520 woaini1314520 woaini123456 5201314520 52013145201314 1314520520
    13145201314 5201314000 wo5201314 caonima123 admin12345 admin123456 administrator
    welcome123 letmein123 changeme123 football123 baseball123 superman123 princess123
    sunshine123 computer123 internet123 trustno1234 starwars123 michael123 jennifer123
    dragon1234 monkey12345 shadow1234 master1234 zhang123456 wang123456 li123456789
    liu123456789 chen123456 abc123456789 aini1314520 qq123456789 qq1234567890 1111111111
    2222222222 3333333333 5555555555 6666666666 7777777777 8888888888 9999999999 0000000000
    1212121212 1122334455 1234512345 1234554321 1357924680 1314521521 147258369a
    147258369123 1472583690 3692581470 123321123321 123123123123 1231231231 159753159753
    147852369a 147852369123 741852963a 7418529630 9638527410 qazwsxedc123 aaaaaaaaaa
    abcabcabc123 a1b2c3d4e5 a1b2c3d4e5f6 1a2b3c4d5e q1w2e3r4t5 z1x2c3v4b5 !qaz2wsx3edc
    !qaz@wsx#edc 1qaz@wsx3edc qwe123qwe123 asd123asd123 zxc123zxc123 123qweasdzxc
    qweasdzxc12 china12345 china123456 beijing2008 beijing123 shanghai123 gov123456789
    government 1234567890! 123456789! qwerty12345 asdf123456 zxcv123456 q1w2e3r4t5y6
    """.split()
)

_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qazwsxedcrfvtgbyhnujmikolp")


def _is_run(value: str) -> bool:
    """A counting or keyboard run, forwards or backwards, like "3456789012" or "poiuytrewq"."""
    runs = [*(_KEYBOARD_ROWS), "abcdefghijklmnopqrstuvwxyz"]
    candidates = [value, value[::-1]]
    for row in runs:
        doubled = row * 3
        if any(c in doubled for c in candidates):
            return True
    return False


def _is_repetition(value: str) -> bool:
    """One short chunk repeated: "aaaaaaaaaa", "abcabcabca", "1212121212"."""
    return re.fullmatch(r"(.{1,4})\1+.{0,3}", value) is not None


def check(*, password: str, id_number: str | None = None, phone: str | None = None) -> None:
    """Raise ``InvalidInput(field="password")`` naming the first rule ``password`` breaks."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("The password must have at least 10 characters.", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput("The password is too long.", field="password")
    folded = password.casefold()
    compact = re.sub(r"\s+", "", folded)
    if compact in COMMON or _is_run(compact) or _is_repetition(compact):
        raise InvalidInput(
            "This password is too common or too easy to guess. Choose another.",
            field="password",
        )
    personal = [id_number.casefold() if id_number else None]
    if phone:
        digits = re.sub(r"\D", "", phone)
        personal.append(digits[-11:] if len(digits) >= 11 else digits)
    for value in personal:
        if value and len(value) >= 6 and (value in compact or value[-8:] in compact):
            raise InvalidInput(
                "The password must not contain your ID number or phone number.",
                field="password",
            )
