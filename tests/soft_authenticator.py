"""A software WebAuthn authenticator with real cryptography, for tests.

It does what a browser plus a CTAP2 authenticator do for ``navigator.credentials.create``
and ``.get``: builds ``clientDataJSON`` (WebAuthn 3 section 5.8.1), the authenticator data
(6.1: rpIdHash, flags UP/UV/BE/BS/AT, big-endian signCount, attested credential data with
a COSE EC2 P-256 key), a "none" attestation object (8.7), and an ES256 signature over
``authenticatorData || SHA-256(clientDataJSON)`` (6.3.3). Responses come back as the
JSON a browser's ``PublicKeyCredential.toJSON()`` gives, binary values in base64url.

Every parameter an attacker could bend is a keyword: ``origin``, ``rp_id``, ``challenge``,
``ceremony_type``, the flags and the counter, so tests can forge precisely one thing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidStateError(Exception):
    """What the browser raises when an excluded credential is on the authenticator."""


class NotAllowedError(Exception):
    """No usable credential (or the user cancelled)."""


@dataclass
class SoftCredential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    resident: bool
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        # RFC 9053 section 7.1.1 / RFC 8152: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


class SoftAuthenticator:
    """One authenticator: a platform passkey provider or a security key.

    ``user_verifying``: it verifies the user (biometric / PIN) and sets UV.
    ``backup_eligible`` / ``backed_up``: a synced passkey provider sets BE (and BS).
    ``counter``: it keeps a signature counter (synced passkeys keep none: always 0).
    """

    def __init__(
        self,
        *,
        aaguid: bytes = bytes(16),
        user_verifying: bool = True,
        backup_eligible: bool = False,
        backed_up: bool = False,
        counter: bool = True,
        transports: tuple[str, ...] = ("internal",),
    ) -> None:
        self.aaguid = aaguid
        self.user_verifying = user_verifying
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.counter = counter
        self.transports = transports
        self.credentials: list[SoftCredential] = []

    # --- helpers ----------------------------------------------------------------------

    def _flags(self, *, uv: bool, attested: bool) -> int:
        flags = UP
        if uv:
            flags |= UV
        if self.backup_eligible:
            flags |= BE
        if self.backed_up:
            flags |= BS
        if attested:
            flags |= AT
        return flags

    @staticmethod
    def client_data(
        *, ceremony_type: str, challenge: str, origin: str, cross_origin: bool = False
    ) -> bytes:
        return json.dumps(
            {
                "type": ceremony_type,
                "challenge": challenge,
                "origin": origin,
                "crossOrigin": cross_origin,
            },
            separators=(",", ":"),
        ).encode()

    # --- navigator.credentials.create -------------------------------------------------

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: str | None = None,
        uv: bool | None = None,
        ceremony_type: str = "webauthn.create",
        cross_origin: bool = False,
    ) -> dict[str, Any]:
        """A registration response for creation ``options`` (as the server sent them)."""
        rp = rp_id or options["rp"]["id"]
        excluded = {unb64url(c["id"]) for c in options.get("excludeCredentials", [])}
        if any(c.credential_id in excluded for c in self.credentials):
            raise InvalidStateError("an excluded credential is on this authenticator")
        selection = options.get("authenticatorSelection", {})
        wants_uv = selection.get("userVerification") == "required"
        if wants_uv and not self.user_verifying:
            raise NotAllowedError("user verification required but not available")
        verified = self.user_verifying if uv is None else uv
        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=unb64url(options["user"]["id"]),
            resident=selection.get("residentKey") in ("required", "preferred"),
        )
        self.credentials.append(credential)
        attested = (
            self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(uv=verified, attested=True)])
            + struct.pack(">I", credential.sign_count)
            + attested
        )
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self.client_data(
            ceremony_type=ceremony_type,
            challenge=challenge or options["challenge"],
            origin=origin,
            cross_origin=cross_origin,
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation_object),
                "transports": list(self.transports),
            },
        }

    # --- navigator.credentials.get ----------------------------------------------------

    def pick(self, options: dict[str, Any], rp_id: str) -> SoftCredential:
        allowed = [unb64url(c["id"]) for c in options.get("allowCredentials", [])]
        for credential in self.credentials:
            if credential.rp_id != rp_id:
                continue
            if allowed and credential.credential_id in allowed:
                return credential
            if not allowed and credential.resident:
                return credential
        raise NotAllowedError("no credential for this request")

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: str | None = None,
        uv: bool | None = None,
        credential: SoftCredential | None = None,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
        ceremony_type: str = "webauthn.get",
        cross_origin: bool = False,
        corrupt_signature: bool = False,
    ) -> dict[str, Any]:
        """A sign-in response for request ``options`` (as the server sent them)."""
        rp = rp_id or options.get("rpId") or ""
        chosen = credential or self.pick(options, options.get("rpId") or rp)
        if options.get("userVerification") == "required" and not self.user_verifying:
            raise NotAllowedError("user verification required but not available")
        verified = self.user_verifying if uv is None else uv
        if sign_count is not None:
            chosen.sign_count = sign_count
        elif self.counter:
            chosen.sign_count += 1
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(uv=verified, attested=False)])
            + struct.pack(">I", chosen.sign_count)
        )
        client_data = self.client_data(
            ceremony_type=ceremony_type,
            challenge=challenge or options["challenge"],
            origin=origin,
            cross_origin=cross_origin,
        )
        signature = chosen.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        if corrupt_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        handle = user_handle if user_handle is not None else chosen.user_handle
        return {
            "id": b64url(chosen.credential_id),
            "rawId": b64url(chosen.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                # CTAP2: a user handle comes back for discoverable credentials only.
                "userHandle": b64url(handle) if chosen.resident or user_handle else None,
            },
        }
