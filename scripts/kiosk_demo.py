"""A kiosk for demos, against a running provider (``make run``): the kiosk simulator of
the tests (``tests/kiosk_simulator.py``) speaking HTTP.

    python scripts/kiosk_demo.py keygen                      # key pair + public JWKS file
    idp kiosks create --name "Kiosk 7" --place "Futian hall" --jwks instance/kiosk-demo.jwks.json
    python scripts/kiosk_demo.py device --client-id ID       # code + QR, then polls for tokens
    python scripts/kiosk_demo.py card --client-id ID --nonce NONCE --id-number 110101199003074530
    python scripts/kiosk_demo.py qr --client-id ID --nonce NONCE   # "sign in with the app"
    python scripts/kiosk_demo.py remove --client-id ID       # the card leaves the reader

Open ``/kiosk`` in the browser that plays the kiosk's screen and copy the server nonce
from the page (``data-nonce`` on ``#kiosk-screen``; real kiosk software reads it itself).
``card`` signs a card + face assertion with that nonce (valid for 60 s, single use) and
prints a line to paste into that browser's developer console: it fills the screen's
``#kiosk-card-form`` and submits it, from the kiosk page itself (the nonce is bound to
that browser, whose cookies a page elsewhere would not send). ``qr`` does the same with
a signed QR request and ``#kiosk-app-form`` (the screen then shows the app's QR code).
``device`` prints the QR code in the terminal when ``segno`` is installed, else the link
to open on the phone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from joserfc.jwk import ECKey  # noqa: E402
from kiosk_simulator import KioskSimulator  # noqa: E402

DEFAULT_KEY = ROOT / "instance" / "kiosk-demo.key.json"


class Reply:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.data = body

    def get_json(self) -> Any:
        return json.loads(self.data or b"null")


class Http:
    """The two calls the simulator makes, over urllib."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer.rstrip("/")

    def post(self, path: str, data: dict[str, str] | None = None, json: Any = None) -> Reply:
        if json is not None:
            body, kind = _json_bytes(json), "application/json"
        else:
            body = urllib.parse.urlencode(data or {}).encode()
            kind = "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            self.issuer + path, data=body, method="POST", headers={"Content-Type": kind}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read())


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def _kiosk(args: argparse.Namespace) -> KioskSimulator:
    key = ECKey.import_key(json.loads(Path(args.key).read_text(encoding="utf-8")))
    kiosk = KioskSimulator(Http(args.issuer), issuer=args.issuer, key=key)
    kiosk.client_id = args.client_id
    return kiosk


def keygen(args: argparse.Namespace) -> None:
    parameters = {"kid": "kiosk-demo", "alg": "ES256", "use": "sig"}
    key = ECKey.generate_key("P-256", parameters=parameters)
    path = Path(args.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key.as_dict(private=True)), encoding="utf-8")
    path.chmod(0o600)
    public = path.with_name("kiosk-demo.jwks.json")
    public.write_text(json.dumps({"keys": [key.as_dict(private=False)]}), encoding="utf-8")
    print(f"private key: {path}\npublic JWKS: {public}\nregister it with:")
    print(f'  idp kiosks create --name "Kiosk 7" --place "Futian service hall" --jwks {public}')


def device(args: argparse.Namespace) -> None:
    kiosk = _kiosk(args)
    started = kiosk.device_authorization()
    if started.status_code != 200:
        sys.exit(f"device authorization refused: {started.get_json()}")
    body = started.get_json()
    print(f"\nOn your phone, open {body['verification_uri']} and enter {body['user_code']}")
    try:
        import segno  # type: ignore[import-not-found]

        segno.make(body["verification_uri_complete"]).terminal(compact=True)
    except ImportError:
        print(f"(or open {body['verification_uri_complete']})")
    interval = int(body["interval"])
    deadline = time.time() + int(body["expires_in"])
    while time.time() < deadline:
        time.sleep(interval)
        reply = kiosk.poll(body["device_code"])
        answer = reply.get_json()
        if reply.status_code == 200:
            claims = answer["id_token"].split(".")[1]
            payload = json.loads(_b64(claims))
            print("signed in; ID token claims:", json.dumps(payload, indent=2))
            return
        error = answer.get("error")
        if error == "slow_down":  # RFC 8628 3.5
            interval += 5
        elif error != "authorization_pending":
            sys.exit(f"sign-in ended: {error}")
    sys.exit("the code expired")


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _console_line(form: str, assertion: str) -> None:
    script = (
        f"f=document.getElementById({json.dumps(form)});"
        f"f.assertion.value={json.dumps(assertion)};f.submit();"
    )
    print("paste into the kiosk browser's developer console within 60 s:\n")
    print(script)


def card(args: argparse.Namespace) -> None:
    assertion = _kiosk(args).card_assertion(args.id_number, lifetime=60, nonce=args.nonce)
    _console_line("kiosk-card-form", assertion)


def qr(args: argparse.Namespace) -> None:
    assertion = _kiosk(args).qr_request(nonce=args.nonce, lifetime=60)
    _console_line("kiosk-app-form", assertion)


def remove(args: argparse.Namespace) -> None:
    reply = _kiosk(args).remove_card()
    print(reply.status_code, reply.get_json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", default="http://localhost:5000")
    parser.add_argument("--key", default=str(DEFAULT_KEY))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("keygen").set_defaults(run=keygen)
    for name, run in (("device", device), ("card", card), ("qr", qr), ("remove", remove)):
        sub = commands.add_parser(name)
        sub.add_argument("--client-id", required=True)
        sub.set_defaults(run=run)
        if name in ("card", "qr"):
            sub.add_argument("--nonce", required=True, help="data-nonce of the kiosk page")
        if name == "card":
            sub.add_argument("--id-number", required=True)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
