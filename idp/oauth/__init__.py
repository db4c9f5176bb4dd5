"""The OpenID Connect provider: Authlib grants and endpoints with our hooks.

OpenID Connect Core 1.0 (https://openid.net/specs/openid-connect-core-1_0.html) over
OAuth 2.0 (RFC 6749) with PKCE (RFC 7636), revocation (RFC 7009), introspection
(RFC 7662), private_key_jwt (RFC 7523), the ``iss`` authorization response parameter
(RFC 9207), discovery and RP-initiated logout. ``server.build_server`` wires it up.

Nothing in this package reads ``flask.request``, ``flask.session`` or ``flask.g``:
``idp.web`` turns HTTP requests into ``requests.ProtocolRequest`` values and protocol
responses back into Flask responses.
"""
