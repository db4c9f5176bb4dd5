"""Flask-SQLAlchemy models, one module per aggregate. Schema changes go through Alembic."""

from .citizen import Citizen
from .citizen import RegistryEntry
from .client import OAuthClient
from .consent import Consent
from .credential import PasswordCredential
from .credential import RecoveryCode
from .credential import TotpCredential
from .device import AccountAlert
from .device import DeviceKey
from .lockout import AuthenticatorLockout
from .signing_key import SigningKey
from .token import OAuthToken
from .webauthn import WebAuthnCredential
from .webauthn import WebAuthnUser

__all__ = [
    "AccountAlert",
    "DeviceKey",
    "AuthenticatorLockout",
    "Citizen",
    "Consent",
    "OAuthClient",
    "OAuthToken",
    "PasswordCredential",
    "RecoveryCode",
    "RegistryEntry",
    "SigningKey",
    "TotpCredential",
    "WebAuthnCredential",
    "WebAuthnUser",
]
