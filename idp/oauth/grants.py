"""Authlib grants with our storage hooks (RFC 6749 sections 4.1, 4.4 and 6, RFC 7636).

Each hook is a short call into ``codes`` or ``tokens``; the algorithm stays Authlib's.
"""

from __future__ import annotations

import secrets
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.hooks import hooked
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..authn.citizens import is_active
from ..extensions import db
from . import codes
from . import tokens
from .claims import pairwise_sub
from .clients import AUTH_METHODS
from .clients import Client
from .errors import InvalidGrantError
from .errors import InvalidRequestError
from .errors import InvalidScopeError
from .tokens import AuthorizedUser
from .tokens import IssuedToken


def authorized_user(
    client: Client, citizen_id: str, context: Any, *, checked_on_insert: bool = False
) -> AuthorizedUser | None:
    """The grant's user, if the citizen still exists and is not locked. ``context`` is a
    code or a token: anything with ``get_sid/get_acr/get_amr/get_auth_time``,
    ``get_consent_id``, ``get_channel`` and ``get_act``.

    ``checked_on_insert``: the caller's token insert checks the citizen instead
    (``tokens.persist(guard_citizen=True)``), which saves a round trip."""
    if not checked_on_insert and not is_active(citizen_id):
        return None
    return AuthorizedUser(
        citizen_id=citizen_id,
        subject=pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen_id),
        sid=context.get_sid(),
        acr=context.get_acr(),
        amr=context.get_amr(),
        auth_time=context.get_auth_time(),
        consent_id=context.get_consent_id(),
        channel=context.get_channel(),
        act=context.get_act(),
    )


class S256CodeChallenge(CodeChallenge):  # type: ignore[misc]
    """RFC 7636 with only ``S256``, and a challenge required from public clients.

    RFC 9700 section 2.1.1: "Authorization servers MUST support PKCE" and "If PKCE is
    used, the S256 code challenge method SHOULD be used"; ``plain`` is refused outright.
    RFC 7636 section 4.3 makes ``plain`` the default when no method is given, so a
    challenge without ``code_challenge_method=S256`` is refused too. Public clients
    must send a challenge (RFC 9700 section 2.1.1: "Public clients MUST use PKCE").
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        method = data.get("code_challenge_method")
        if method and method != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        super().validate_code_challenge(grant, redirect_uri)
        if challenge and method != "S256":
            raise InvalidRequestError("code_challenge_method=S256 is required.")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError("Public clients must send a PKCE code_challenge.")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """RFC 6749 section 4.1, hooks into ``codes``. Codes are consumed when queried, so
    a failed exchange (bad verifier, wrong redirect_uri) also uses the code up."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    @staticmethod
    def validate_authorization_redirect_uri(request: Any, client: Client) -> str:
        """Exact match against the registered URIs (RFC 9700 section 4.1.3); required,
        as OIDC Core 3.1.2.1 says. The error never repeats the presented URI (which may
        hold characters an error description cannot carry) and is never redirected."""
        uri = request.payload.redirect_uri
        if not uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if not client.check_redirect_uri(uri):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return str(uri)

    def generate_authorization_code(self) -> str:
        """256 random bits from ``secrets`` (Authlib's draws 48 characters one by one
        through ``random.SystemRandom``, a measurable cost on every authorization)."""
        return secrets.token_urlsafe(32)

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        codes.save(
            code,
            client_id=request.client.client_id,
            redirect_uri=data["redirect_uri"],
            # The consent step narrows the requested scope to what the citizen granted.
            scope=request.user.granted_scope or request.scope,
            user=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> codes.AuthorizationCode:
        return codes.redeem(code, client_id=client.client_id)

    def delete_authorization_code(self, authorization_code: codes.AuthorizationCode) -> None:
        """Nothing to do: ``codes.redeem`` consumed it atomically."""

    def authenticate_user(
        self, authorization_code: codes.AuthorizationCode
    ) -> AuthorizedUser | None:
        # The citizen's standing is checked by the token insert (``save_token``), before
        # anything is issued or released: one round trip less on every code exchange.
        return authorized_user(
            self.request.client,
            authorization_code.citizen_id,
            authorization_code,
            checked_on_insert=True,
        )

    # The ID token's release record (idp.oauth.oidc, an after-hook of
    # create_token_response) joins this grant's transaction.
    COMMITS_AFTER_ID_TOKEN = True

    def save_token(self, token: dict[str, Any]) -> None:
        code = self.request.authorization_code
        tokens.persist(
            token,
            client_id=self.request.client.client_id,
            user=self.request.user,
            grant_id=code.grant_id,
            guard_citizen=True,
        )
        # One audit record per code exchange, in the same transaction (the issue's hot
        # path): what was released is the granted scope, in the ID token and the tokens.
        _audit_issue(EventType.TOKEN_ISSUE, token, self.request, grant_id=code.grant_id)

    def create_token_response(self) -> Any:
        """Authlib's; then one commit for the tokens, the ID token's release record and
        both audit records, and the replay check (after the commit, as before)."""
        response = super().create_token_response()
        db.session.commit()
        codes.check_not_replayed(self.request.authorization_code)
        return response


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """RFC 6749 section 6 with rotation (RFC 9700 section 4.14.2): every use returns a
    new refresh token, and presenting an exchanged one again revokes the whole grant."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> IssuedToken | None:
        token = tokens.find(refresh_token, "refresh_token")
        if token is None or token.kind != "refresh_token":
            return None
        if token.row.rotated_at is not None and token.row.revoked_at is None:
            tokens.revoke_grant(token.grant_id)
            _audit_reuse(token)
            db.session.commit()
            return None
        if token.is_revoked() or token.is_expired():
            return None
        if not token.is_usable():
            return None
        return token

    def authenticate_user(self, refresh_token: IssuedToken) -> AuthorizedUser | None:
        citizen_id = refresh_token.row.citizen_id
        if citizen_id is None:  # never: client tokens have no refresh token
            return None
        return authorized_user(self.request.client, citizen_id, refresh_token)

    def save_token(self, token: dict[str, Any]) -> None:
        tokens.persist(
            token,
            client_id=self.request.client.client_id,
            user=self.request.user,
            grant_id=self.request.refresh_token.grant_id,
        )
        _audit_issue(
            EventType.TOKEN_REFRESH,
            token,
            self.request,
            grant_id=self.request.refresh_token.grant_id,
        )

    def revoke_old_credential(self, refresh_token: IssuedToken) -> None:
        if not tokens.claim_rotation(refresh_token.row.id):
            # Two exchanges of the same refresh token raced: treat as reuse.
            db.session.rollback()
            tokens.revoke_grant(refresh_token.grant_id)
            _audit_reuse(refresh_token)
            db.session.commit()
            raise InvalidGrantError("The refresh token was already used.")
        db.session.commit()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 section 4.4: a client's own access token, for its service scopes.

    Only for confidential clients an administrator allowed the grant (``grant_types``);
    a public client authenticates with ``none`` and is then refused with
    ``unauthorized_client`` (section 5.2: "The authenticated client is not authorized
    to use this authorization grant type"). The token carries no citizen, no refresh
    token ("A refresh token SHOULD NOT be included", 4.4.3) and no ID token.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: Client = self.request.client
        allowed = client.service_scopes
        requested = list(dict.fromkeys((self.request.payload.scope or "").split()))
        # RFC 6749 section 3.3: without a scope the server "MUST either process the
        # request using a pre-defined default value or fail": the default is every
        # service scope the client was allowed.
        scopes = requested or allowed
        if not scopes or not set(scopes) <= set(allowed):
            raise InvalidScopeError("The client may not ask for this scope.")
        self.granted_scope = " ".join(scopes)

    @hooked  # type: ignore[misc]
    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        token: dict[str, Any] = self.generate_token(
            scope=self.granted_scope, include_refresh_token=False
        )
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER

    def save_token(self, token: dict[str, Any]) -> None:
        grant_id = secrets.token_urlsafe(24)
        tokens.persist(token, client_id=self.request.client.client_id, user=None, grant_id=grant_id)
        audit.record(
            EventType.TOKEN_ISSUE,
            actor_type=ActorType.CLIENT,
            actor_id=self.request.client.client_id,
            client_id=self.request.client.client_id,
            details={
                "grant": grant_id,
                "scope": token.get("scope", ""),
                "client_credentials": True,
            },
        )
        db.session.commit()


def _audit_issue(event: EventType, token: dict[str, Any], request: Any, *, grant_id: str) -> None:
    user = request.user
    audit.record(
        event,
        actor_type=ActorType.CLIENT,
        actor_id=request.client.client_id,
        citizen_id=user.citizen_id,
        client_id=request.client.client_id,
        details={
            "grant": grant_id,
            "scope": token.get("scope", ""),
            "acr": user.acr,
            "refresh_token": "refresh_token" in token,
        },
    )


def _audit_reuse(token: IssuedToken) -> None:
    # RFC 9700 4.14.2: an exchanged refresh token presented again revokes the grant.
    audit.record(
        EventType.TOKEN_REVOKE,
        actor_type=ActorType.SYSTEM,
        citizen_id=token.row.citizen_id,
        client_id=token.client_id,
        details={"grant": token.grant_id, "reason": "refresh_token_reuse"},
    )
