"""Administration services (issue 6): what the console and the JSON admin API do.

Every operation takes the acting staff member (``Actor``) first, checks the role
(``authz.require``: refusals are audited), does the work through the owning service
(``idp.oauth.clients``, ``idp.oauth.keys``, ``idp.consent.service``,
``idp.authn.sessions`` ...) and records one admin event with what changed. The console
pages and the API call the same functions, so the role matrix holds for both. No request
is read here: the web layer builds the ``Actor``.
"""
