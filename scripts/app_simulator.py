#!/usr/bin/env python
"""A command-line stand-in for the government app (issue 5), for demonstrations.

It plays the app's part over the real HTTP API with its own ES256 device key
(tests/app_simulator.py does the work; README "Mobile app"):

    python scripts/app_simulator.py sign-in            # browser sign-in, then binds the key
    python scripts/app_simulator.py scan URL --approve --uvm fpt
    python scripts/app_simulator.py pending
    python scripts/app_simulator.py decide ID approve|deny|not_me [--uvm fpt|face|pin|none]
    python scripts/app_simulator.py devices
    python scripts/app_simulator.py remove DEVICE_ID

``sign-in`` follows RFC 8252 7.3: it listens on a loopback port, prints the
authorization URL to open in a browser, takes the code at the loopback redirect,
exchanges it with PKCE (public client ``mobile-app``, seeded by ``idp demo``) and binds
its key. The key and device id are kept in ``--state`` (default
``instance/app-simulator.json``, mode 0600): a demo key, never a real one.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler
from http.server import HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from app_simulator import AppSimulator  # noqa: E402
from app_simulator import HttpTransport  # noqa: E402
from app_simulator import _b64_sha256  # noqa: E402
from joserfc.jwk import ECKey  # noqa: E402


def _load(args: argparse.Namespace) -> AppSimulator:
    state = Path(args.state)
    key, device_id = None, None
    if state.exists():
        data = json.loads(state.read_text())
        key, device_id = ECKey.import_key(data["key"]), data.get("device_id")
    sim = AppSimulator(HttpTransport(args.issuer), issuer=args.issuer, name=args.name, key=key)
    sim.device_id = device_id
    return sim


def _save(args: argparse.Namespace, sim: AppSimulator) -> None:
    state = Path(args.state)
    state.parent.mkdir(parents=True, exist_ok=True)
    data = {"key": sim.key.as_dict(private=True), "device_id": sim.device_id}
    fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)


def _loopback_code(authorize_url: str, port_holder: dict[str, Any]) -> str:
    """Wait for the browser to come back to the loopback redirect with the code."""
    received: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            query = parse_qs(urlsplit(self.path).query)
            received.update({k: v[0] for k, v in query.items()})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Signed in. You can close this tab and go back to the app.")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", port_holder["port"]), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    print("Open this URL in a browser and sign in:\n\n  " + authorize_url + "\n")
    thread.join()
    server.server_close()
    if received.get("state") != port_holder["state"] or "code" not in received:
        raise SystemExit(f"sign-in failed: {received.get('error', 'no code')}")
    return received["code"]


def sign_in(args: argparse.Namespace) -> None:
    sim = _load(args)
    probe = HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_port
    probe.server_close()
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(8)
    query = {
        "response_type": "code",
        "client_id": args.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": state,
        "code_challenge": _b64_sha256(verifier.encode()),
        "code_challenge_method": "S256",
    }
    if args.acr:
        query["acr_values"] = args.acr
    url = args.issuer.rstrip("/") + "/authorize?" + urlencode(query)
    code = _loopback_code(url, {"port": port, "state": state})
    form = urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": args.client_id,
            "code_verifier": verifier,
        }
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    token = sim.transport("POST", "/token", headers=headers, body=form)
    if token.status != 200:
        raise SystemExit(f"token request failed: {token.body}")
    reply = sim.bind(str(token.body["access_token"]))
    if reply.status != 201:
        raise SystemExit(f"binding refused: {reply.body}")
    _save(args, sim)
    print(json.dumps(reply.body, indent=2, ensure_ascii=False))


def _show(reply: Any) -> None:
    print(reply.status, json.dumps(reply.body, indent=2, ensure_ascii=False))
    if reply.status >= 400:
        raise SystemExit(1)


def _uv(args: argparse.Namespace) -> dict[str, Any]:
    return {"uv": args.uvm != "none", "uvm": args.uvm if args.uvm != "none" else "fpt"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", default=os.environ.get("IDP_ISSUER", "http://localhost:5000"))
    parser.add_argument("--state", default=str(ROOT / "instance" / "app-simulator.json"))
    parser.add_argument("--name", default="Simulated phone")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("sign-in", help="sign in in a browser and bind the device key")
    one.add_argument("--client-id", default="mobile-app")
    one.add_argument("--acr", help="acr_values for the sign-in (the device's highest level)")
    scan = commands.add_parser("scan", help="scan a QR code (its URL)")
    scan.add_argument("qr")
    scan.add_argument("--approve", action="store_true", help="approve at once")
    scan.add_argument("--uvm", default="fpt", choices=["fpt", "face", "pin", "none"])
    commands.add_parser("pending", help="pending requests")
    decide = commands.add_parser("decide", help="answer a request")
    decide.add_argument("request_id")
    decide.add_argument("decision", choices=["approve", "deny", "not_me"])
    decide.add_argument("--uvm", default="fpt", choices=["fpt", "face", "pin", "none"])
    commands.add_parser("devices", help="the account's bound devices")
    remove = commands.add_parser("remove", help="unbind a device")
    remove.add_argument("device_id")
    args = parser.parse_args()

    if args.command == "sign-in":
        sign_in(args)
        return
    sim = _load(args)
    if not sim.device_id:
        raise SystemExit("no device bound yet: run `sign-in` first")
    if args.command == "scan":
        reply = sim.scan(args.qr)
        _show(reply)
        if args.approve:
            _show(sim.decide(str(reply.body["id"]), "approve", **_uv(args)))
    elif args.command == "pending":
        _show(sim.pending())
    elif args.command == "decide":
        _show(sim.decide(args.request_id, args.decision, **_uv(args)))
    elif args.command == "devices":
        _show(sim.devices())
    elif args.command == "remove":
        _show(sim.remove(args.device_id))


if __name__ == "__main__":
    main()
