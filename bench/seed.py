"""Seed the provider's database for the benchmark; print what the load generator needs.

    DATABASE_URL=... IDP_MASTER_KEY=... python bench/seed.py --citizens 16 --redirect-uri URI

Run by ``bench/run.py`` after ``idp db upgrade``, in the same environment as the server.
Creates, through the provider's own services (``create_citizen``, ``register_client``):

- ``--citizens`` citizens (one per load-generator connection, so per-number brute-force
  limits never see parallel attempts on one number), with a password credential. They
  share one argon2id hash, computed once with the provider's own profile, and the peer
  is given the same PHC string, so both servers verify the same work factor.
- two first-party confidential clients (``client_secret_basic``; no consent page): one
  signing ID tokens with ES256, one with RS256.
- two service clients allowed only the ``client_credentials`` grant (RFC 6749 4.4) with
  the service scope ``SERVICE_SCOPE``: one gets opaque access tokens, one RFC 9068 JWTs.

Prints one JSON object: ``citizens`` (ID number, password, name, ...), ``password_hash``,
``clients`` (client_id, client_secret, alg) and ``service_clients`` (client_id,
client_secret, format, scope).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "bench-citizen-password-1"
SCOPE = "openid profile phone"
SERVICE_SCOPE = "licences:load"


def bench_citizen(i: int) -> dict[str, str]:
    """The i-th benchmark citizen: Beijing Dongcheng, born January 1985, sequences 001-099."""
    from idp.ids.resident_id import mod11_2

    if not 0 <= i < 99 * 28:
        raise ValueError("at most 2,772 benchmark citizens")
    day, seq = divmod(i, 99)
    body = f"110101198501{day + 1:02d}{seq + 1:03d}"
    number = body + mod11_2(body=body)
    return {
        "id_number": number,
        "password": PASSWORD,
        "name": f"测试{i:03d}",
        "phone": f"+8613900{i:06d}",
        "birthdate": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
        "gender": "male" if int(number[16]) % 2 else "female",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--citizens", type=int, default=16)
    parser.add_argument("--redirect-uri", required=True)
    args = parser.parse_args()

    from idp import create_app
    from idp.authn.citizens import create_citizen
    from idp.authn.methods.password import hash_password
    from idp.extensions import db
    from idp.models import PasswordCredential
    from idp.oauth.clients import register_client

    app = create_app()
    pw_hash = hash_password(password=PASSWORD)
    citizens = []
    with app.app_context():
        for i in range(args.citizens):
            person = bench_citizen(i)
            citizen = create_citizen(
                id_number=person["id_number"],
                name=person["name"],
                phone=person["phone"],
                commit=False,
            )
            db.session.add(PasswordCredential(citizen_id=citizen.id, hash=pw_hash))
            citizens.append({**person, "id": citizen.id})
        clients = []
        for alg in ("ES256", "RS256"):
            client, secret = register_client(
                name=f"Benchmark portal {alg}",
                redirect_uris=[args.redirect_uri],
                auth_method="client_secret_basic",
                scope=SCOPE,
                first_party=True,
                id_token_alg=alg,
            )
            clients.append({"client_id": client.client_id, "client_secret": secret, "alg": alg})
        service_clients = []
        for token_format in ("opaque", "jwt"):
            client, secret = register_client(
                name=f"Benchmark service {token_format}",
                redirect_uris=[],
                auth_method="client_secret_basic",
                scope=SERVICE_SCOPE,
                grant_types=("client_credentials",),
            )
            client.access_token_format = token_format
            service_clients.append(
                {
                    "client_id": client.client_id,
                    "client_secret": secret,
                    "format": token_format,
                    "scope": SERVICE_SCOPE,
                }
            )
        db.session.commit()
    json.dump(
        {
            "citizens": citizens,
            "password_hash": pw_hash,
            "clients": clients,
            "service_clients": service_clients,
            "scope": SCOPE,
        },
        sys.stdout,
        ensure_ascii=False,
    )


if __name__ == "__main__":
    main()
