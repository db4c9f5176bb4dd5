"""/healthz reports the database and the ephemeral store."""


def test_healthz_ok_on_both_backends(http):
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "ephemeral_store": "ok"},
    }


def test_security_headers_on_every_response(http):
    response = http.get("/healthz")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz_reports_unreachable_store(app, http, monkeypatch):
    store = app.extensions["idp.store"]

    def down():
        raise ConnectionError("store down")

    monkeypatch.setattr(store, "ping", down)
    response = http.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["ephemeral_store"] == "unavailable"
