"""Domain errors. They carry data; the web layer maps them to pages or OAuth errors.

``public`` is safe to show (ASCII-free of secrets); ``detail`` is for logs only and must
never hold an ID number, a password, a code or a token.
"""

from __future__ import annotations


class IdpError(Exception):
    public = "The request could not be completed."

    def __init__(self, public: str | None = None, *, detail: str = "") -> None:
        super().__init__(public or self.public)
        if public:
            self.public = public
        self.detail = detail


class InvalidInput(IdpError):
    """A form or file field broke a rule; ``field`` names it, ``public`` says which rule."""

    def __init__(self, public: str, *, field: str | None = None, detail: str = "") -> None:
        super().__init__(public, detail=detail)
        self.field = field


class AuthenticationFailed(IdpError):
    """Wrong ID number or password: one message for both, so neither is revealed."""

    public = "The ID number or password is incorrect."


class TooManyAttempts(IdpError):
    public = "Too many attempts. Try again later."

    def __init__(self, *, resets_in: int) -> None:
        super().__init__()
        self.resets_in = resets_in


class CitizenLocked(IdpError):
    public = "This account is locked. Contact the service hall."


class InteractionExpired(IdpError):
    public = "This sign-in page has expired. Return to the portal and start again."


class ConfigurationError(RuntimeError):
    """The provider refuses to start on an unsafe or incomplete configuration."""
