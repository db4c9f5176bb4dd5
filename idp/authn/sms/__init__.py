"""SMS one-time codes: the gateway interface (``gateway``), the codes (``codes``) and
sign-in with a code (``signin``)."""
