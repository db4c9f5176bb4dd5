"""Errors never show a stack trace; API endpoints answer in JSON, pages in HTML."""

import pytest


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_wrong_method_on_api_endpoint_is_json(http, path):
    response = http.get(path)
    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["error"] == "invalid_request"


def test_unknown_page_is_a_page_without_internals(http):
    response = http.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"Traceback" not in response.data


def test_consent_logo_may_come_from_https(http):
    csp = http.get("/healthz").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https:" in csp
    assert "script-src 'self'" in csp
