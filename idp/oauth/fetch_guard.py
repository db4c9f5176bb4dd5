"""Outbound URLs an operator typed: never into private address ranges (SSRF).

OWASP Server-Side Request Forgery Prevention Cheat Sheet: a URL taken from input must
not reach internal services. A registered URL (a back-channel logout endpoint, a logo
every citizen's browser loads, a JWKS) is checked at registration, and a fetch made by
the provider checks again at fetch time with the addresses it will connect to (DNS
answers change). Refused: loopback, private (RFC 1918, RFC 4193), link-local (cloud
metadata at 169.254.169.254), carrier-grade NAT (RFC 6598), multicast, reserved and
unspecified addresses, and IPv4-mapped forms of them. ``IDP_ALLOW_PRIVATE_FETCH``
lifts this for tests and local development only (refused in production).

URLs the provider posts to (back-channel logout, CIBA ping) are checked at registration
by ``refuse_private_literal`` (literal hosts only, no DNS; exempt where
``IDP_BACKCHANNEL_ALLOW_LOCAL`` allows local delivery) and at send time by
``backchannel_delivery.resolve``, with ``is_public_address`` as the one rule.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidInput

Resolver = Callable[[str, int], Iterable[str]]
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# What the C resolver reads as an IPv4 address without asking DNS: "127.1",
# "2130706433", "0x7f.0.0.1" (inet_aton's legacy forms).
_LEGACY_IPV4 = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}$")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (A and AAAA)."""
    infos: list[Any] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return bool(ip.is_global) and not ip.is_multicast


def check_url(
    url: str,
    *,
    field: str,
    allow_private: bool,
    strict: bool = False,
    resolver: Resolver = system_resolver,
) -> list[str]:
    """Refuse ``url`` if its host is, or resolves to, a non-public address; returns the
    addresses checked (the ones a fetch should connect to).

    A host name that does not resolve is accepted at registration (DNS may not be
    reachable from where operators work); a fetch passes ``strict=True``, which
    refuses it.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidInput(f"{url} has no host.", field=field)
    if allow_private:
        return []
    if host == "localhost" or host.endswith(".localhost"):
        raise InvalidInput(f"{url} points at this machine.", field=field)
    try:
        literal = [str(ipaddress.ip_address(host))]
    except ValueError:
        literal = []
    if literal:
        addresses = literal
    else:
        try:
            addresses = list(resolver(host, parts.port or 443))
        except (OSError, UnicodeError):
            if strict:
                raise InvalidInput(f"{url} does not resolve.", field=field) from None
            return []
    for address in addresses:
        try:
            public = is_public_address(address)
        except ValueError:
            public = False
        if not public:
            raise InvalidInput(
                f"{url} resolves to a private, loopback or link-local address.", field=field
            )
    return addresses


def literal_address(host: str) -> str | None:
    """The address ``host`` names without a DNS query (an IP literal, or a legacy IPv4
    form the resolver parses itself), else None."""
    host = host.split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def refuse_private_literal(url: str, *, field: str, what: str) -> None:
    """Registration-time check of a URL the provider will post to (a back-channel
    logout URI, a CIBA ping notification endpoint): refuse a host that is, as typed,
    ``localhost`` (RFC 6761 6.3) or a literal address that is not public.

    Host names are deliberately not resolved here: a DNS answer can change between
    registration and delivery (and the operator's network may not see the portal's),
    so it would prove nothing. The send-time guard (``backchannel_delivery.resolve``)
    stays: it resolves, refuses any non-public answer and connects to the address it
    checked. This only gives the administrator a clear error for the obvious case.
    Callers skip it where local delivery is allowed (``backchannel.allow_local``), the
    same exemption the send-time guard honours."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return  # malformed: the caller's own validation says why
    address = literal_address(host) if host else None
    if host == "localhost" or host.endswith(".localhost"):
        public = False
    elif address is None:
        return
    else:
        public = is_public_address(address)
    if not public:
        raise InvalidInput(
            f"The {what} points at a private, loopback or link-local address; the"
            " provider sends only to public hosts.",
            field=field,
        )
