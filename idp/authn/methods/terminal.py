"""Kiosk card + face assertions: verify what a registered kiosk signed.

DESIGN.md: "Biometrics never reach the server. A biometric is verified ... on a
registered kiosk/counter terminal, which sends a signed assertion; the server verifies
signatures." The kiosk reads the chip ID card (and checks the chip's certificate), matches
the live face against the chip's photo and runs a liveness test on the device, then
signs a JWT (RFC 7519, JWS RFC 7515) with the key registered for it (the one its
``private_key_jwt`` client assertions use):

header  ``{"alg": "ES256", "typ": "kiosk-card+jwt", "kid": ...}``
claims  ``iss`` (the kiosk's client_id), ``aud`` (``<issuer>/kiosk/card``), ``iat``,
        ``exp`` (at most ``IDP_KIOSK_ASSERTION_MAX_AGE`` after ``iat``), ``jti`` (a
        random value, 16 to 256 characters, single use), ``nonce`` (the server nonce of
        the kiosk page the assertion is posted from, ``idp.authn.kiosk_nonces``: that
        browser's, unused, at most ``IDP_KIOSK_NONCE_TTL`` old), ``id_number`` (read
        from the chip), ``card`` (``{"chip_verified": true, "serial": "..."}``),
        ``face_match`` (``{"matched": true, "score": 0.97}``) and ``liveness``
        (``{"passed": true}``).

The card-removed event has ``typ`` ``kiosk-event+jwt``, ``aud`` ``<issuer>/kiosk/event``,
the same ``iss``/``iat``/``exp``/``jti`` rules, and ``event`` ``"card_removed"`` (it is
an API call from the reader, not from a page: no nonce).

A QR request (the kiosk screen asking for a "sign in with the app" code, posted from the
kiosk's browser to ``/kiosk/qr``) has ``typ`` ``kiosk-qr+jwt``, ``aud``
``<issuer>/kiosk/qr``, the same ``iss``/``iat``/``exp``/``jti`` rules and the page's
``nonce``, and nothing else: the place the app shows is the kiosk's registered place,
never what the request says.

A service-hall counter terminal (``kind`` counter, ``adapters/hall``) signs the card
reading alone: header ``typ`` ``counter-card+jwt``, ``aud`` ``<issuer>/hall/card``, the
same ``iss``/``iat``/``exp``/``jti``/``id_number``/``card`` claims, the ``nonce`` of the
counter page the reading is posted from (that staff member's counter session's, unused,
at most ``IDP_HALL_NONCE_TTL`` old) and no face claims: the staff member at the counter
compares the face with the card in person and confirms it on the counter page (a
deliberate, recorded step).

The provider checks: the signature against the kiosk's registered JWKS (asymmetric
algorithms only), the kiosk is registered and active, ``aud``, freshness (``iat`` not in
the future, not older than the maximum age, ``exp`` not passed), single use (``jti`` in
the ephemeral store until the assertion expires), the chip was verified, the face
matched and the liveness test passed, the ID number is valid and belongs to a citizen.
Any image or biometric template in the assertion is refused (and anything else it does
not define): the face image never reaches the provider. Every refusal is an
``AssertionRejected`` whose ``reason`` is a short ASCII code (no ID number in it); its
``kiosk_id`` names the kiosk when the refusal is the kiosk's own doing (a correctly
signed, fresh, first-seen assertion refused on its contents: face, liveness, chip, ID
number, nonce), and is None when anyone could have sent it (bad signature, expired,
replayed, malformed); a counter's reading likewise names the counter. The throttle on
refusals (``idp.authn.kiosk_throttle``) counts the first kind against the terminal (at a
counter, the staff member too), the second against the sender's address.

An ``iss`` that names no active terminal of the kind (unknown, disabled, another kind)
is refused with the precise reason ``unknown_or_disabled_kiosk`` for the audit trail and
the log, but ``shown`` to the sender as ``bad_signature``, after a signature check of
the same cost: otherwise anybody could post made-up assertions to learn which kiosk and
counter ids exist.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet

from ...errors import IdpError
from ...ids import InvalidIdNumber
from ...ids import parse_id_number
from ...store import current_store
from ...store.base import EphemeralStore
from .. import citizens
from .. import kiosk_nonces
from ..kiosks import KioskDevice
from ..kiosks import active_kiosk
from ..result import Channel

CARD_TYP = "kiosk-card+jwt"
COUNTER_CARD_TYP = "counter-card+jwt"
EVENT_TYP = "kiosk-event+jwt"
QR_TYP = "kiosk-qr+jwt"
EVENTS = ("card_removed",)
# Asymmetric signatures only: never "none", never a shared secret.
ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
LEEWAY = 5  # seconds of clock skew tolerated on iat
# A card assertion is a few hundred bytes; a face image would not fit.
MAX_ASSERTION_LENGTH = 4096
MAX_TEXT = 256  # no claim value is longer; a base64 image or template would be
JTI_KIND = "kiosk-jti"
# The precise reason for an iss that is no active terminal of the kind: on the audit
# trail and in the log; the sender is told ``bad_signature``.
UNKNOWN_TERMINAL = "unknown_or_disabled_kiosk"
_CARD_CLAIMS = {
    "iss",
    "aud",
    "iat",
    "exp",
    "jti",
    "nonce",
    "id_number",
    "card",
    "face_match",
    "liveness",
}
_QR_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "nonce"}
_COUNTER_CARD_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "nonce", "id_number", "card"}
_EVENT_CLAIMS = {"iss", "aud", "iat", "exp", "jti", "event", "card"}
_MEMBERS = {
    "card": {"chip_verified", "serial"},
    "face_match": {"matched", "score"},
    "liveness": {"passed", "score"},
}
# Names under which kiosk software might put biometric data.
_IMAGE_NAMES = (
    "image",
    "photo",
    "portrait",
    "picture",
    "face_image",
    "selfie",
    "template",
    "biometric",
    "jpeg",
    "png",
)


class AssertionRejected(IdpError):
    """The kiosk's assertion was refused; ``reason`` says why (ASCII, no personal data),
    for the audit trail and the log; ``shown`` is what the sender is told (the same,
    except where the precise reason would tell an unauthenticated sender something)."""

    public = "The kiosk's card reading was refused."

    def __init__(self, reason: str, *, kiosk_id: str | None = None, shown: str = "") -> None:
        super().__init__(detail=f"kiosk assertion rejected: {reason}")
        self.reason = reason
        self.shown = shown or reason
        self.kiosk_id = kiosk_id  # set when the kiosk itself sent it (module docstring)


@dataclass(frozen=True)
class CardSignIn:
    """A verified card + face assertion."""

    kiosk: KioskDevice
    citizen_id: str
    card_serial: str | None
    face_score: float | None
    issued_at: int


@dataclass(frozen=True)
class KioskEvent:
    kiosk: KioskDevice
    event: str
    card_serial: str | None


def verify_card_assertion(
    *,
    assertion: Any,
    audience: str,
    now: int,
    max_age: int,
    browser: str,
    store: EphemeralStore | None = None,
) -> CardSignIn:
    """Verify a card + face assertion posted from ``browser`` (module docstring); raise
    ``AssertionRejected``."""
    store = store or current_store()
    kiosk, claims = _verified(
        assertion,
        typ=CARD_TYP,
        allowed=_CARD_CLAIMS,
        audience=audience,
        now=now,
        max_age=max_age,
        store=store,
    )
    try:
        _check_nonce(store, channel=Channel.KIOSK, binding=browser, claims=claims)
        card = _member(claims, "card")
        if card.get("chip_verified") is not True:
            raise AssertionRejected("card_not_verified")
        face = _member(claims, "face_match")
        if face.get("matched") is not True:
            raise AssertionRejected("face_mismatch")
        score = face.get("score")
        if score is not None and (not isinstance(score, int | float) or not 0 <= score <= 1):
            raise AssertionRejected("malformed")
        if _member(claims, "liveness").get("passed") is not True:
            raise AssertionRejected("liveness_failed")
        citizen_id = _citizen_id(claims)
    except AssertionRejected as exc:
        exc.kiosk_id = kiosk.client_id  # signed, fresh and first seen: the kiosk's doing
        raise
    return CardSignIn(
        kiosk=kiosk,
        citizen_id=citizen_id,
        card_serial=_serial(card),
        face_score=float(score) if score is not None else None,
        issued_at=int(claims["iat"]),
    )


def verify_qr_request(
    *,
    assertion: Any,
    audience: str,
    now: int,
    max_age: int,
    browser: str,
    store: EphemeralStore | None = None,
) -> KioskDevice:
    """Verify a kiosk's request for a QR sign-in code posted from ``browser`` (module
    docstring): the kiosk that asks. Raises ``AssertionRejected``."""
    store = store or current_store()
    kiosk, claims = _verified(
        assertion,
        typ=QR_TYP,
        allowed=_QR_CLAIMS,
        audience=audience,
        now=now,
        max_age=max_age,
        store=store,
    )
    try:
        _check_nonce(store, channel=Channel.KIOSK, binding=browser, claims=claims)
    except AssertionRejected as exc:
        exc.kiosk_id = kiosk.client_id
        raise
    return kiosk


def claimed_kiosk(assertion: Any) -> str | None:
    """The ``iss`` an assertion claims, unverified (to find whose budget a throttle
    checks first); None if there is none to read."""
    if not isinstance(assertion, str) or len(assertion) > MAX_ASSERTION_LENGTH:
        return None
    try:
        iss = _peek_claims(assertion).get("iss")
    except AssertionRejected:
        return None
    return iss if isinstance(iss, str) and 0 < len(iss) <= MAX_TEXT else None


def _check_nonce(
    store: EphemeralStore, *, channel: Channel, binding: str, claims: dict[str, Any]
) -> None:
    presented = claims.get("nonce")
    reason = kiosk_nonces.redeem(store, channel=channel, binding=binding, presented=presented)
    if reason is not None:
        raise AssertionRejected(reason)


def verify_counter_card(
    *,
    assertion: Any,
    audience: str,
    now: int,
    max_age: int,
    staff_session: str,
    store: EphemeralStore | None = None,
) -> CardSignIn:
    """Verify a counter terminal's card reading posted in the counter staff session
    ``staff_session`` (its sid; module docstring): the same checks as a kiosk's, from an
    active device of kind ``counter``, with the counter page's nonce and without face
    claims (the staff member confirms the face). ``face_score`` is None. Raises
    ``AssertionRejected``."""
    store = store or current_store()
    kiosk, claims = _verified(
        assertion,
        typ=COUNTER_CARD_TYP,
        allowed=_COUNTER_CARD_CLAIMS,
        audience=audience,
        now=now,
        max_age=max_age,
        store=store,
        kind="counter",
    )
    try:
        _check_nonce(store, channel=Channel.HALL, binding=staff_session, claims=claims)
        card = _member(claims, "card")
        if card.get("chip_verified") is not True:
            raise AssertionRejected("card_not_verified")
        citizen_id = _citizen_id(claims)
    except AssertionRejected as exc:
        exc.kiosk_id = kiosk.client_id  # signed, fresh and first seen: the counter's doing
        raise
    return CardSignIn(
        kiosk=kiosk,
        citizen_id=citizen_id,
        card_serial=_serial(card),
        face_score=None,
        issued_at=int(claims["iat"]),
    )


def _citizen_id(claims: dict[str, Any]) -> str:
    number = claims.get("id_number")
    if not isinstance(number, str):
        raise AssertionRejected("malformed")
    try:
        parse_id_number(number=number)
    except InvalidIdNumber:
        raise AssertionRejected("invalid_id_number") from None
    citizen = citizens.find_by_id_number(number)
    if citizen is None:
        raise AssertionRejected("unknown_id_number")
    return citizen.id


def verify_event(
    *, assertion: Any, audience: str, now: int, max_age: int, store: EphemeralStore | None = None
) -> KioskEvent:
    """Verify a signed kiosk event (card removed); raise ``AssertionRejected``."""
    kiosk, claims = _verified(
        assertion,
        typ=EVENT_TYP,
        allowed=_EVENT_CLAIMS,
        audience=audience,
        now=now,
        max_age=max_age,
        store=store,
    )
    event = claims.get("event")
    if event not in EVENTS:
        raise AssertionRejected("unknown_event")
    card = claims.get("card") if isinstance(claims.get("card"), dict) else {}
    return KioskEvent(kiosk=kiosk, event=str(event), card_serial=_serial(card))


# --- the checks every kiosk assertion goes through ------------------------------------------


def _verified(
    assertion: Any,
    *,
    typ: str,
    allowed: set[str],
    audience: str,
    now: int,
    max_age: int,
    store: EphemeralStore | None,
    kind: str = "kiosk",
) -> tuple[KioskDevice, dict[str, Any]]:
    if not isinstance(assertion, str) or not assertion:
        raise AssertionRejected("missing")
    if len(assertion) > MAX_ASSERTION_LENGTH:
        # Nothing a kiosk may send is this large: most likely an image came along.
        raise AssertionRejected("image_data")
    unverified = _peek_claims(assertion)
    kiosk = active_kiosk(unverified.get("iss"), kind=kind)
    if kiosk is None:
        # Told as a bad signature (and after as much work as one), so that nobody without
        # a terminal's key learns which kiosk or counter ids exist or are enabled.
        _verify_with_decoy(assertion)
        raise AssertionRejected(UNKNOWN_TERMINAL, shown="bad_signature")
    try:
        token = jwt.decode(
            assertion,
            KeySet.import_key_set(kiosk.jwks),
            algorithms=ALGORITHMS,  # type: ignore[arg-type]
        )
    except (JoseError, ValueError, TypeError, KeyError):
        raise AssertionRejected("bad_signature") from None
    if token.header.get("typ") != typ:
        raise AssertionRejected("wrong_type")
    claims = dict(token.claims)
    _refuse_images(claims)
    if set(claims) - allowed:
        raise AssertionRejected("unexpected_claim")
    aud = claims.get("aud")
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise AssertionRejected("wrong_audience")
    iat, exp = claims.get("iat"), claims.get("exp")
    if any(not isinstance(v, int) or isinstance(v, bool) for v in (iat, exp)):
        raise AssertionRejected("malformed")
    if iat > now + LEEWAY or exp <= now or now - iat > max_age or exp - iat > max_age:
        raise AssertionRejected("expired")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 16 <= len(jti) <= MAX_TEXT:
        raise AssertionRejected("malformed")
    key = hashlib.sha256(f"{kiosk.client_id}\x00{jti}".encode()).hexdigest()
    store = store or current_store()
    if not store.put_if_absent(JTI_KIND, key, {}, max(1, exp - now + LEEWAY)):
        raise AssertionRejected("replayed")
    return kiosk, claims


@functools.cache
def _decoy() -> ECKey:
    return ECKey.generate_key("P-256")


def _verify_with_decoy(assertion: str) -> None:
    """A signature check against a throwaway key, which always fails: a made-up ``iss``
    costs about the time a registered one does."""
    try:
        jwt.decode(assertion, _decoy(), algorithms=ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        pass


def _peek_claims(assertion: str) -> dict[str, Any]:
    """The payload before verification, only to find whose key to verify with."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise AssertionRejected("malformed")
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError):
        raise AssertionRejected("malformed") from None
    if not isinstance(claims, dict):
        raise AssertionRejected("malformed")
    return claims


def _refuse_images(value: Any, depth: int = 0) -> None:
    """No image, template or other large blob anywhere in the claims."""
    if depth > 3:
        raise AssertionRejected("malformed")
    if isinstance(value, dict):
        for name, inner in value.items():
            lowered = str(name).lower()
            if any(word in lowered for word in _IMAGE_NAMES):
                raise AssertionRejected("image_data")
            _refuse_images(inner, depth + 1)
    elif isinstance(value, list):
        for inner in value:
            _refuse_images(inner, depth + 1)
    elif isinstance(value, str) and (len(value) > MAX_TEXT or value.startswith("data:")):
        raise AssertionRejected("image_data")


def _member(claims: dict[str, Any], name: str) -> dict[str, Any]:
    value = claims.get(name)
    if not isinstance(value, dict) or set(value) - _MEMBERS[name]:
        raise AssertionRejected("malformed")
    return value


def _serial(card: dict[str, Any]) -> str | None:
    serial = card.get("serial")
    return serial[:64] if isinstance(serial, str) and serial else None
