"""What a channel hands to the authentication core: the AuthResult and its vocabularies."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    WEBSITE = "website"
    MOBILE = "mobile"
    KIOSK = "kiosk"
    HALL = "hall"
    HOTLINE = "hotline"


class Amr(StrEnum):
    """Authentication Method Reference values, RFC 8176 section 2."""

    PWD = "pwd"
    OTP = "otp"
    SMS = "sms"
    HWK = "hwk"
    SWK = "swk"
    FPT = "fpt"
    FACE = "face"
    SC = "sc"
    MFA = "mfa"
    USER = "user"
    PIN = "pin"
    KBA = "kba"


class Acr(StrEnum):
    """Assurance levels (see DESIGN.md "Assurance"), ordered low < substantial < high."""

    LOW = "urn:idp:acr:low"
    SUBSTANTIAL = "urn:idp:acr:substantial"
    HIGH = "urn:idp:acr:high"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def satisfies(self, required: Acr) -> bool:
        return self.rank >= required.rank


_RANK = {Acr.LOW: 1, Acr.SUBSTANTIAL: 2, Acr.HIGH: 3}


@dataclass(frozen=True)
class AuthResult:
    """A completed authentication, modelled on Hydra's HandledLoginRequest.

    It is the only way into an SSO session: adapters build one and pass it to
    ``idp.authn.service.complete_login``.
    """

    citizen_id: str
    methods: tuple[Amr, ...]
    acr: Acr
    channel: Channel
    auth_time: datetime
    device_id: str | None = None
    acting_staff_id: str | None = None
    place: str | None = None  # where the device stands (a kiosk's registered place)
    extra: dict[str, str] = field(default_factory=dict)
    # Staff-assisted sign-ins (``acting_staff_id`` set): the channel client and the staff
    # terminal the staff member worked through; see ``idp.authn.acting`` (``act`` claim).
    acting_client_id: str | None = None
    acting_device_id: str | None = None
    # The registered kiosk whose shared browser receives this session: it is then a
    # kiosk session (``idp.authn.kiosk_sessions``: short, one per kiosk). Set by the
    # kiosk adapter for a card sign-in and for the app approving the kiosk's QR code
    # (channel ``mobile``: the proof came from the app); never by a hand-off.
    kiosk_id: str | None = None
