"""Flask-SQLAlchemy models, one module per aggregate. Schema changes go through Alembic."""

from .citizen import Citizen
from .citizen import RegistryEntry
from .client import OAuthClient
from .consent import Consent
from .credential import PasswordCredential
from .credential import RecoveryCode
from .credential import TotpCredential
from .lockout import AuthenticatorLockout
from .signing_key import SigningKey
from .staff import Staff
from .staff import StaffApiToken
from .staff import StaffCredential
from .token import OAuthToken
from .webauthn import WebAuthnCredential
from .webauthn import WebAuthnUser

__all__ = [
    "AuthenticatorLockout",
    "Citizen",
    "Consent",
    "OAuthClient",
    "OAuthToken",
    "PasswordCredential",
    "RecoveryCode",
    "RegistryEntry",
    "SigningKey",
    "Staff",
    "StaffApiToken",
    "StaffCredential",
    "TotpCredential",
    "WebAuthnCredential",
    "WebAuthnUser",
]
