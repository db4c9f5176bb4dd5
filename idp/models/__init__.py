"""Flask-SQLAlchemy models, one module per aggregate. Schema changes go through Alembic."""

from .audit import AuditChainHead
from .audit import AuditCheckpoint
from .audit import AuditEvent
from .audit import AuditPending
from .authenticator_model import HighAuthenticatorModel
from .backchannel import BackchannelDelivery
from .citizen import Citizen
from .citizen import RegistryEntry
from .client import OAuthClient
from .consent import Consent
from .credential import PasswordCredential
from .credential import RecoveryCode
from .credential import TotpCredential
from .device import AccountAlert
from .device import DeviceKey
from .kiosk import Kiosk
from .licence import Licence
from .lockout import AuthenticatorLockout
from .release import DataRelease
from .signing_key import SigningKey
from .staff import Staff
from .staff import StaffApiToken
from .staff import StaffCredential
from .token import OAuthToken
from .webauthn import WebAuthnCredential
from .webauthn import WebAuthnUser

__all__ = [
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditPending",
    "AccountAlert",
    "DeviceKey",
    "AuthenticatorLockout",
    "BackchannelDelivery",
    "Citizen",
    "Consent",
    "DataRelease",
    "HighAuthenticatorModel",
    "Licence",
    "Kiosk",
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
