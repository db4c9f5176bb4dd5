"""Refusals of the passkey service. ``public`` is shown to the citizen as ``_(exc.public)``;
``reason`` (a ``methods.webauthn.Reason`` value or one of ours) and ``detail`` are for logs
and tests, never an ID number."""

from __future__ import annotations

from ...errors import IdpError
from ..methods.webauthn import Reason
from ..methods.webauthn import WebAuthnRejected


class PasskeyRefused(IdpError):
    """A registration or sign-in response was refused; ``reason`` says why (logs, tests)."""

    public = "The passkey could not be verified. Try again, or sign in another way."

    def __init__(self, *, reason: str, detail: str = "") -> None:
        super().__init__(detail=detail or reason)
        self.reason = reason


class PasskeyExpired(PasskeyRefused):
    public = "This passkey request has expired or was already used. Start again."


class PasskeyWrongSiteRefused(PasskeyRefused):
    public = "This passkey response was not made for this site. Start again from this page."


class PasskeyNotRegistered(PasskeyRefused):
    public = (
        "This passkey is not registered with us. Sign in with your ID number and password, "
        "then add it on your account page."
    )


class PasskeyOfAnotherAccount(PasskeyRefused):
    public = "This passkey belongs to another account. Use one of your own passkeys."


class UserVerificationRequired(PasskeyRefused):
    public = (
        "Your device did not check that it is you (fingerprint, face or screen lock). "
        "This service needs that check: use a passkey that asks for it."
    )


class PasskeyDisabled(PasskeyRefused):
    public = "This passkey has been switched off. Sign in another way."


class PossibleClone(PasskeyDisabled):
    """The credential's signature counter went backwards: it may have been copied."""

    public = (
        "This passkey has been switched off because it may have been copied: its use "
        "counter went backwards. Sign in another way, remove it from your account and "
        "add it again. If you did not just try to sign in, contact the service hall."
    )


class PasskeyAlreadyRegistered(PasskeyRefused):
    public = "This passkey or security key is already registered to your account."


class TooManyPasskeys(IdpError):
    public = "You have registered the most passkeys allowed. Remove one to add another."


class FreshSignInRequired(IdpError):
    """The session's last sign-in is too old for adding or removing a credential."""

    public = "For your security, sign in again to change your passkeys."


class UnknownPasskey(IdpError):
    public = "That passkey was not found."


# Which wrapper refusals get a message of their own; the rest say "could not be verified".
REFUSALS: dict[Reason, type[PasskeyRefused]] = {
    Reason.ORIGIN_MISMATCH: PasskeyWrongSiteRefused,
    Reason.RP_ID_MISMATCH: PasskeyWrongSiteRefused,
    Reason.CHALLENGE_MISMATCH: PasskeyExpired,
    Reason.USER_NOT_VERIFIED: UserVerificationRequired,
}


def refusal(exc: WebAuthnRejected) -> PasskeyRefused:
    """The citizen-facing refusal for a response the wrapper rejected."""
    kind = REFUSALS.get(exc.reason, PasskeyRefused)
    return kind(reason=str(exc.reason), detail=exc.detail)
