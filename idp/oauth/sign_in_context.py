"""The authentication context a grant carries from the sign-in to the tokens.

Authorization codes and device requests both hold the sign-in's ``sid``, ``acr``,
``amr``, ``auth_time``, consent, channel and ``act`` as plain attributes; the ID token
(idp.oauth.oidc) and the token row (idp.oauth.tokens) read them through these getters.
"""

from __future__ import annotations

from typing import Any


class SignInContext:
    """Getters over the attributes ``sid acr amr auth_time consent_id channel act``."""

    sid: str | None
    acr: str | None
    amr: list[str]
    auth_time: int | None
    consent_id: str | None
    channel: str | None
    act: dict[str, Any] | None

    def get_auth_time(self) -> int | None:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr)

    def get_sid(self) -> str | None:
        return self.sid

    def get_consent_id(self) -> str | None:
        return self.consent_id

    def get_channel(self) -> str | None:
        return self.channel

    def get_act(self) -> dict[str, Any] | None:
        return self.act
