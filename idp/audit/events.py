"""The closed vocabulary of the audit trail: event types, outcomes, actor kinds."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Every security-relevant event (issue 6). ``<area>.<what>``, stable on the wire:
    auditors search by these names."""

    LOGIN_SUCCESS = "login.success"  # a session started or stepped up (channel, acr, amr)
    LOGIN_FAILURE = "login.failure"  # a proof was refused (method, reason)
    STEP_UP = "login.step_up"  # an existing session reached a higher level
    LOGOUT = "logout"  # a session ended (sign-out, RP-initiated, all sessions)
    CONSENT_GRANT = "consent.grant"
    CONSENT_REVOKE = "consent.revoke"
    DATA_RELEASE = "data.release"  # personal data disclosed to a portal (claims, scopes)
    TOKEN_ISSUE = "token.issue"  # authorization_code grant
    TOKEN_REFRESH = "token.refresh"  # refresh_token grant
    TOKEN_REVOKE = "token.revoke"  # RFC 7009, withdrawals, refresh-token reuse
    CODE_REPLAY = "token.code_replay"  # RFC 6749 4.1.2: a code used twice
    KEY_ROTATE = "key.rotate"
    KEY_PURGE = "key.purge"
    BACKCHANNEL_PURGE = "backchannel.purge"  # finished logout notices deleted (counts)
    CLIENT_CREATE = "client.create"
    CLIENT_UPDATE = "client.update"  # details: before / after
    CLIENT_DISABLE = "client.disable"
    ADMIN_ACTION = "admin.action"  # the console (issue 6, admin branch): before / after
    STAFF_ACTION = "staff.action"  # staff-assisted action at a counter or the hotline
    PHONE_VERIFIED = "account.phone_verified"  # an SMS code proved the phone on record (via)
    CHECKPOINT = "audit.checkpoint"  # a signed checkpoint of the chain head was stored


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class ActorType(StrEnum):
    CITIZEN = "citizen"
    CLIENT = "client"  # a portal acting with its own credentials
    STAFF = "staff"
    OPERATOR = "operator"  # the `idp` command line (the OS user is the actor id)
    SYSTEM = "system"  # the provider itself (checkpoints, automatic revocations)
    ANONYMOUS = "anonymous"  # a failed sign-in for a number no citizen holds
