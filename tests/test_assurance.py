"""The assurance map (``idp.authn.assurance``) and per-level lifetimes of SSO sessions.

Table-driven over the README's mapping; sessions are built through ``sessions.start``
and their stored times moved back, as the store would hold them after that long.
"""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest

from idp.authn import sessions
from idp.authn.assurance import RULES
from idp.authn.assurance import LevelPolicy
from idp.authn.assurance import Lifetime
from idp.authn.assurance import amr_claim
from idp.authn.assurance import level_for
from idp.authn.assurance import parse_acr
from idp.authn.result import Acr
from idp.authn.result import Amr
from idp.authn.result import AuthResult
from idp.authn.result import Channel

LOW, SUBSTANTIAL, HIGH = Acr.LOW, Acr.SUBSTANTIAL, Acr.HIGH


@pytest.mark.parametrize(
    ("methods", "channel", "level", "amr"),
    [
        (("pwd",), "website", LOW, ["pwd"]),
        (("sms",), "website", LOW, ["sms"]),
        # NIST SP 800-63B 5.1.3.3: an SMS code is a RESTRICTED authenticator.
        (("pwd", "sms"), "website", LOW, ["pwd", "sms", "mfa"]),
        (("pwd", "otp"), "website", SUBSTANTIAL, ["pwd", "otp", "mfa"]),
        # A security key or passkey without user verification, as a second factor.
        (("pwd", "hwk"), "website", SUBSTANTIAL, ["pwd", "hwk", "mfa"]),
        (("pwd", "swk"), "website", SUBSTANTIAL, ["pwd", "swk", "mfa"]),
        # WebAuthn with user verification (the adapter adds the mfa marker).
        (("hwk", "mfa"), "website", HIGH, ["hwk", "mfa"]),
        (("swk", "mfa"), "website", HIGH, ["swk", "mfa"]),
        (("pwd", "hwk", "mfa"), "website", HIGH, ["pwd", "hwk", "mfa"]),
        # A key without user verification alone is one possession factor.
        (("hwk",), "website", LOW, ["hwk"]),
        (("swk",), "website", LOW, ["swk"]),
        # Two possession factors are not two kinds of factor.
        (("otp", "hwk"), "website", LOW, ["otp", "hwk"]),
        (("sms", "otp"), "website", LOW, ["sms", "otp"]),
        # Issue 5 hooks: in person, and app approval unlocked by a biometric.
        (("sc", "face"), "hall", HIGH, ["sc", "face", "mfa"]),
        (("sc", "face"), "kiosk", HIGH, ["sc", "face", "mfa"]),
        (("sc", "face"), "website", LOW, ["sc", "face", "mfa"]),
        (("swk", "fpt"), "mobile", HIGH, ["swk", "fpt", "mfa"]),
        (("swk", "fpt"), "website", LOW, ["swk", "fpt", "mfa"]),
        # The hotline never yields high.
        (("hwk", "mfa"), "hotline", SUBSTANTIAL, ["hwk", "mfa"]),
        (("pwd", "otp"), "hotline", SUBSTANTIAL, ["pwd", "otp", "mfa"]),
    ],
)
def test_the_assurance_map(methods, channel, level, amr):
    assert level_for([Amr(m) for m in methods], channel=Channel(channel)) == level
    assert amr_claim(methods) == amr


def test_every_rule_names_its_proof_and_only_known_values():
    for rule in RULES:
        assert rule.proof
        assert all(group and group <= set(Amr) for group in rule.needs)


def test_level_without_channel_ignores_channel_bound_rules():
    assert level_for([Amr.SC, Amr.FACE]) == LOW
    assert level_for([Amr.PWD, Amr.OTP]) == SUBSTANTIAL


def test_amr_lists_each_method_once_in_order():
    assert amr_claim(["pwd", "otp", "pwd", "mfa", "otp"]) == ["pwd", "otp", "mfa"]


def test_levels_are_ordered():
    assert HIGH.satisfies(SUBSTANTIAL) and HIGH.satisfies(LOW)
    assert SUBSTANTIAL.satisfies(LOW) and not SUBSTANTIAL.satisfies(HIGH)
    assert not LOW.satisfies(SUBSTANTIAL)


@pytest.mark.parametrize(
    ("text", "acr"),
    [
        ("urn:idp:acr:high", HIGH),
        ("high", HIGH),
        (" substantial ", SUBSTANTIAL),
        ("low", LOW),
        ("urn:idp:acr:medium", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_acr(text, acr):
    assert parse_acr(text) == acr


# --- lifetimes ------------------------------------------------------------------------------


def test_lifetime_lapses_by_absolute_and_idle_time():
    life = Lifetime(max_age=100, idle=10)
    assert not life.lapsed(reached_at=0, used_at=95, now=99)
    assert life.lapsed(reached_at=0, used_at=99, now=100)  # absolute
    assert life.lapsed(reached_at=50, used_at=50, now=60)  # idle
    assert not Lifetime(max_age=None, idle=None).lapsed(reached_at=0, used_at=0, now=10**9)


def test_policy_defaults_from_config(app):
    policy = LevelPolicy.from_namespace(app.config.get_namespace("IDP_ACR_"))
    assert policy.lifetime(HIGH) == Lifetime(max_age=12 * 3600, idle=15 * 60)
    assert policy.lifetime(SUBSTANTIAL) == Lifetime(max_age=24 * 3600, idle=3600)
    # Low lasts as long as the SSO session itself.
    assert policy.lifetime(LOW) == Lifetime(max_age=None, idle=None)


# --- sessions remember each level -----------------------------------------------------------


def _start(store, citizen, methods, acr=None, *, previous=None, when=None):
    result = AuthResult(
        citizen_id=citizen.id,
        methods=tuple(Amr(m) for m in methods),
        acr=acr or level_for([Amr(m) for m in methods]),
        channel=Channel.WEBSITE,
        auth_time=when or datetime.now(UTC),
    )
    return sessions.start(store, result=result, lifetime=3600, idle=3600, previous=previous)[0]


def _aged(store: Any, session: Any, **seconds_ago: dict[str, int]) -> Any:
    """Move a level's stored times back: ``high={"at": 600, "used": 600}``."""
    data = store.get(sessions.KIND, session.sid)
    now = int(time.time())
    for name, ages in seconds_ago.items():
        entry = data["levels"][str(Acr[name.upper()])]
        for key, ago in ages.items():
            entry[key] = now - ago
    store.put(sessions.KIND, session.sid, data, 3600)
    return sessions.get_by_sid(store, session.sid)


POLICY = LevelPolicy(
    lifetimes={
        LOW: Lifetime(None, None),
        SUBSTANTIAL: Lifetime(max_age=24 * 3600, idle=3600),
        HIGH: Lifetime(max_age=12 * 3600, idle=900),
    }
)


def test_a_proof_reaches_its_level_and_every_level_below(store, citizen):
    session = _start(store, citizen, ("hwk", "mfa"))
    now = int(time.time())
    states = session.level_states(POLICY, now)
    assert [s.acr for s in states] == [HIGH, SUBSTANTIAL, LOW]
    assert all(s.methods == (Amr.HWK, Amr.MFA) for s in states)
    assert session.standing(POLICY, now).acr == HIGH
    assert session.standing(POLICY, now).amr == ["hwk", "mfa"]


def test_high_lapses_after_its_idle_time_and_the_session_stands_at_substantial(store, citizen):
    session = _aged(store, _start(store, citizen, ("hwk", "mfa")), high={"used": 901})
    standing = session.standing(POLICY, int(time.time()))
    assert standing.acr == SUBSTANTIAL
    # Still the same proof: when and how the citizen authenticated.
    assert standing.amr == ["hwk", "mfa"]


def test_high_lapses_after_its_absolute_time_even_when_used(store, citizen):
    session = _start(store, citizen, ("hwk", "mfa"))
    session = _aged(store, session, high={"at": 12 * 3600, "used": 1})
    assert session.standing(POLICY, int(time.time())).acr == SUBSTANTIAL


def test_substantial_lapses_to_low_which_lasts_as_long_as_the_session(store, citizen):
    session = _start(store, citizen, ("pwd", "otp"))
    session = _aged(store, session, substantial={"used": 3601}, low={"at": 10**6, "used": 10**6})
    standing = session.standing(POLICY, int(time.time()))
    assert standing.acr == LOW


def test_record_use_restarts_the_idle_clock_of_the_level_and_those_below(store, citizen):
    session = _aged(
        store,
        _start(store, citizen, ("hwk", "mfa")),
        high={"used": 800},
        substantial={"used": 800},
        low={"used": 800},
    )
    session = sessions.record_use(store, session, client_id="c1", level=SUBSTANTIAL, idle=3600)
    now = int(time.time())
    used = {s.acr: now - s.used_at for s in session.level_states(POLICY, now)}
    assert used[SUBSTANTIAL] <= 1 and used[LOW] <= 1
    assert used[HIGH] >= 800  # not relied on
    assert "c1" in session.clients


def test_a_later_lower_proof_keeps_the_higher_level_and_its_time(store, citizen):
    first = _start(
        store, citizen, ("hwk", "mfa"), when=datetime.fromtimestamp(time.time() - 60, UTC)
    )
    second = _start(store, citizen, ("pwd",), previous=first)
    now = int(time.time())
    levels = {s.acr: s for s in second.level_states(POLICY, now)}
    assert levels[HIGH].reached_at == first.auth_time
    assert levels[LOW].reached_at == second.auth_time and levels[LOW].methods == (Amr.PWD,)
    # Freshness is per level: within the last 30 s only low was proved.
    assert second.standing(POLICY, now, fresh_after=now - 30).acr == LOW
    assert second.standing(POLICY, now, fresh_after=now - 30, at_least=HIGH) is None


def test_a_new_sign_in_renews_the_id_and_remembers_the_old_ones(store, citizen):
    first = _start(store, citizen, ("pwd",))
    second = _start(store, citizen, ("pwd", "otp"), previous=first)
    assert second.sid != first.sid
    assert second.known_as(first.sid) and second.known_as(second.sid)
    assert not second.known_as("someone-else") and not second.known_as(None)
    assert sessions.get_by_sid(store, first.sid) is None
    # Another citizen in the same browser starts afresh.
    from idp.authn.citizens import create_citizen

    other = create_citizen(id_number="110101199003074530", name="王小明", phone=None)
    third = _start(store, other, ("pwd",), previous=second)
    assert third.previous_sids == [] and not third.known_as(second.sid)


def test_sessions_stored_before_per_level_records_still_load(store, citizen):
    session = _start(store, citizen, ("pwd", "otp"))
    data = store.get(sessions.KIND, session.sid)
    data["levels"] = {str(SUBSTANTIAL): session.auth_time, str(LOW): session.auth_time}
    data["amr"] = ["pwd", "otp", "mfa"]
    data.pop("previous_sids")
    store.put(sessions.KIND, session.sid, data, 3600)
    loaded = sessions.get_by_sid(store, session.sid)
    standing = loaded.standing(POLICY, int(time.time()))
    assert standing.acr == SUBSTANTIAL
    # The claim's mfa is not taken for a user-verification marker.
    assert standing.methods == (Amr.PWD, Amr.OTP)


def test_fresh_enough(app, store, citizen):
    from idp.authn.service import fresh_enough

    session = _start(store, citizen, ("pwd", "otp"))
    assert fresh_enough(session, within=60, acr=None)
    assert fresh_enough(session, within=60, acr=SUBSTANTIAL)
    assert not fresh_enough(session, within=60, acr=HIGH)
    old = _aged(store, session, substantial={"at": 300}, low={"at": 300})
    assert not fresh_enough(old, within=60, acr=None)
    assert fresh_enough(old, within=600, acr=SUBSTANTIAL)


# --- joining a step-up to earlier proofs ------------------------------------------------------


@pytest.mark.parametrize(
    ("earlier", "new", "joined"),
    [
        (("pwd",), ("otp",), SUBSTANTIAL),  # the missing factor
        (("pwd",), ("hwk",), SUBSTANTIAL),  # a key without user verification
        (("pwd",), ("hwk", "mfa"), HIGH),
        (("pwd",), ("pwd",), None),  # nothing added
        (("pwd",), ("sms",), None),  # still low
        # A lapsed high still stands at substantial with the same methods: a password
        # (or any factor it does not need) must not bring high back.
        (("hwk", "mfa"), ("pwd",), None),
        (("hwk", "mfa"), ("otp",), None),
        # A lapsed substantial: its code cannot be refreshed by another possession
        # factor alone (conservative: sign in again).
        (("pwd", "otp"), ("hwk",), None),
        (("pwd", "otp"), ("hwk", "mfa"), HIGH),
    ],
)
def test_joined_level_counts_only_when_the_new_proof_is_needed(earlier, new, joined):
    from idp.authn.assurance import joined_level

    assert joined_level(earlier, new) == joined
