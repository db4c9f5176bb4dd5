"""The audit checkpoint signer: the provider's ES256 token-signing key (idp.oauth.keys).

Implements ``idp.audit.CheckpointSigner``. A checkpoint is a compact JWS (RFC 7515)
with ``typ`` ``idp-audit-checkpoint+jwt`` and the current ES256 key's ``kid``.

Verifying trusts only keys this provider made (``keys.held_key``): the sealed private
half must open under the master key and hash to the ``kid`` (RFC 7638 thumbprint), so a
public key slipped into ``signing_key`` by someone without the master key verifies
nothing. Keys purged after their grace period (`idp keys purge`) can no longer be
checked: ``KeyUnavailable``.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError

from ..audit.checkpoints import TYP
from ..audit.checkpoints import CheckpointSignatureError
from ..audit.checkpoints import KeyUnavailable
from . import keys

ALG = "ES256"
MAX_JWS = 4096


class KeyCheckpointSigner:
    def prepare(self) -> None:
        keys.ensure_keys()

    def sign(self, claims: dict[str, Any]) -> tuple[str, str]:
        kid = keys.signing_key_info(ALG).kid
        header = {"alg": ALG, "kid": kid, "typ": TYP}
        payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        token = jws.serialize_compact(header, payload, keys.private_keyset(ALG), algorithms=[ALG])
        return token, kid

    def verify(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_JWS or token.count(".") != 2:
            raise CheckpointSignatureError("not a compact JWS")
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise CheckpointSignatureError(f"malformed JWS ({exc.__class__.__name__})") from None
        if header.get("alg") != ALG or header.get("typ") != TYP:
            raise CheckpointSignatureError("unexpected alg or typ")
        kid = str(header.get("kid") or "")
        try:
            key = keys.held_key(kid)
        except ValueError as exc:
            raise CheckpointSignatureError(str(exc)) from None
        if key is None:
            raise KeyUnavailable(f"key {kid[:16]} is no longer held (purged)")
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[ALG])
            claims: dict[str, Any] = json.loads(verified.payload)
        except (JoseError, ValueError) as exc:
            raise CheckpointSignatureError(f"bad signature ({exc.__class__.__name__})") from None
        return claims
