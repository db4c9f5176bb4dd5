"""Passkeys and security keys: register, list, rename, remove, and sign in with them.

Service over ``methods.webauthn`` (the py_webauthn wrapper): it reads no request, takes
the client address and the SSO session as arguments, and raises domain errors. One module
per job: ``policy`` (RP, levels, freshness, challenges), ``allowlist`` (the models
admitted to high), ``credentials`` (the list, names, removal), ``registration`` (7.1),
``sign_in`` (7.2), ``errors``; the public names are re-exported here.

Policy, stated once:

- **Ceremonies.** Every challenge is 32 random bytes, single use and short-lived
  (``IDP_TTL_WEBAUTHN_CHALLENGE``), kept in the ephemeral store under what it is bound
  to: a sign-in to its interaction, a registration to the account's SSO session. A new
  ceremony for the same binding replaces the old one; verifying consumes it atomically
  (``EphemeralStore.consume``), whether the response then passes or not.
- **Kinds.** A *passkey* is created with ``residentKey: "required"`` and
  ``userVerification: "required"``: discoverable, so the citizen signs in without typing
  the ID number, and gated by the device's biometric or screen lock. A *security key* is
  created with ``residentKey: "discouraged"`` (no slot used on a hardware key) and
  ``userVerification: "preferred"``; it is offered when the citizen is already known (a
  password was accepted, or a signed-in session steps up).
- **User handle.** One opaque random 64-byte handle per citizen (``WebAuthnUser``), never
  the ID number; a discoverable response must carry it and it must be the owner's.
- **Assurance** (``assurance``): ``hwk`` for a device-bound credential (backup
  eligibility false), ``swk`` for a synced passkey (true), RFC 8176. With user
  verification the ceremony proved two factors: possession plus the device's biometric
  or PIN. It reaches **high** (methods ``hwk mfa``) only if the credential is
  device-bound (or ``IDP_WEBAUTHN_HIGH_ALLOW_SYNCED``: NIST SP 800-63B Supplement 1
  keeps synced keys at AAL2) and its authenticator model is on the allow-list
  (``allowlist``: the console's table plus ``IDP_WEBAUTHN_HIGH_AAGUIDS``; both empty =
  any); otherwise **substantial**. Without user
  verification it is one possession factor: **low** alone, substantial with a password.
  A sign-in that must reach high asks for ``userVerification: "required"`` and refuses a
  response without the UV flag. With attestation "none" the AAGUID and the backup flags
  are what the authenticator says of itself: the allow-list keeps honest authenticators
  of unapproved models below high, it does not stop a forged one
  (``IDP_WEBAUTHN_ATTESTATION = "direct"`` records a verified attestation format).
- **Clones.** WebAuthn 3 section 7.2 step 22 leaves it to the RP what to do when the
  signature counter does not move forward. We refuse the sign-in, switch the credential
  off (``disabled_at``, reason ``clone_suspected``) and tell the citizen, who can sign in
  another way and remove it. A counter that stays 0 (synced passkeys keep none) is fine.
- **Limits.** Sign-in failures count against the client address (``ratelimit``, scope
  ``passkey``) and, once the credential is known, against that authenticator
  (``authenticator_limits``, key ``webauthn:<row id>``).
- **Fresh sign-in.** Adding or removing a credential needs a sign-in at most
  ``IDP_WEBAUTHN_FRESH_SIGN_IN`` seconds old (OWASP Authentication Cheat Sheet,
  "Reauthentication"): a stolen session cannot swap the citizen's authenticators.
"""

from __future__ import annotations

from .credentials import MAX_NAME_LENGTH
from .credentials import Passkey
from .credentials import clean_name
from .credentials import has_passkeys
from .credentials import list_passkeys
from .credentials import remove
from .credentials import rename
from .errors import FreshSignInRequired
from .errors import PasskeyAlreadyRegistered
from .errors import PasskeyDisabled
from .errors import PasskeyExpired
from .errors import PasskeyNotRegistered
from .errors import PasskeyOfAnotherAccount
from .errors import PasskeyRefused
from .errors import PasskeyWrongSiteRefused
from .errors import PossibleClone
from .errors import TooManyPasskeys
from .errors import UnknownPasskey
from .errors import UserVerificationRequired
from .policy import Kind
from .policy import admitted_to_high
from .policy import assurance
from .policy import fresh_enough
from .policy import relying_party
from .registration import finish_registration
from .registration import start_registration
from .sign_in import CLONE_SUSPECTED
from .sign_in import PasskeySignIn
from .sign_in import finish_sign_in
from .sign_in import start_sign_in

__all__ = [
    "CLONE_SUSPECTED",
    "MAX_NAME_LENGTH",
    "FreshSignInRequired",
    "Kind",
    "Passkey",
    "PasskeyAlreadyRegistered",
    "PasskeyDisabled",
    "PasskeyExpired",
    "PasskeyNotRegistered",
    "PasskeyOfAnotherAccount",
    "PasskeyRefused",
    "PasskeySignIn",
    "PasskeyWrongSiteRefused",
    "PossibleClone",
    "TooManyPasskeys",
    "UnknownPasskey",
    "UserVerificationRequired",
    "admitted_to_high",
    "assurance",
    "clean_name",
    "finish_registration",
    "finish_sign_in",
    "fresh_enough",
    "has_passkeys",
    "list_passkeys",
    "relying_party",
    "remove",
    "rename",
    "start_registration",
    "start_sign_in",
]
