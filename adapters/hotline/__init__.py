"""The hotline channel (服务热线): the IVR and agent desk, a CIBA client.

The hotline system speaks OpenID Connect CIBA to the protocol layer (``idp.oauth.ciba``:
``POST /bc-authorize``, then ``/token``); the citizen proves who they are on their own
phone (``idp.authn.decoupled``). This adapter is the channel's part: it turns that proof
into the hotline's ``AuthResult`` (channel ``hotline``, the acting staff member = the
agent, the hotline client and the approving device), which the core records as a
session. It never mints tokens: the protocol layer issues them at ``/token``.
"""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from idp.authn import decoupled
from idp.authn.result import AuthResult
from idp.authn.result import Channel

NAME = Channel.HOTLINE
# No pages of its own: the hotline system talks to the protocol endpoints.
bp = Blueprint("hotline", __name__)


def auth_result(proof: decoupled.Proof) -> AuthResult:
    """The hotline sign-in: the citizen's own proof (app approval or SMS read-back),
    assisted by the agent through the hotline's client (RFC 8693 ``act``)."""
    return AuthResult(
        citizen_id=proof.citizen_id,
        methods=proof.methods,
        acr=proof.acr,
        channel=Channel.HOTLINE,
        auth_time=decoupled.decided_at(proof.decided_at),
        device_id=proof.device_id,
        acting_staff_id=proof.agent_id,
        acting_client_id=proof.client_id,
    )


@bp.record_once
def _register(state: BlueprintSetupState) -> None:
    decoupled.register(state.app, NAME, auth_result)  # type: ignore[arg-type]
