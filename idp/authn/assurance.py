"""Assurance: which level (``acr``) and which ``amr`` a proof reaches, and how long a
level lasts (DESIGN.md "Assurance").

This module is the one mapping from authentication methods (RFC 8176 ``amr`` values,
https://www.rfc-editor.org/rfc/rfc8176#section-2) and channel to an assurance level.
Adapters build ``AuthResult.methods`` and set ``acr=level_for(methods, channel=NAME)``;
the core applies the same rules again when a step-up joins a new proof to the
session's earlier ones (``idp.authn.service``).

=========================================  ===================  ===============  ===========
proof                                      ``methods``           ``amr`` claim    level
=========================================  ===================  ===============  ===========
password                                   pwd                   pwd              low
SMS one-time code                          sms                   sms              low
password + SMS code                        pwd sms               pwd sms mfa      low
password + TOTP (or a recovery code)       pwd otp               pwd otp mfa      substantial
password + WebAuthn key without UV         pwd hwk | pwd swk     pwd hwk mfa      substantial
WebAuthn with UV, device-bound key [1]     hwk mfa               hwk mfa          high
WebAuthn with UV, synced or not listed [1] swk | hwk             swk              substantial [2]
WebAuthn without UV, alone                 hwk | swk             hwk              low
app approval unlocked by a biometric [3]   swk fpt|face (mobile) swk fpt mfa      high
app approval unlocked by the passcode [3]  swk pin (mobile)      swk pin mfa      substantial
app approval without user verification     swk (mobile)          swk              low
chip ID card + face match in person        sc face (hall, kiosk) sc face mfa      high (issue 5)
anything on the hotline                    ...                   ...              <= substantial
=========================================  ===================  ===============  ===========

[1] ``idp.authn.passkeys.assurance`` decides for WebAuthn: ``hwk`` for a device-bound
credential, ``swk`` for a synced passkey; ``mfa`` joins the methods only when the
authenticator verified the user (UV flag, WebAuthn Level 3 section 6.1) and the
credential is admitted to high (device-bound unless ``IDP_WEBAUTHN_HIGH_ALLOW_SYNCED``,
model on the allow-list when it is set: ``idp.authn.passkeys.allowlist``).
[3] Never above the level of the sign-in that bound the device
(``idp.authn.devices.approval_proof``, NIST SP 800-63B 6.1.2.1).
[2] Stated by the WebAuthn adapter as its result's ``acr``: user verification is a
second factor on the device, but the key is not admitted to high. An adapter may state a
level above ``level_for`` for its own proof only where this table says so; the core
takes the higher of the two.

Why:

- Substantial needs two factors of different kinds (eIDAS implementing regulation
  2015/1502, annex 2.2.1; NIST SP 800-63B AAL2), with a possession factor that is not
  an SMS code: NIST SP 800-63B 5.1.3.3 makes the PSTN a RESTRICTED authenticator, so a
  password plus an SMS code stays low.
- High needs a key protected by the device that itself verified the person (NIST SP
  800-63B AAL3: a multi-factor cryptographic authenticator). In ``methods``, ``mfa``
  means exactly that: "this one authenticator verified the user itself". An assertion
  without user verification is a single possession factor and never reaches high.
- ``amr`` (RFC 8176): each method once, plus ``mfa`` whenever two kinds of factor were
  used or an authenticator verified the user itself.
- A channel caps what it can vouch for (STYLE.md 7.15): the hotline never yields high.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from typing import ClassVar

from .result import Acr
from .result import Amr
from .result import Channel


class FactorKind(StrEnum):
    KNOWLEDGE = "knowledge"
    POSSESSION = "possession"
    INHERENCE = "inherence"


# RFC 8176 value -> kind of factor. ``user`` (a presence test) and ``mfa`` (a marker)
# are no factor of their own.
FACTOR_KIND: dict[Amr, FactorKind] = {
    Amr.PWD: FactorKind.KNOWLEDGE,
    Amr.PIN: FactorKind.KNOWLEDGE,
    Amr.KBA: FactorKind.KNOWLEDGE,
    Amr.OTP: FactorKind.POSSESSION,
    Amr.SMS: FactorKind.POSSESSION,
    Amr.HWK: FactorKind.POSSESSION,
    Amr.SWK: FactorKind.POSSESSION,
    Amr.SC: FactorKind.POSSESSION,
    Amr.FPT: FactorKind.INHERENCE,
    Amr.FACE: FactorKind.INHERENCE,
}


@dataclass(frozen=True)
class Rule:
    """``level`` is reached when ``methods`` hold one value of every group in ``needs``
    and the channel is one of ``channels`` (None: any channel)."""

    level: Acr
    needs: tuple[frozenset[Amr], ...]
    channels: frozenset[Channel] | None
    proof: str  # the README wording


_KEYS = frozenset({Amr.HWK, Amr.SWK})
_STRONG_POSSESSION = frozenset({Amr.OTP, Amr.HWK, Amr.SWK, Amr.SC})
_BIOMETRIC = frozenset({Amr.FPT, Amr.FACE})

# Tried in order; the first rule that holds gives the level, else LOW.
RULES: tuple[Rule, ...] = (
    Rule(Acr.HIGH, (_KEYS, frozenset({Amr.MFA})), None, "WebAuthn with user verification"),
    # Issue 5 hooks: the mobile and in-person adapters produce these methods.
    Rule(
        Acr.HIGH,
        (frozenset({Amr.SWK}), _BIOMETRIC),
        frozenset({Channel.MOBILE}),
        "app approval unlocked by a biometric",
    ),
    Rule(
        Acr.SUBSTANTIAL,
        (frozenset({Amr.SWK}), frozenset({Amr.PIN})),
        frozenset({Channel.MOBILE}),
        "app approval unlocked by the device passcode",
    ),
    Rule(
        Acr.HIGH,
        (frozenset({Amr.SC}), frozenset({Amr.FACE})),
        frozenset({Channel.HALL, Channel.KIOSK}),
        "chip ID card and face match in person",
    ),
    Rule(
        Acr.SUBSTANTIAL,
        (frozenset({Amr.PWD}), _STRONG_POSSESSION),
        None,
        "password and TOTP, recovery code or a WebAuthn key without user verification",
    ),
)

# The most a channel can vouch for (STYLE.md 7.15).
CHANNEL_CAP: dict[Channel, Acr] = {Channel.HOTLINE: Acr.SUBSTANTIAL}


def level_for(methods: Iterable[Amr | str], *, channel: Channel | str | None = None) -> Acr:
    """The level a set of methods reaches on ``channel`` (see the module table)."""
    used = {Amr(m) for m in methods}
    chosen = Acr.LOW
    for rule in RULES:
        if rule.channels is not None and (channel is None or Channel(channel) not in rule.channels):
            continue
        if all(used & group for group in rule.needs):
            chosen = rule.level
            break
    cap = CHANNEL_CAP.get(Channel(channel)) if channel is not None else None
    if cap is not None and not cap.satisfies(chosen):
        return cap
    return chosen


def amr_claim(methods: Iterable[Amr | str]) -> list[str]:
    """RFC 8176: each method once, in order, and ``mfa`` when the proof used two kinds
    of factor or one authenticator verified the user itself."""
    values = [str(Amr(m)) for m in dict.fromkeys(str(m) for m in methods)]
    kinds = {FACTOR_KIND[Amr(v)] for v in values if Amr(v) in FACTOR_KIND}
    multi = len(kinds) > 1 or Amr.MFA in values
    values = [v for v in values if v != Amr.MFA]
    if multi:
        values.append(str(Amr.MFA))
    return values


def joined_level(
    earlier: Iterable[Amr | str],
    new: Iterable[Amr | str],
    *,
    channel: Channel | str | None = None,
) -> Acr | None:
    """The level a new proof reaches joined to the session's earlier proofs (step-up),
    or None when joining adds nothing.

    The earlier methods are those of levels that have not lapsed, but they may be the
    methods of a higher level that has (a passkey proof whose high lapsed still stands
    at substantial with ``hwk mfa``). So the joined chain counts only when the new proof
    is needed for it: ``level_for(earlier + new) > level_for(earlier)``. A password
    typed after high lapsed therefore does not bring high back; a TOTP code on a
    password session does reach substantial.
    """
    before = list(earlier)
    joined = level_for([*before, *new], channel=channel)
    if joined.rank > level_for(before, channel=channel).rank:
        return joined
    return None


def merge_methods(*chains: Iterable[Amr | str]) -> tuple[Amr, ...]:
    """Methods of several proofs joined into one chain, in order, each once."""
    return tuple(Amr(m) for m in dict.fromkeys(str(m) for chain in chains for m in chain))


# --- per-level lifetimes -------------------------------------------------------------------


@dataclass(frozen=True)
class Lifetime:
    """How long a reached level lasts: ``max_age`` seconds after it was reached and
    ``idle`` seconds after it was last relied on. None: as long as the SSO session."""

    max_age: int | None
    idle: int | None

    def lapsed(self, *, reached_at: int, used_at: int, now: int) -> bool:
        if self.max_age is not None and now - reached_at >= self.max_age:
            return True
        return self.idle is not None and now - used_at >= self.idle


@dataclass(frozen=True)
class LevelPolicy:
    """Per-level lifetimes. NIST SP 800-63B (rev. 3) 4.3.3 asks AAL3 to reauthenticate
    at least every 12 hours and after 15 minutes of inactivity, which the defaults for
    high follow; 4.2.3 asks AAL2 for 12 hours / 30 minutes, while eIDAS substantial
    sets no timeout, so substantial defaults to 24 h / 1 h (``IDP_ACR_*`` in
    ``idp.config``). LOW lives as long as the SSO session itself."""

    lifetimes: Mapping[Acr, Lifetime]
    # The names ``from_namespace`` reads (``IDP_ACR_<NAME>`` in the configuration).
    SETTINGS: ClassVar[tuple[str, ...]] = (
        "substantial_max_age",
        "substantial_idle",
        "high_max_age",
        "high_idle",
    )

    @classmethod
    def from_namespace(cls, values: Mapping[str, Any]) -> LevelPolicy:
        """From ``app.config.get_namespace("IDP_ACR_")`` (``high_max_age``, ``high_idle``,
        ``substantial_max_age``, ``substantial_idle``; None = no limit of its own)."""

        def seconds(name: str) -> int | None:
            value = values.get(name)
            return None if value is None else int(value)

        return cls(
            lifetimes={
                Acr.LOW: Lifetime(max_age=None, idle=None),
                Acr.SUBSTANTIAL: Lifetime(
                    max_age=seconds("substantial_max_age"), idle=seconds("substantial_idle")
                ),
                Acr.HIGH: Lifetime(max_age=seconds("high_max_age"), idle=seconds("high_idle")),
            }
        )

    def lifetime(self, acr: Acr) -> Lifetime:
        return self.lifetimes.get(acr, Lifetime(max_age=None, idle=None))


def highest(levels: Iterable[Acr]) -> Acr | None:
    ranked = sorted(levels, key=lambda a: a.rank)
    return ranked[-1] if ranked else None


def parse_acr(value: str | None) -> Acr | None:
    """A level from its URI or its short name (``low``, ``substantial``, ``high``)."""
    if not value:
        return None
    text = value.strip()
    for acr in Acr:
        if text in (acr.value, acr.name.lower()):
            return acr
    return None
