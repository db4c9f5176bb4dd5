"""IDP_TRUSTED_PROXIES: the client address behind a load balancer."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask


def _echo_ip(app: Flask) -> Any:
    from idp.web.browser import client_ip

    app.add_url_rule("/_ip", "echo_ip", lambda: client_ip())
    return app.test_client()


class TestBehindOneProxy:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"IDP_TRUSTED_PROXIES": 1}

    def test_client_address_comes_from_the_proxy_header(self, app: Flask) -> None:
        http = _echo_ip(app)
        response = http.get(
            "/_ip",
            headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
        assert response.get_data(as_text=True) == "203.0.113.7"

    def test_only_the_hop_the_proxy_appended_is_trusted(self, app: Flask) -> None:
        http = _echo_ip(app)
        response = http.get(
            "/_ip",
            headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},
        )
        assert response.get_data(as_text=True) == "203.0.113.7"


def test_forwarding_headers_are_ignored_by_default(app: Flask) -> None:
    http = _echo_ip(app)
    response = http.get(
        "/_ip", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert response.get_data(as_text=True) == "10.0.0.2"
