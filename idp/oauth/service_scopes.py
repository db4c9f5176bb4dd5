"""Scopes of the provider's own service APIs, granted to clients, never to citizens.

RFC 6749 section 4.4: the client credentials grant is for "protected resources under
its control, or those of another resource owner that have been previously arranged
with the authorization server". A department's loader (``POST /admin/api/licences``)
is such an arrangement: an administrator registers the department's client with the
``client_credentials`` grant and one of these scopes, and its tokens carry no citizen.

These scopes are not data categories (``idp.consent.categories``): no citizen is asked
for them, so an authorization request (a citizen's sign-in) may never carry one.
"""

from __future__ import annotations

SERVICE_SCOPES: dict[str, str] = {
    # Load, suspend and revoke electronic licences of the client's own department.
    "licences:load": "Load and manage the electronic licences issued by the department",
}


def is_service_scope(scope: str) -> bool:
    return scope in SERVICE_SCOPES
