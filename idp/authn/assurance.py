"""Which assurance level a set of authentication methods reaches (DESIGN.md "Assurance")."""

from __future__ import annotations

from collections.abc import Iterable

from .result import Acr
from .result import Amr

_POSSESSION = {Amr.OTP, Amr.HWK, Amr.SWK, Amr.SMS, Amr.SC}


def level_for(methods: Iterable[Amr]) -> Acr:
    """Password alone or an SMS code is low; a knowledge factor plus a possession
    factor (password + TOTP) is substantial. HIGH needs biometric-gated possession,
    which only the authenticators of later issues produce."""
    used = set(methods)
    if Amr.PWD in used and used & (_POSSESSION - {Amr.SMS}):
        return Acr.SUBSTANTIAL
    return Acr.LOW


def amr_claim(methods: Iterable[Amr]) -> list[str]:
    """RFC 8176: list each method once, and add ``mfa`` when more than one factor was used."""
    values = list(dict.fromkeys(str(m) for m in methods))
    if len(values) > 1 and Amr.MFA not in values:
        values.append(str(Amr.MFA))
    return values
