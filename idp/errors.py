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


class AuthenticatorDisabled(CitizenLocked):
    """One authenticator (a password, a TOTP, SMS codes, a passkey) was disabled after
    too many consecutive failures (NIST SP 800-63B 5.2.2: no more than 100) and stays so
    until re-enabled at a service hall. A narrower lock than the account's: it subclasses
    ``CitizenLocked`` so a page that shows an account lock shows this one too."""

    public = (
        "This sign-in method is blocked after too many failed attempts. "
        "Use another one, or bring your ID card to a service hall to unblock it."
    )

    def __init__(self, *, authenticator: str = "", detail: str = "") -> None:
        super().__init__(detail=detail or f"authenticator {authenticator} is disabled")
        self.authenticator = authenticator


class InteractionExpired(IdpError):
    public = "This sign-in page has expired. Return to the portal and start again."


class ConfigurationError(RuntimeError):
    """The provider refuses to start on an unsafe or incomplete configuration."""
