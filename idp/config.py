"""Configuration defaults: every key the provider reads, with why it exists.

Three layers, later ones winning: these defaults, then a deployment file named by
``IDP_CONFIG_FILE`` (Python syntax, like Flask's ``from_pyfile``), then environment
variables. Every ``IDP_*`` environment variable overrides the key of the same name;
``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY`` are read without the prefix because
that is how platforms hand them out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any


class DefaultConfig:
    # "development" allows the embedded defaults (generated keys, http cookies);
    # "production" refuses to start on any of them.
    IDP_ENV = "development"

    # Public base URL of the provider; the `iss` of every token and the discovery document.
    IDP_ISSUER = "http://localhost:5000"

    # Durable store. The embedded default is a SQLite file under instance/.
    SQLALCHEMY_DATABASE_URI: str | None = None
    # No ping before each use (one round trip per request, measured in issue 7): a
    # connection found dead is answered 503 + Retry-After and the pool recycled.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": False, "pool_recycle": 1800}

    # Ephemeral store (SSO sessions, codes, rate limits, replay caches). None = in-process
    # memory, which is only valid for a single process; REDIS_URL switches to Redis.
    IDP_REDIS_URL: str | None = None
    # The in-process store takes an instance lock so a second serving process is refused.
    # Operator commands (which serve no sessions) turn it off to run beside `idp serve`.
    IDP_EMBEDDED_STORE_LOCK = True
    # Prefix of every Redis key, so several deployments (or test runs) can share a server.
    IDP_REDIS_PREFIX = "idp:"

    # Root secret from which the data-encryption, blind-index, pairwise-subject and
    # key-wrapping keys are derived (HKDF, one label per purpose). 32+ random bytes,
    # base64. Unset in development = generated and kept in instance/master.key.
    IDP_MASTER_KEY: str | None = None

    # Flask's cookie-signing key (CSRF tokens, the small UI cookie). Unset in development
    # = derived from IDP_MASTER_KEY.
    SECRET_KEY: str | None = None

    # Number of reverse proxies (load balancers) in front of the provider that append to
    # X-Forwarded-For / X-Forwarded-Proto. 0 = trust no forwarding header. Per-IP rate
    # limits see the client's address only when this matches the deployment.
    IDP_TRUSTED_PROXIES = 0

    # Cookie flags. Secure can be turned off only for local http development.
    IDP_COOKIE_SECURE = True
    IDP_SESSION_COOKIE = "idp_sid"
    SESSION_COOKIE_NAME = "idp_ui"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Lifetimes in seconds.
    IDP_TTL_AUTHORIZATION_CODE = 60  # OAuth 2.0 Security BCP: short-lived, single use
    IDP_TTL_ACCESS_TOKEN = 600
    IDP_TTL_ID_TOKEN = 600
    IDP_TTL_REFRESH_TOKEN = 30 * 24 * 3600
    IDP_TTL_SSO_SESSION = 12 * 3600  # absolute lifetime of a sign-in
    IDP_TTL_SSO_IDLE = 2 * 3600  # idle lifetime, renewed on every use
    IDP_TTL_INTERACTION = 15 * 60  # a login or consent page left open
    # How long a consent lasts before the citizen is asked again (issue 4: 180 days);
    # a portal's scope_policy "ttl_days" may shorten or lengthen it.
    IDP_CONSENT_TTL_DAYS = 180
    IDP_TTL_CLIENT_ASSERTION_JTI = 600  # private_key_jwt replay cache
    IDP_TTL_SMS_CODE = 300  # an SMS one-time code (NIST SP 800-63B 5.1.3.2: short-lived)

    # Assurance levels: how long each level lasts once reached (idp.authn.assurance).
    # A level lapses MAX_AGE seconds after it was reached, or IDLE seconds after a portal
    # last relied on it; the session then stands at the highest level left (low lasts as
    # long as the SSO session). High follows NIST SP 800-63B AAL3 (12 h / 15 min).
    IDP_ACR_HIGH_MAX_AGE = 12 * 3600
    IDP_ACR_HIGH_IDLE = 15 * 60
    IDP_ACR_SUBSTANTIAL_MAX_AGE = 24 * 3600
    IDP_ACR_SUBSTANTIAL_IDLE = 3600

    # Signing keys: algorithm used for clients that do not ask for one.
    IDP_DEFAULT_ID_TOKEN_ALG = "ES256"
    # Seconds between publishing a new key (`idp keys rotate`) and signing with it: longer
    # than portals cache the JWKS (served with max-age 300), so none meets an unknown kid.
    IDP_KEY_PROPAGATION_DELAY = 3600
    # How long a rotated-out key stays in the JWKS after it stopped signing:
    # longer than any token it signed can live.
    IDP_KEY_RETIRE_GRACE = 31 * 24 * 3600
    # JWT access tokens (RFC 9068, for clients registered with access_token_format
    # "jwt"): RFC 9068 2.1 makes RS256 the algorithm every resource server supports.
    IDP_ACCESS_TOKEN_ALG = "RS256"

    # OIDC Core 3.1.2.1: nonce is OPTIONAL in the code flow; a deployment may demand it.
    IDP_REQUIRE_NONCE = False

    # Brute-force defence (per ID number and per client IP, held in the ephemeral store).
    IDP_LOGIN_FREE_ATTEMPTS = 3  # failures before delays start
    IDP_LOGIN_LOCK_AFTER = 10  # failures before a temporary lock
    IDP_LOGIN_LOCK_SECONDS = 15 * 60
    IDP_LOGIN_IP_LOCK_AFTER = 50  # failures from one IP across all ID numbers

    # Per-authenticator limits (idp.authn.authenticator_limits), on top of the above:
    # consecutive failures of one password, TOTP, SMS or passkey, across addresses and
    # days, until a success. NIST SP 800-63B 5.2.2: "no more than 100" before it is
    # disabled (durably, until re-enabled at a service hall).
    IDP_AUTHENTICATOR_MAX_FAILURES = 100
    IDP_AUTHENTICATOR_FREE_FAILURES = 5  # failures before growing delays start
    IDP_AUTHENTICATOR_MAX_DELAY = 3600  # seconds; delays double up to this
    # Failures count within this window from the first one (the store needs a TTL).
    IDP_AUTHENTICATOR_FAILURE_WINDOW = 30 * 24 * 3600

    # SMS one-time codes (idp.authn.sms). "outbox" keeps messages in the ephemeral store
    # for tests and the demo (refused in production); "http" POSTs JSON to a gateway;
    # "none" sends nothing (production without SMS: turn IDP_FEATURE_SMS_LOGIN off).
    IDP_SMS_GATEWAY = "outbox"
    IDP_SMS_GATEWAY_URL: str | None = None  # https endpoint of the SMS gateway
    IDP_SMS_GATEWAY_TOKEN: str | None = None  # sent as "Authorization: Bearer ..."
    IDP_SMS_GATEWAY_TIMEOUT = 5  # seconds, connect and read
    IDP_SMS_CODE_ATTEMPTS = 5  # wrong entries before a code is void
    IDP_SMS_RESEND_SECONDS = 60  # between two codes to one phone or one sign-in
    # Codes sent per hour (each a cost and a text a citizen did not ask for, if abused).
    IDP_SMS_SENDS_PER_PHONE = 5
    IDP_SMS_SENDS_PER_CITIZEN = 5
    IDP_SMS_SENDS_PER_IP = 30

    # WebAuthn (passkeys and security keys), idp.authn.passkeys. The RP ID and origin
    # must match what the browser sees exactly (WebAuthn 3 sections 7.1 and 7.2 steps
    # 9 and 15), so both default to the issuer's: its host and its scheme://host[:port].
    IDP_WEBAUTHN_RP_ID: str | None = None
    IDP_WEBAUTHN_ORIGIN: str | None = None
    # Shown by the authenticator when a passkey is created ("Save a passkey for ...").
    IDP_WEBAUTHN_RP_NAME = "Government identity"
    # "none": we ask for no attestation, so the authenticator model (AAGUID) is as the
    # authenticator reports it. "direct" asks for a signed attestation statement, which
    # py_webauthn verifies; keep "none" unless the allow-list below must be proven.
    IDP_WEBAUTHN_ATTESTATION = "none"
    # Authenticator models (AAGUIDs, "xxxxxxxx-xxxx-...") whose sign-ins with user
    # verification reach the high level, besides those operators list in the console
    # (/admin/authenticators, `idp aaguids`; idp.authn.passkeys.allowlist): the policy
    # uses the union, for bootstrapping and deployments managed as code. Both empty =
    # any model. A model not listed still signs in, at substantial at most.
    IDP_WEBAUTHN_HIGH_AAGUIDS: list[str] = []
    # Synced passkeys (backup eligible: the private key is copied to the platform's
    # cloud) reach substantial, not high: NIST SP 800-63B Supplement 1 (syncable
    # authenticators) admits them at AAL2 only, as AAL3 needs a non-exportable key.
    # True admits them to high as well.
    IDP_WEBAUTHN_HIGH_ALLOW_SYNCED = False
    # Seconds a registration or sign-in ceremony (its single-use challenge) stays valid.
    # WebAuthn 3 section 15.1 recommends 300 s to 600 s when user verification is needed.
    IDP_TTL_WEBAUTHN_CHALLENGE = 300
    # Adding or removing a passkey needs a sign-in at most this many seconds old.
    IDP_WEBAUTHN_FRESH_SIGN_IN = 300
    # Credentials one citizen may register (bounds rows and the allowCredentials list).
    IDP_WEBAUTHN_MAX_CREDENTIALS = 10

    # Languages offered on pages; the first is the default (Simplified Chinese).
    IDP_LOCALES = ["zh_Hans_CN", "en"]
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    # Times on pages are shown in the region's time zone; everything stored is UTC.
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"

    # Feature toggles: a disabled feature registers no route and is absent from discovery.
    IDP_FEATURE_SELF_REGISTRATION = True
    IDP_FEATURE_DEMO_PORTAL = False
    # Sign in with a one-time code sent by SMS to the registered phone (low assurance).
    IDP_FEATURE_SMS_LOGIN = True

    # OpenID Connect Back-Channel Logout 1.0 (idp.oauth.backchannel): portals registered
    # with a backchannel_logout_uri are told when a session they used ends or when the
    # citizen's consent is withdrawn. Off = nothing sent, absent from discovery.
    IDP_FEATURE_BACKCHANNEL_LOGOUT = True
    # OpenID Connect Front-Channel Logout 1.0 (idp.oauth.frontchannel): the signed-out
    # page frames the frontchannel_logout_uri of each portal the ending session signed
    # in to. Off = no frames, absent from discovery.
    IDP_FEATURE_FRONTCHANNEL_LOGOUT = True
    # http on loopback and delivery to private addresses. None = allowed unless
    # IDP_ENV is production (where true is refused); tests and development set it.
    IDP_BACKCHANNEL_ALLOW_LOCAL: bool | None = None
    IDP_BACKCHANNEL_TIMEOUT = 5  # seconds, connect and read, per attempt
    IDP_BACKCHANNEL_TOKEN_TTL = 120  # a logout token's exp - iat (short: it is replayable)
    IDP_BACKCHANNEL_MAX_ATTEMPTS = 8  # then the notice is abandoned (kept, with its error)
    IDP_BACKCHANNEL_RETRY_BASE = 30  # seconds before the 2nd attempt, doubling after
    IDP_BACKCHANNEL_RETRY_MAX = 3600  # longest wait between two attempts
    IDP_BACKCHANNEL_BATCH = 50  # notices claimed per database round trip
    # The delivery thread in each serving process. None = on, except under TESTING;
    # `idp backchannel deliver` (cron) delivers as well, beside it or instead of it.
    IDP_BACKCHANNEL_WORKER: bool | None = None
    IDP_BACKCHANNEL_POLL = 30  # seconds between the worker's looks at the outbox
    # Days a delivered or abandoned notice stays in the outbox before
    # `idp backchannel purge` (cron) deletes it; pending notices are never purged.
    IDP_BACKCHANNEL_RETENTION_DAYS = 30

    # The resource-server helper (idp.resource.require_token). Unset introspection URL =
    # in-process: tokens are checked against this provider's own database and keys. A
    # separate resource server sets the URL and the credentials of the client whose
    # tokens it accepts (RFC 7662: a client may introspect only its own tokens).
    IDP_RESOURCE_INTROSPECTION_URL: str | None = None
    IDP_RESOURCE_JWKS_URL: str | None = None  # default: <issuer>/jwks.json
    IDP_RESOURCE_ISSUER: str | None = None  # default: IDP_ISSUER
    IDP_RESOURCE_CLIENT_ID: str | None = None
    IDP_RESOURCE_CLIENT_SECRET: str | None = None
    # The "aud" a JWT access token must carry (RFC 9068 4); default: the client id above.
    # In-process with none set, any audience is accepted (the database binds the token).
    IDP_RESOURCE_AUDIENCE: str | None = None
    IDP_RESOURCE_TIMEOUT = 5  # seconds per introspection or JWKS request
    IDP_RESOURCE_JWKS_MAX_AGE = 300  # seconds a fetched JWKS is used before re-fetching

    # Electronic licences (idp.licences, GET /api/licences, POST /admin/api/licences).
    # How long a signed licence (licence+jwt) may be relied on after it was issued.
    IDP_TTL_LICENCE_JWS = 24 * 3600
    # Most licences one POST /admin/api/licences may carry (all or nothing per call).
    IDP_LICENCES_MAX_BATCH = 1000
    # Rows per page of the citizen's data-release history (/account/releases).
    IDP_RELEASES_PER_PAGE = 20

    # Cryptographic suite for new data (idp.cryptosuite): "international" = SHA-256 and
    # AES-256-GCM; "national" = SM3 (audit chain, blind index) and SM4-GCM (data and
    # signing keys at rest), for a commercial-cryptography assessment. Chosen at install
    # time: sealed values and audit records name their algorithm and stay readable after
    # a switch, but blind indexes (ID-number look-ups) do not carry over.
    IDP_CRYPTO_SUITE = "international"

    # Audit trail (idp.audit): sign a checkpoint of the chain head after this many
    # records, or when the last one is older than this many seconds (checked when
    # records are sealed; the very first comes from the count or the command);
    # `idp audit checkpoint` signs one on demand. 0 turns a trigger off.
    IDP_AUDIT_CHECKPOINT_EVERY = 1000
    IDP_AUDIT_CHECKPOINT_SECONDS = 3600
    # The sealer (idp.audit.sealer) links records into the chain off the request path:
    # a thread in each serving process (None = on, except under TESTING) every
    # IDP_AUDIT_SEAL_INTERVAL seconds; processes without one seal right after each
    # commit that wrote records (IDP_AUDIT_SEAL_ON_COMMIT). `idp audit verify` reports
    # records still pending after IDP_AUDIT_SEAL_MAX_AGE seconds.
    IDP_AUDIT_SEALER: bool | None = None
    IDP_AUDIT_SEAL_INTERVAL = 0.2
    IDP_AUDIT_SEAL_ON_COMMIT = True
    IDP_AUDIT_SEAL_MAX_AGE = 60

    # Kiosks (adapters/kiosk, issue 5). Sign-in with the chip ID card and a face match
    # done on the kiosk, sent as an assertion the kiosk signs (idp.authn.methods.terminal).
    IDP_FEATURE_KIOSK = True
    # A kiosk session ends this many seconds after the card sign-in, whatever happens,
    # or after IDLE seconds without a page view; the cookie is a browser-session cookie.
    IDP_KIOSK_SESSION_SECONDS = 300
    IDP_KIOSK_IDLE_SECONDS = 120
    # Longest lifetime (exp - iat) and greatest age of a kiosk's signed assertion.
    IDP_KIOSK_ASSERTION_MAX_AGE = 60
    # The server nonce every kiosk page carries (idp.authn.kiosk_nonces) is good for this
    # long; the kiosk screen reloads itself sooner.
    IDP_KIOSK_NONCE_TTL = 300
    # Refused assertions (idp.authn.kiosk_throttle): this many per kiosk (or, for ones
    # anybody could send, per client IP) within WINDOW seconds of the first, then 429
    # until the window ends. A success does not reset the count.
    IDP_KIOSK_REFUSAL_LIMIT = 10
    IDP_KIOSK_REFUSAL_WINDOW = 600
    # OAuth 2.0 Device Authorization Grant (RFC 8628, idp.oauth.device) for kiosks.
    IDP_FEATURE_DEVICE_FLOW = True
    IDP_TTL_DEVICE_CODE = 600  # RFC 8628 3.2 expires_in of device_code and user_code
    IDP_DEVICE_POLL_INTERVAL = 5  # RFC 8628 3.2 interval; slow_down adds 5 s (3.5)
    # User-code guessing (RFC 8628 5.1): wrong codes from one client IP before waits
    # start and before it is locked out of /device, and wrong codes per minute from
    # everyone together before /device refuses codes for the rest of the minute.
    IDP_DEVICE_CODE_FREE_ATTEMPTS = 5
    IDP_DEVICE_CODE_LOCK_AFTER = 20
    IDP_DEVICE_CODE_GLOBAL_PER_MINUTE = 300

    # The mobile app (issue 5, adapters/mobile; README "Mobile app"). Off = no app API,
    # no "sign in with the app" page.
    IDP_FEATURE_MOBILE_APP = True
    # QR sign-in and push requests expire after this many seconds (at most 120).
    IDP_APP_QR_TTL = 120
    IDP_APP_PUSH_TTL = 120
    # Push requests per citizen: pending at once, and made per hour.
    IDP_APP_PUSH_MAX_PENDING = 3
    IDP_APP_PUSH_PER_HOUR = 10
    # After a request is refused as "not me", new push requests wait this long.
    IDP_APP_NOT_ME_LOCK = 3600
    # Signed app requests: iat within this many seconds of the server clock.
    IDP_APP_SIGNATURE_LEEWAY = 60
    # Binding a device needs an app sign-in at most this many seconds old.
    IDP_APP_BIND_MAX_AGE = 600
    # Devices one citizen may bind.
    IDP_APP_MAX_DEVICES = 5
    # Removing a device from the account page needs a sign-in at most this old.
    IDP_APP_FRESH_SIGN_IN = 300

    # Administration (issue 6): staff sign in to /admin with WebAuthn (user verification
    # required) in a session of their own: its own cookie, limited to the /admin path.
    IDP_ADMIN_COOKIE = "idp_admin"
    IDP_ADMIN_SESSION_IDLE = 15 * 60  # idle timeout of a console session (seconds)
    IDP_ADMIN_SESSION_MAX = 8 * 3600  # absolute lifetime of a console session
    # Dangerous actions (disable a client, retire a key, change roles, disable staff)
    # need a WebAuthn assertion at most this many seconds old (OWASP reauthentication).
    IDP_ADMIN_FRESH_VERIFICATION = 5 * 60
    IDP_ADMIN_ENROLMENT_TTL = 24 * 3600  # one-time enrolment code of a new staff member
    IDP_ADMIN_API_TOKEN_DAYS = 30  # default lifetime of a personal admin-API token
    IDP_ADMIN_API_TOKEN_MAX_DAYS = 90  # the longest one may be asked for
    # A client's logo URI, which every citizen's browser loads from the consent page,
    # may name a private, loopback or link-local host (idp.oauth.fetch_guard). True only
    # for tests and local development; refused in production. URLs the provider itself
    # posts to have their own exemption, IDP_BACKCHANNEL_ALLOW_LOCAL.
    IDP_ALLOW_PRIVATE_FETCH = False

    # Performance (issue 7). Seconds a process keeps its copy of a client registration;
    # any change is seen at once anyway (idp.oauth.client_cache). 0 turns the cache off.
    IDP_CLIENT_CACHE_SECONDS = 30
    # argon2id verifications (64 MiB, 4 lanes each) running at once per process; more
    # wait their turn, so a flood of sign-ins cannot starve the token endpoint of CPU.
    IDP_PASSWORD_HASH_CONCURRENCY = 1
    # Seconds a sign-in waits for a hashing slot before it is answered "busy" (503).
    IDP_PASSWORD_HASH_WAIT = 10
    # Added to the hashing threads' nice value (lower CPU priority than requests); 0 = none.
    # 0 by measurement (bench/RESULTS.md section 3b): +10 starved sign-ins on a busy host.
    IDP_PASSWORD_HASH_NICENESS = 0
    # Sign-ins per process hashing or waiting for a slot at once; more are answered "busy"
    # (503) at once. 0 = no such bound. Keep it below the threads per worker (IDP_THREADS,
    # 4): a waiting sign-in holds a request thread that token requests need. 2 by
    # measurement (bench/RESULTS.md section 5): in a sign-in flood it took the token
    # endpoint's p99 from 1.6 s (no bound) to 0.25-0.35 s.
    IDP_PASSWORD_HASH_QUEUE = 2

    # The hotline (issue 5, adapters/hotline; README "Hotline (CIBA)"): OpenID Connect
    # CIBA (idp.oauth.ciba). Off = no /bc-authorize, no CIBA grant.
    IDP_FEATURE_CIBA = True
    IDP_CIBA_TTL = 120  # expires_in of an auth_req_id (requested_expiry may shorten it)
    IDP_CIBA_POLL_INTERVAL = 5  # CIBA 7.3 interval; slow_down adds 5 s
    # Sign-in requests per hour: per agent, per hotline client, per citizen (ID number).
    IDP_HOTLINE_PER_AGENT_HOUR = 120
    IDP_HOTLINE_PER_CLIENT_HOUR = 5000
    IDP_HOTLINE_PER_CITIZEN_HOUR = 5
    # A citizen without a bound app gets an SMS code to read back to the agent (low).
    IDP_HOTLINE_SMS_FALLBACK = True

    # Service-hall counter (adapters/hall, issue 5): counter staff sign in at a registered
    # counter terminal with WebAuthn into a counter session of their own (cookie on /hall).
    IDP_FEATURE_HALL = True
    IDP_HALL_COOKIE = "idp_hall"
    IDP_HALL_STAFF_IDLE = 15 * 60  # idle timeout of a counter staff session (seconds)
    IDP_HALL_STAFF_MAX = 10 * 3600  # absolute lifetime: one working day at the counter
    # A case (one citizen's card read at the counter) lasts this long without an action.
    IDP_HALL_CASE_SECONDS = 15 * 60
    # An assisted session: absolute and idle lifetime (short, like a kiosk session).
    IDP_HALL_SESSION_SECONDS = 600
    IDP_HALL_IDLE_SECONDS = 300
    # Longest lifetime (exp - iat) and greatest age of a counter terminal's card reading.
    IDP_HALL_ASSERTION_MAX_AGE = 60
    # The server nonce the counter page carries (idp.authn.kiosk_nonces) is good for this
    # long: as long as the staff session's idle timeout, because the page does not reload
    # itself (a reload is a page view, and the idle timeout must still bite).
    IDP_HALL_NONCE_TTL = 15 * 60
    # Refused card readings (idp.authn.kiosk_throttle, channel hall): this many per
    # counter and per staff member (or, for ones anybody could send, per client IP) within
    # WINDOW seconds of the first, then 429 until the window ends. A success does not
    # reset the count. Apart from the kiosks' pair: a counter's budget is its own.
    IDP_HALL_REFUSAL_LIMIT = 10
    IDP_HALL_REFUSAL_WINDOW = 600
    # A passkey enrolment code from the counter (idp.authn.hall_passkeys): its lifetime,
    # and wrong codes from one client IP within that time before it is locked out.
    IDP_HALL_PASSKEY_CODE_SECONDS = 15 * 60
    IDP_HALL_PASSKEY_CODE_ATTEMPTS = 10

    WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the UI cookie
    SQLALCHEMY_TRACK_MODIFICATIONS = False


# Names read from the environment without the IDP_ prefix, mapped to config keys.
_UNPREFIXED = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "REDIS_URL": "IDP_REDIS_URL",
    "SECRET_KEY": "SECRET_KEY",
}


def _parse(raw: str) -> Any:
    """Environment values are JSON when they parse as JSON (numbers, booleans, lists)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, key in _UNPREFIXED.items():
        if environ.get(name):
            values[key] = environ[name]
    for name, raw in environ.items():
        if name.startswith("IDP_") and name != "IDP_CONFIG_FILE" and hasattr(DefaultConfig, name):
            # An empty variable (``IDP_X=`` in a shell or a compose file) leaves a
            # setting that is not text at its default: it would otherwise reach the
            # code as "" where a number, a flag or a list is read.
            if not raw.strip() and not isinstance(getattr(DefaultConfig, name), str):
                continue
            values[name] = _parse(raw)
    return values
