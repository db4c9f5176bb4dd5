"""Discovery and JWKS in front of Flask (idp.web.metadata_wsgi): the same documents and
headers as the Flask views, a conditional GET answered 304, and a key rotation visible
at once in every process (two app instances sharing the database and the store, as two
workers share PostgreSQL and Redis)."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client

PATHS = ("/.well-known/openid-configuration", "/jwks.json")


def _flask_only(app: Any) -> Client:
    """A client of the Flask app itself, behind the metadata layer."""
    from idp.web.metadata_wsgi import MetadataDocuments

    assert isinstance(app.wsgi_app, MetadataDocuments)
    return Client(app.wsgi_app.wrapped)


@pytest.mark.parametrize("path", PATHS)
def test_the_layer_serves_what_flask_serves(app: Any, http: Any, path: str) -> None:
    fast = http.get(path)
    slow = _flask_only(app).get(path)
    assert fast.status_code == slow.status_code == 200
    assert fast.data == slow.data
    assert fast.get_json()  # a JSON document, not an empty body
    headers = dict(fast.headers)
    assert headers.pop("ETag").startswith('"')
    assert headers == dict(slow.headers)
    for name in ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options"):
        assert fast.headers[name]
    assert fast.headers["Content-Type"] == "application/json"
    assert fast.headers["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize("path", PATHS)
def test_a_conditional_get_with_the_etag_is_not_modified(http: Any, path: str) -> None:
    etag = http.get(path).headers["ETag"]
    again = http.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=300"
    weak = http.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    other = http.get(path, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.get_json()


@pytest.mark.parametrize("path", PATHS)
def test_head_has_the_headers_and_no_body(http: Any, path: str) -> None:
    full = http.get(path)
    head = http.head(path)
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == str(len(full.data))
    assert head.headers["ETag"] == full.headers["ETag"]


@pytest.mark.parametrize("path", PATHS)
def test_other_methods_and_paths_still_reach_flask(http: Any, path: str) -> None:
    refused = http.post(path)
    assert refused.status_code == 405
    assert http.get(path + "/").status_code == 404


def _kids(client: Any) -> set[str]:
    return {key["kid"] for key in client.get("/jwks.json").get_json()["keys"]}


def test_a_rotation_shows_at_once_in_a_warm_second_instance(
    app: Any, http: Any, other: Any
) -> None:
    from idp.oauth import keys

    second = other.test_client()
    before = _kids(http)
    assert _kids(second) == before  # both instances have the key list cached now
    etag = second.get("/jwks.json").headers["ETag"]

    created = keys.rotate(algs=("ES256",), propagation_delay=3600, retire_grace=86400)

    new = {key.kid for key in created}
    assert _kids(second) == before | new
    assert _kids(http) == before | new
    changed = second.get("/jwks.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_an_immediate_retirement_leaves_every_instance_at_once(
    app: Any, http: Any, other: Any
) -> None:
    from idp.oauth import keys

    second = other.test_client()
    old = keys.signing_key_info("ES256").kid
    keys.rotate(algs=("ES256",), propagation_delay=0, retire_grace=86400)
    assert old in _kids(second)

    keys.retire(old, retire_grace=0, immediate=True)

    assert old not in _kids(second)
    assert old not in _kids(http)
