"""What a citizen has enrolled, as the methods each authenticator can add to a proof.

Step-up decides from this which authenticators can lift a session to a required level
(``idp.authn.service.step_up_plan``) and whether the level can be reached at all (when
not, the portal gets ``unmet_authentication_requirements`` rather than a lower ``acr``).

Each kind of authenticator has a probe: ``probe(citizen_id)`` returns, for the
citizen's usable authenticators of that kind, what one use adds to a proof, one entry
per distinct capability, nothing when none is enrolled: either the methods
(``idp.authn.assurance`` vocabulary; the level one use reaches alone is then
``level_for(methods)``) or a ``Capability(methods, level)`` when the adapter states a
higher level for its own proof (a synced passkey with user verification: ``swk``,
substantial). Password, TOTP and WebAuthn probes are built in; later kinds (the mobile
app's device keys) add theirs with ``register``. Authenticators switched off by
``authenticator_limits`` count as not enrolled.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

from ..extensions import db
from ..models import PasswordCredential
from . import authenticator_limits
from .assurance import joined_level
from .assurance import level_for
from .methods import totp
from .result import Acr
from .result import Amr

PASSWORD = "password"
TOTP = "totp"
WEBAUTHN = "webauthn"
SMS = "sms"


@dataclass(frozen=True)
class Capability:
    methods: tuple[Amr, ...]  # what one use adds to a proof
    level: Acr  # what one use reaches on its own (the adapter's own level)


Probe = Callable[[str], Iterable[Capability | tuple[Amr, ...]]]


@dataclass(frozen=True)
class Enrolled:
    kind: str  # PASSWORD, TOTP, WEBAUTHN, SMS ...
    methods: tuple[Amr, ...]
    level: Acr

    def with_chain(self, chain: tuple[Amr, ...]) -> Acr:
        """The level one use of it reaches on top of the proofs in ``chain``
        (``assurance.joined_level``), or on its own."""
        joined = joined_level(chain, self.methods)
        return joined if joined is not None and joined.rank > self.level.rank else self.level


def _simple(methods: tuple[Amr, ...]) -> Capability:
    return Capability(methods=methods, level=level_for(methods))


def _blocked(authenticator: str) -> bool:
    """Switched off after too many failures (``authenticator_limits``; the keys are the
    ones ``idp.authn.login`` and ``idp.authn.passkeys`` count under)."""
    return authenticator_limits.is_disabled(authenticator=authenticator)


def _password(citizen_id: str) -> list[Capability]:
    has = db.session.get(PasswordCredential, citizen_id) is not None
    return [_simple((Amr.PWD,))] if has and not _blocked(f"password:{citizen_id}") else []


def _totp(citizen_id: str) -> list[Capability]:
    # A recovery code stands in for the authenticator and adds the same ``otp``.
    if not totp.has_confirmed(citizen_id=citizen_id):
        return []
    if _blocked(f"totp:{citizen_id}") and _blocked(f"recovery:{citizen_id}"):
        return []
    return [_simple((Amr.OTP,))]


def _webauthn(citizen_id: str) -> list[Capability]:
    """Each usable credential at its best: with user verification if it verified the
    user at registration, at the level ``passkeys.assurance`` gives (which applies the
    AAGUID allow-list and the synced-key policy for high)."""
    from . import passkeys  # here: passkeys builds on sessions, which build on this

    found = []
    for key in passkeys.list_passkeys(citizen_id=citizen_id):
        if key.disabled_at is not None or _blocked(f"webauthn:{key.id}"):
            continue
        methods, level = passkeys.assurance(
            user_verified=key.user_verifying,
            synced=key.synced,
            aaguid=key.aaguid,
            with_password=False,
        )
        found.append(Capability(methods=methods, level=level))
    return found


_PROBES: dict[str, Probe] = {PASSWORD: _password, TOTP: _totp, WEBAUTHN: _webauthn}


def register(kind: str, probe: Probe) -> None:
    """Add (or replace) the probe of one kind of authenticator."""
    _PROBES[kind] = probe


def enrolled(citizen_id: str) -> list[Enrolled]:
    """Every usable authenticator of the citizen, one entry per distinct capability."""
    found: list[Enrolled] = []
    for kind, probe in _PROBES.items():
        for item in probe(citizen_id):
            capability = item if isinstance(item, Capability) else _simple(tuple(item))
            one = Enrolled(kind=kind, methods=capability.methods, level=capability.level)
            if one not in found:
                found.append(one)
    return found
