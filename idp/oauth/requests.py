"""The protocol layer's own HTTP request and response values.

Authlib's core works on ``OAuth2Request`` objects and returns ``(status, body,
headers)``. ``idp.web`` builds a ``ProtocolRequest`` from the Flask request (only the
parameters the endpoint may read: the query for GET, the form body for POST), and
turns a ``ProtocolResponse`` back into a Flask response. An authorization request
parked in an interaction is replayed by building a ``ProtocolRequest`` from its stored
parameters, so the same Authlib validation runs again when the user comes back.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, params: Mapping[str, list[str]]) -> None:
        self._datalist = {k: list(v) for k, v in params.items() if v}
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist

    def has_duplicates(self) -> bool:
        return any(len(values) > 1 for values in self._datalist.values())


class ProtocolRequest(OAuth2Request):  # type: ignore[misc]
    """An HTTP request as the protocol layer sees it.

    ``uri`` is the endpoint's public URL (issuer + path), not the URL the proxy handed
    to the process: transport security is the deployment's job (production refuses a
    non-https issuer), and Authlib's transport check then never turns into a 500.
    """

    def __init__(
        self,
        *,
        method: str,
        uri: str,
        params: Mapping[str, list[str]],
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(method, uri, headers=dict(headers or {}))
        self.payload = _Payload(params)
        self.cookies = dict(cookies or {})

    @classmethod
    def from_params(cls, *, uri: str, params: Mapping[str, str]) -> ProtocolRequest:
        """Rebuild a stored authorization request (single-valued parameters)."""
        return cls(method="GET", uri=uri, params={k: [v] for k, v in params.items()})

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    def single_params(self) -> dict[str, str]:
        return dict(self.payload.data)


@dataclass
class ProtocolResponse:
    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def location(self) -> str | None:
        for name, value in self.headers:
            if name.lower() == "location":
                return value
        return None

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(n, v) for n, v in self.headers if n.lower() != "location"]
        self.headers.append(("Location", value))


def multi_params(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params
