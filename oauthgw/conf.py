"""The gateway's own settings: one object over the ``OAUTHGW`` dict.

Precedence, lowest first: the defaults below, then ``OAUTHGW_<KEY>`` environment
variables (12-factor deployment), then an ``OAUTHGW`` dict in Django settings
(what tests override). Unknown keys raise so that a typo never silently falls back
to a default. django-oauth-toolkit's own keys stay in ``OAUTH2_PROVIDER``.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # The external authorization server that vouches for resource owners. The
    # default is the development server the project ships (scripts/).
    "UPSTREAM_TOKEN_URL": "http://127.0.0.1:9011/token",
    "UPSTREAM_CLIENT_ID": "oauthgw",
    "UPSTREAM_CLIENT_SECRET": "oauthgw-dev-secret",
    "UPSTREAM_SCOPE": "",
    "UPSTREAM_TIMEOUT": 5.0,
    # An upstream answer larger than this is treated as a fault, not parsed.
    "UPSTREAM_MAX_RESPONSE_BYTES": 65536,
    # Worker threads per process that may wait on the upstream at once.
    "UPSTREAM_MAX_CONCURRENCY": 32,
    # What a client is told to wait after a 503 temporarily_unavailable.
    "UPSTREAM_RETRY_AFTER": 5,
    # 401 follows the source document; 400 is strict RFC 6749 section 5.2.
    "INVALID_GRANT_STATUS": 401,
    "REALM": "oauthgw",
    # How many reverse proxies in front of the gateway append to X-Forwarded-For.
    # 0 trusts no header: the client IP is the socket's peer.
    "TRUSTED_PROXY_COUNT": 0,
    # Token-endpoint request limits (hostile input is refused before any work).
    "MAX_TOKEN_REQUEST_BYTES": 8192,
    "MAX_USERNAME_LENGTH": 256,
    "MAX_PASSWORD_LENGTH": 1024,
    # Days an audit event of the token endpoint is kept; older ones are purged
    # automatically (oauthgw.issuing.retention), or by `manage.py purge_expired`.
    "AUDIT_RETENTION_DAYS": 90,
    # Failures of requests whose client did not authenticate are counted in one
    # audit row per source, outcome and interval of this many seconds.
    "AUDIT_AGGREGATE_SECONDS": 60,
    # Seconds between automatic purges of expired tokens, ended sessions and
    # audit events past their retention, run by one process of one instance at a
    # time (oauthgw.issuing.retention). 0: never automatically.
    "PURGE_INTERVAL": 3600,
    # Circuit breaker per authorization server, its state shared by every process:
    # when calls for THRESHOLD distinct sources (a username from an address) have
    # faulted within WINDOW seconds, the breaker probes the upstream, and only if
    # the probe fails too it answers 503 at once for COOLDOWN seconds, then lets
    # one trial request through. 0 disables it. oauthgw/upstream/breaker.py has the rules.
    "UPSTREAM_BREAKER_THRESHOLD": 5,
    "UPSTREAM_BREAKER_WINDOW": 60,
    "UPSTREAM_BREAKER_COOLDOWN": 30,
    # Password-guessing limits (RFC 6749 section 4.3.2, RFC 6819 section 4.4.3.6):
    # failed logins counted in a sliding window of THROTTLE_WINDOW seconds made of
    # THROTTLE_BUCKET-second buckets, per username from one address, per username
    # from everywhere (the ceiling), per client address and per client. Over a
    # limit the gateway answers 429 without calling the upstream; the ceiling,
    # address and client limits do not apply at an address where the username
    # logged in within THROTTLE_KNOWN_ADDRESS_DAYS. 0 disables a counter.
    # oauthgw/issuing/throttling.py says why these numbers.
    "THROTTLE_WINDOW": 900,
    "THROTTLE_BUCKET": 60,
    "THROTTLE_USERNAME_FAILURES": 10,
    "THROTTLE_USERNAME_CEILING": 100,
    "THROTTLE_IP_FAILURES": 30,
    "THROTTLE_CLIENT_FAILURES": 1000,
    "THROTTLE_KNOWN_ADDRESS_DAYS": 30,
    # Upstream calls (logins, re-verifications) an address may have waiting at once in
    # one worker process once one of its calls took half UPSTREAM_TIMEOUT or more
    # (within THROTTLE_WINDOW); more get 429 at once. Each waits in a server thread for
    # up to UPSTREAM_TIMEOUT, so this keeps one source that the upstream answers
    # slowly from holding every thread; keep it below the threads per process
    # (GATEWAY_THREADS). 0: no cap.
    "THROTTLE_IP_CONCURRENCY": 2,
    # Whether a refresh first asks the default authorization server, with the
    # refresh token it issued at login, whether it still vouches for the resource
    # owner: "never", "always", or a number N (when its last answer is older than
    # N seconds). Servers configured in the admin have their own setting.
    # oauthgw/issuing/sessions.py has the rules.
    "UPSTREAM_REVERIFY": "never",
    # Seconds since a session's last successful re-verification during which an
    # upstream outage does not stop its refresh (0: 503 at once).
    "UPSTREAM_REVERIFY_GRACE": 0,
    # Seconds a session (a password login and all its refreshes) may last, however
    # often it is refreshed; clients may set their own. 0: no maximum.
    "SESSION_MAX_AGE": 30 * 24 * 3600,
    # The password grant's sunset, per client (oauthgw/issuing/password_sunset.py).
    # The migration guide its headers and its refusal point to; empty: the copy the
    # gateway serves itself, <issuer>/docs/migrating-off-password-grant.md.
    "PASSWORD_GRANT_GUIDE_URL": "",
    # Whether sessions that password logins started end at their client's sunset
    # (their refreshes refused from then on); false: they live on until their
    # maximum age (SESSION_MAX_AGE, or the client's own).
    "PASSWORD_GRANT_SUNSET_ENDS_SESSIONS": False,
    # Seconds a resource owner stays signed in at the gateway's login page (its
    # cookie and the LoginSession row): a second application in the same browser
    # does not ask again meanwhile. 0: every authorization request shows the form.
    "LOGIN_SESSION_SECONDS": 8 * 3600,
    # Seconds a person has to sign in (and allow a client) once the login page is shown.
    "AUTHORIZATION_REQUEST_SECONDS": 900,
    # Seconds after a rotation during which the rotated refresh token, presented
    # again by its client, is taken for a concurrent duplicate (invalid_grant, the
    # family kept) rather than a replay (the family revoked). 0: every late
    # presentation is a replay.
    "REFRESH_REUSE_INTERVAL": 10,
    # With Redis: seconds a validated access token stays in it (0: no cache).
    # Revocation and disabling a client take effect at once regardless; this
    # bounds how long a cache that missed an invalidation (an outage) is wrong.
    "BEARER_CACHE_SECONDS": 60,
    # With Redis: validated tokens each process keeps in memory on top of it
    # (0: none; about 8 KB per token); Redis tells every process at once when one
    # changes (oauthgw.caching.near_cache).
    "NEAR_CACHE_ENTRIES": 2000,
    # Who may read GET /metrics: comma-separated IPs or networks, and/or a bearer
    # token (empty: none).
    "METRICS_ALLOWED_IPS": "127.0.0.1,::1",
    "METRICS_TOKEN": "",
    # Seconds GET /readyz waits for the upstream's TCP port.
    "READINESS_TIMEOUT": 1.0,
    # Comma-separated Fernet keys, newest first, for secrets stored encrypted
    # (oauthgw.encryption): the newest encrypts, any decrypts. Empty: a key derived
    # from SECRET_KEY, for development only (check --deploy warns).
    "ENCRYPTION_KEYS": "",
    # The issuer identifier: RFC 8414's ``issuer`` and the ``iss`` of JWT access
    # tokens. Empty: derived from the request (scheme, host and mount point), as
    # the metadata document always did; set it when the gateway has one public URL.
    "ISSUER": "",
    # The ``aud`` of JWT access tokens for clients that name no audience of their
    # own. Empty: the issuer. The project (gatewayproj/settings.py) makes it the
    # identifier of the API it serves, which that API checks (RFC 9068 section 4).
    "JWT_AUDIENCE": "",
    # Seconds a JWT access token lives unless its client sets its own lifetime.
    # Short on purpose: an API that verifies JWTs alone does not see a revocation
    # or a disabled client until the token expires.
    "JWT_ACCESS_TOKEN_SECONDS": 300,
    # The JWS algorithm of newly generated signing keys: ES256 or RS256
    # (oauthgw/signing_keys.py says why ES256).
    "JWT_SIGNING_ALGORITHM": "ES256",
    # Seconds a rotated-in key is published in the JWKS before it signs anything.
    # Must exceed JWKS_MAX_AGE, so every verifier has the key before it sees a token.
    "SIGNING_KEY_PUBLISH_SECONDS": 3600,
    # Cache-Control max-age of GET /.well-known/jwks.json.
    "JWKS_MAX_AGE": 600,
    # DPoP (RFC 9449): the JWS algorithms a proof may be signed with, comma-separated
    # (the metadata's dpop_signing_alg_values_supported). Asymmetric only: ``none``
    # and HS* are never accepted (oauthgw/dpop/keys.py lists what is supported).
    "DPOP_SIGNING_ALGORITHMS": "ES256,ES384,ES512,PS256,PS384,PS512,RS256,EdDSA",
    # Seconds a proof is accepted after its ``iat``, and how far ahead of the
    # gateway's clock its ``iat`` may be (a client's clock running fast). Each
    # proof's ``jti`` is remembered for as long as the proof could be accepted.
    # oauthgw/dpop/proofs.py says why these numbers.
    "DPOP_PROOF_MAX_AGE": 300,
    "DPOP_CLOCK_SKEW": 30,
    # Seconds a server nonce (DPoP-Nonce) stays valid, in every process.
    "DPOP_NONCE_LIFETIME": 300,
    # When the store of seen proofs (Redis) cannot answer: True refuses DPoP proofs
    # (503) for that time; False accepts them without the replay check.
    "DPOP_REPLAY_CHECK_REQUIRED": True,
    # Whether every public client must send a DPoP proof with each token request,
    # whatever its own DPoP setting (oauthgw/issuing/dpop.py). Their refresh tokens
    # are rotated either way (RFC 9700 section 2.2.2 asks for one of the two).
    "DPOP_REQUIRED_FOR_PUBLIC_CLIENTS": False,
    # Whether DPoP proofs must carry a server nonce (DPoP-Nonce) at the token
    # endpoint (RFC 9449 section 8), and at the gateway's APIs (section 9).
    "DPOP_NONCE_REQUIRED": False,
    "DPOP_API_NONCE_REQUIRED": False,
}

ENV_PREFIX = "OAUTHGW_"


def _coerce(key: str, raw: str) -> Any:
    default = DEFAULTS[key]
    try:
        if isinstance(default, bool):
            return raw.strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{ENV_PREFIX}{key}={raw!r} is not a valid {type(default).__name__}") from exc
    return raw


class GatewaySettings:
    """Attribute access to the gateway settings, computed once and reset on change."""

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        values = dict(DEFAULTS)
        environment = getattr(settings, "OAUTHGW_ENVIRONMENT", {}) or {}
        for key in DEFAULTS:
            raw = environment.get(key)
            if raw is not None and raw != "":
                values[key] = _coerce(key, raw)
        overrides = getattr(settings, "OAUTHGW", {}) or {}
        unknown = sorted(set(overrides) - set(DEFAULTS))
        if unknown:
            raise ImproperlyConfigured(f"Unknown OAUTHGW setting(s): {', '.join(unknown)}")
        values.update(overrides)
        return values

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        if self._values is None:
            self._values = self._load()
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"Unknown OAUTHGW setting: {key}") from None

    def reload(self) -> None:
        self._values = None


gateway_settings = GatewaySettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("OAUTHGW", "OAUTHGW_ENVIRONMENT"):
        gateway_settings.reload()


setting_changed.connect(_reload_on_change)
