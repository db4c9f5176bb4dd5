"""The per-process client cache (idp.oauth.client_cache) never outlives a change.

Two application instances share the database and the ephemeral store, as two server
workers (or two machines) share PostgreSQL and Redis. Both have the client cached; a
change committed through one is seen by the other on its very next request.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.oidc_helpers import basic
from tests.oidc_helpers import fresh_requests
from tests.oidc_helpers import grant_consent
from tests.oidc_helpers import sign_in


def _introspect(http: Any, rp: Any, token: str) -> Any:
    return http.post("/introspect", data={"token": token}, headers=basic(rp.client_id, rp.secret))


def test_a_disabled_client_is_refused_at_once_by_a_warm_second_instance(
    app: Any, http: Any, other: Any, rp: Any, citizen: Any, login: Any
) -> None:
    from idp.oauth.clients import disable_client

    fresh_requests(app)
    grant_consent(citizen, rp)
    login()
    tokens = sign_in(http, rp)
    second = other.test_client()
    # Both instances have the client in their cache now.
    assert _introspect(http, rp, tokens["access_token"]).get_json()["active"] is True
    assert _introspect(second, rp, tokens["access_token"]).get_json()["active"] is True

    assert disable_client(rp.client_id)

    for client in (second, http):
        refused = _introspect(client, rp, tokens["access_token"])
        assert refused.status_code == 401
        assert refused.get_json()["error"] == "invalid_client"
        exchange = client.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": "x" * 43},
            headers=basic(rp.client_id, rp.secret),
        )
        assert exchange.status_code == 401
        assert exchange.get_json()["error"] == "invalid_client"
    page = second.get("/authorize", query_string={"client_id": rp.client_id})
    assert page.status_code == 400


def test_a_changed_policy_is_seen_at_once_by_a_warm_second_instance(
    app: Any, http: Any, other: Any, rp: Any, citizen: Any, login: Any
) -> None:
    """A raised minimum level applies on the next authorization request anywhere."""
    from idp.oauth.clients import update_acr_policy
    from tests.oidc_helpers import authorize_params

    grant_consent(citizen, rp)
    second = other.test_client()
    login()
    name = app.config["IDP_SESSION_COOKIE"]
    second.set_cookie(name, http.get_cookie(name, domain="localhost").value, domain="localhost")
    before = second.get("/authorize", query_string=authorize_params(rp))
    assert before.status_code == 302 and "code=" in before.headers["Location"]

    update_acr_policy(rp.client_id, minimum_acr="high")

    after = second.get("/authorize", query_string=authorize_params(rp, prompt="none"))
    assert after.status_code == 302
    assert "code=" not in after.headers["Location"]
    assert "error=" in after.headers["Location"]


def test_the_cache_serves_repeated_lookups_and_drops_a_rolled_back_change(
    app: Any, rp: Any
) -> None:
    from idp.extensions import db
    from idp.models import OAuthClient
    from idp.oauth import client_cache
    from idp.oauth.clients import query_client

    first = query_client(rp.client_id)
    assert first is not None
    again = query_client(rp.client_id)
    assert again is not None and again.model is first.model  # no database round trip
    generation = client_cache.generation()
    row = db.session.get(OAuthClient, rp.client_id)
    row.name = "Renamed, then rolled back"
    db.session.flush()
    db.session.rollback()
    assert client_cache.generation() == generation
    db.session.get(OAuthClient, rp.client_id).name = "Tax portal (new name)"
    db.session.commit()
    assert client_cache.generation() != generation
    renamed = query_client(rp.client_id)
    assert renamed is not None and renamed.name == "Tax portal (new name)"


def test_unknown_client_ids_are_not_cached(app: Any) -> None:
    from idp.oauth import client_cache
    from idp.oauth.clients import query_client

    for n in range(50):
        assert query_client(f"unknown{n}") is None
    assert client_cache._cache().entries == {}


@pytest.mark.skipif(
    "postgres" not in os.environ.get("IDP_TEST_BACKENDS", "sqlite,postgres"),
    reason="needs PostgreSQL",
)
def test_a_dead_pooled_connection_is_a_503_then_the_pool_recovers(
    app: Any, http: Any, backend: Any, rp: Any
) -> None:
    """Connections are not pinged before each use (idp.config): a database restart
    costs one 503 with Retry-After, never a 500, and the next request works."""
    from sqlalchemy import create_engine
    from sqlalchemy import text

    from idp.extensions import db
    from tests.conftest import PG_URL

    if backend[0] != "postgres":
        pytest.skip("PostgreSQL only")
    pid = db.session.connection().execute(text("SELECT pg_backend_pid()")).scalar()
    db.session.remove()  # back to the pool, alive as far as the pool knows
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    token = {"token": "x" * 43}
    gone = http.post("/introspect", data=token, headers=basic(rp.client_id, rp.secret))
    assert gone.status_code == 503
    assert gone.headers["Retry-After"] == "1"
    assert gone.get_json()["error"] == "temporarily_unavailable"
    db.session.remove()
    again = http.post("/introspect", data=token, headers=basic(rp.client_id, rp.secret))
    assert again.status_code == 200 and again.get_json() == {"active": False}
