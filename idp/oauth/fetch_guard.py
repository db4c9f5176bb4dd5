"""Outbound URLs an operator typed: never into private address ranges (SSRF).

OWASP Server-Side Request Forgery Prevention Cheat Sheet: a URL taken from input must
not reach internal services. Refused: loopback, private (RFC 1918, RFC 4193), link-local
(cloud metadata at 169.254.169.254), carrier-grade NAT (RFC 6598), multicast, reserved
and unspecified addresses, and IPv4-mapped forms of them (``is_public_address``, the one
rule).

Every registered URL is checked the same way at registration, by
``refuse_private_literal``: a host that is, as typed, ``localhost`` or a literal
non-public address is refused; names are not resolved (a DNS answer can change before
the URL is used). Where a URL is used decides what comes after:

- URLs the provider posts to (a back-channel logout URI, a CIBA ping endpoint) are
  checked again at send time by ``backchannel_delivery.resolve``, which resolves the
  name and connects only to an address it checked. Both checks are lifted where local
  delivery is allowed (``backchannel.allow_local``: ``IDP_BACKCHANNEL_ALLOW_LOCAL``, on
  by default outside production so a portal on the developer's machine is told).
- The logo is never fetched by the provider: citizens' browsers load it from the
  consent page, so there is no fetch-time check, and registration is the only one. Its
  exemption is ``IDP_ALLOW_PRIVATE_FETCH`` (off by default everywhere, refused in
  production): a separate setting because it does not govern what the provider
  connects to, but what every citizen's browser is told to load.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from ..errors import InvalidInput

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# What the C resolver reads as an IPv4 address without asking DNS: "127.1",
# "2130706433", "0x7f.0.0.1" (inet_aton's legacy forms).
_LEGACY_IPV4 = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}$")


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return bool(ip.is_global) and not ip.is_multicast


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


def refuse_private_literal(
    url: str, *, field: str, what: str, why: str = "the provider sends only to public hosts"
) -> None:
    """Registration-time check of a URL the provider will post to (a back-channel
    logout URI, a CIBA ping notification endpoint) or that citizens' browsers load (the
    logo; ``why`` says so): refuse a host that is, as typed, ``localhost`` (RFC 6761
    6.3) or a literal address that is not public.

    Host names are deliberately not resolved here: a DNS answer can change between
    registration and delivery (and the operator's network may not see the portal's),
    so it would prove nothing. The send-time guard (``backchannel_delivery.resolve``)
    stays: it resolves, refuses any non-public answer and connects to the address it
    checked. This only gives the administrator a clear error for the obvious case.
    Callers skip it where their exemption allows private hosts (module docstring)."""
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
            f"The {what} points at a private, loopback or link-local address; {why}.",
            field=field,
        )
