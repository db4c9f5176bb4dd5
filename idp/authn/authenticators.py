"""What a citizen has enrolled, as the methods each authenticator can add to a proof.

Step-up decides from this which authenticators can lift a session to a required level
(``idp.authn.service.step_up_plan``) and whether the level can be reached at all (when
not, the portal gets ``unmet_authentication_requirements`` rather than a lower ``acr``).

Each kind of authenticator registers a probe: ``probe(citizen_id)`` returns the method
tuples (``idp.authn.assurance`` vocabulary) that the citizen's enrolled authenticators
of that kind can add at best, or nothing when none is enrolled. The password and TOTP
probes are built in; the WebAuthn module registers its own::

    from idp.authn import authenticators
    authenticators.register(authenticators.WEBAUTHN, probe)

where ``probe`` returns ``[webauthn_methods(hardware=..., user_verified=True)]`` for a
credential registered with user verification, ``(..., user_verified=False)`` for one
without, one tuple per distinct capability.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

from ..extensions import db
from ..models import PasswordCredential
from .methods import totp
from .result import Amr

PASSWORD = "password"
TOTP = "totp"
WEBAUTHN = "webauthn"
SMS = "sms"

Probe = Callable[[str], Iterable[tuple[Amr, ...]]]


@dataclass(frozen=True)
class Enrolled:
    kind: str  # PASSWORD, TOTP, WEBAUTHN, SMS ...
    methods: tuple[Amr, ...]  # what one use of it adds to a proof


def _password(citizen_id: str) -> list[tuple[Amr, ...]]:
    return [(Amr.PWD,)] if db.session.get(PasswordCredential, citizen_id) is not None else []


def _totp(citizen_id: str) -> list[tuple[Amr, ...]]:
    # A recovery code stands in for the authenticator and adds the same ``otp``.
    return [(Amr.OTP,)] if totp.has_confirmed(citizen_id=citizen_id) else []


_PROBES: dict[str, Probe] = {PASSWORD: _password, TOTP: _totp}


def register(kind: str, probe: Probe) -> None:
    """Add (or replace) the probe of one kind of authenticator."""
    _PROBES[kind] = probe


def enrolled(citizen_id: str) -> list[Enrolled]:
    """Every usable authenticator of the citizen, one entry per distinct capability."""
    found: list[Enrolled] = []
    for kind, probe in _PROBES.items():
        for methods in dict.fromkeys(tuple(m) for m in probe(citizen_id)):
            found.append(Enrolled(kind=kind, methods=methods))
    return found
