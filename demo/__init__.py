"""A tiny relying-party portal that signs in through the provider with Authlib's
OpenID Connect client: what a portal developer writes, and what ``idp serve --demo`` runs
beside the provider so a newcomer can click through the whole flow."""
