"""The ``act`` (actor) claim of a staff-assisted sign-in, RFC 8693 section 4.1.

RFC 8693 4.1: "The act (actor) claim provides a means within a JWT to express that
delegation has occurred and identify the acting party to whom authority has been
delegated. The act claim value is a JSON object, and members in the JSON object are
claims that identify the actor." This provider uses it whenever a member of staff
(a hall counter clerk, a hotline agent) helped the citizen sign in. Its shape:

    {"sub": "staff:<staff id>", "client_id": "<channel client>", "device": "<device id>"}

- ``sub`` (always): the acting staff member, ``staff:`` + the staff account's id
  (``idp.models.staff``), never a name or an ID number.
- ``client_id`` (optional, RFC 8693 4.3 claim name): the channel system the staff member
  worked through (the hotline's CIBA client).
- ``device`` (optional): the staff terminal or counter the proof was made at.

The value travels from ``AuthResult`` into the SSO session's level record, then the
authorization code, the token row, refreshes, the ID token, RFC 9068 access tokens
and introspection. A sign-in nobody assisted has no ``act`` at all.
"""

from __future__ import annotations

from typing import Any

from .result import AuthResult

STAFF_PREFIX = "staff:"


def act_claim(
    staff_id: str | None, *, client_id: str | None = None, device_id: str | None = None
) -> dict[str, str] | None:
    """The ``act`` value for ``staff_id`` (None when no staff member acted)."""
    if not staff_id:
        return None
    act = {"sub": STAFF_PREFIX + staff_id}
    if client_id:
        act["client_id"] = client_id
    if device_id:
        act["device"] = device_id
    return act


def act_of(result: AuthResult) -> dict[str, str] | None:
    """The ``act`` value of a completed authentication."""
    return act_claim(
        result.acting_staff_id,
        client_id=result.acting_client_id,
        device_id=result.acting_device_id,
    )


def clean_act(value: Any) -> dict[str, str] | None:
    """An ``act`` value read back from storage: a dict with a ``sub``, else None."""
    if not isinstance(value, dict) or not isinstance(value.get("sub"), str):
        return None
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}
