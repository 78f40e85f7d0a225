"""Django settings for the oauthgw project.

Everything an operator changes comes from the environment (see README,
"Configuration"); the defaults run the gateway on SQLite, a local-memory cache and
the development authorization server. The gateway's own keys live in
``oauthgw.conf`` (``OAUTHGW_*`` variables), the toolkit's in ``OAUTH2_PROVIDER``.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from gatewayproj.env import env_bool, env_list, env_prefixed, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DJANGO_DEBUG", False)
# The fallback key is for local development only; `check --deploy` flags it.
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or "django-insecure-oauthgw-development-key-change-me"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "oauthgw",
    "helloworld",
    "axes",
]

MIDDLEWARE = [
    "oauthgw.observability.request_id.RequestIdMiddleware",
    "oauthgw.middleware.DatabaseUnavailableMiddleware",
    "oauthgw.middleware.UnreadableBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "oauthgw.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout into the 429 response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gatewayproj.urls"
WSGI_APPLICATION = "gatewayproj.wsgi.application"
ASGI_APPLICATION = "gatewayproj.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite as a server database for several worker processes and threads:
    # WAL lets readers run while one writer commits; a busy writer waits up to
    # DJANGO_SQLITE_TIMEOUT seconds for the lock instead of failing at once; and
    # IMMEDIATE transactions take the write lock at BEGIN, because a DEFERRED
    # transaction that read first cannot wait for it later (SQLITE_BUSY at once).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": float(env_str("DJANGO_SQLITE_TIMEOUT", "10")),
        **DATABASES["default"].get("OPTIONS", {}),
    }
    # Tests use a file too: an in-memory database locks whole tables and ignores
    # the busy timeout, so it cannot show how several connections behave.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_REDIS_URL = env_str("REDIS_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "oauthgw.caching.redis.GatewayRedisCache",
            "LOCATION": _REDIS_URL,
            # redis-py waits for ever by default: a Redis that hangs would hang every
            # request. Its answers take well under a millisecond.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if _REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "oauthgw"}
    )
}

# Staff passwords keep Django's slow default; the fast hasher is appended (never
# first) and used only for machine-generated client secrets (see oauthgw.hashers).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "oauthgw.hashers.ClientSecretHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The zone the admin shows times in (stored and exchanged in UTC regardless).
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# "2026-12-01 13:29 UTC" everywhere in the admin (gatewayproj/formats/).
FORMAT_MODULE_PATH = ["gatewayproj.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders until collectstatic has run.
WHITENOISE_USE_FINDERS = True
# Files browsers ask for at the site's root, whatever page they show (/favicon.ico).
WHITENOISE_ROOT = BASE_DIR / "webroot"

# --- Production: HTTPS only, behind the operator's TLS terminator ------------------
# DJANGO_SECURE=1 redirects HTTP to HTTPS, marks cookies Secure and sends HSTS
# (docs/operations.md). Load-balancer probes and scrapes may stay on plain HTTP.
_SECURE = env_bool("DJANGO_SECURE", False)
SECURE_SSL_REDIRECT = _SECURE
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = _SECURE
CSRF_COOKIE_SECURE = _SECURE
SECURE_HSTS_SECONDS = int(env_str("DJANGO_HSTS_SECONDS", "31536000")) if _SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE and env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = _SECURE and env_bool("DJANGO_HSTS_PRELOAD", True)
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips the client's).
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- The APIs behind the gateway ---------------------------------------------------
# Each API has an identifier that a JWT access token's aud must name to open it
# (RFC 9068 section 4): its views' token_audience, which the bearer check reads
# (oauthgw.resource_server.authentication). An identifier, not an address; an
# absolute URI (https://api.example.com/helloworld/) also lets a client ask for it
# with an RFC 8707 resource parameter.
HELLOWORLD_AUDIENCE = env_str("HELLOWORLD_AUDIENCE") or "helloworld"
# Other identifiers HelloWorld also accepts, e.g. while JWTs an earlier release issued for
# the issuer are still alive after an upgrade (docs/operations.md, "Upgrading").
HELLOWORLD_MORE_AUDIENCES = env_list("HELLOWORLD_MORE_AUDIENCES", [])

# --- OAuth 2.0 -------------------------------------------------------------------
# The gateway's own keys from OAUTHGW_* variables (oauthgw.conf gives them their types;
# an OAUTHGW dict here would override them).
OAUTHGW_ENVIRONMENT = env_prefixed("OAUTHGW_")
# JWT access tokens of clients that name no audience are for the APIs this project
# serves, unless OAUTHGW_JWT_AUDIENCE says otherwise.
OAUTHGW_ENVIRONMENT.setdefault("JWT_AUDIENCE", HELLOWORLD_AUDIENCE)
# Where gunicorn's workers write their Prometheus samples (set by gunicorn.conf.py).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauthgw.Application"
# Authorization codes stored by checksum, used once, and tied to what they issued.
OAUTH2_PROVIDER_GRANT_MODEL = "oauthgw.AuthorizationCode"
# The toolkit's own, named so a model of the gateway can refer to it.
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"

OAUTH2_PROVIDER = {
    "OAUTH2_SERVER_CLASS": "oauthgw.toolkit.server.GatewayServer",
    "OAUTH2_BACKEND_CLASS": "oauthgw.toolkit.oauth2_backends.GatewayOAuthLibCore",
    "OAUTH2_VALIDATOR_CLASS": "oauthgw.toolkit.oauth2_validators.GatewayOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "oauthgw.toolkit.scopes.ApplicationScopes",
    "SCOPES": {"hello": "Call the HelloWorld API"},
    "CLIENT_SECRET_HASHER": "oauthgw_hmac_sha256",
    "ACCESS_TOKEN_GENERATOR": "oauthgw.toolkit.generators.access_token_generate",
    "REFRESH_TOKEN_GENERATOR": "oauthgw.toolkit.generators.token_value_generate",
    "APPLICATION_ADMIN_CLASS": "oauthgw.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "oauthgw.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "oauthgw.admin.RefreshTokenAdmin",
    # Defaults for clients that do not set their own lifetimes.
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 14 * 24 * 3600,
    # Rotate on every use; replaying a used refresh token revokes its family.
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Must stay 0: with hashed storage a retry inside a grace window fails with a 500.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    # RFC 9700: store only token checksums; no tokens in URLs.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    # The password grant is the product; it is off per client unless granted.
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False,
    # The authorization code flow (RFC 9700 section 2.1): PKCE for every client,
    # S256 only (plain is also refused before the login page, oauthgw.toolkit.server),
    # the RFC 9207 iss in every authorization response, codes that live a minute.
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    # Configuration gates of `check --deploy`: no wildcard redirect URIs, no plain
    # http beyond a client's own loopback URIs (oauthgw.redirect_uris has the rules).
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    # Only the schemes of a client's own registered redirect URIs are ever used
    # (Application.get_allowed_schemes); this is the toolkit's fallback.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # RFC 8414 metadata: exactly what is served.
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "password", "refresh_token", "client_credentials"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    # "none": public clients (native and browser apps) send only their client_id.
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
}

# oauth2_provider.W002 says the password grant is enabled: it is the product, an
# explicit opt-in per client (GatewayOAuth2Validator.validate_grant_type).
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W002"]

REST_FRAMEWORK = {
    # The toolkit's OAuth2Authentication with a short path for valid tokens.
    "DEFAULT_AUTHENTICATION_CLASSES": ["oauthgw.resource_server.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["oauth2_provider.contrib.rest_framework.TokenHasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "oauthgw.resource_server.exception_handler.bearer_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# --- OpenAPI 3 (GET /api/schema/, docs page at /api/docs/, assets served locally) ---
SPECTACULAR_SETTINGS = {
    "TITLE": "oauthgw",
    "DESCRIPTION": "OAuth 2.0 authorization gateway: token, revocation and introspection endpoints, "
    "and the HelloWorld API they protect.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The description is public, like the endpoints it describes.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The token, revocation and introspection endpoints are plain Django views:
    # described by hand (oauthgw/views/openapi.py) and added by this hook.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "oauthgw.views.openapi.add_authorization_server",
    ],
    "OAUTH2_FLOWS": ["password", "clientCredentials"],
    "OAUTH2_TOKEN_URL": "/oauth2/token",
    "OAUTH2_REFRESH_URL": "/oauth2/token",
}

# --- The admin: staff only, password guessing throttled --------------------------
# django-axes counts failed logins per username and client address (the gateway's
# TRUSTED_PROXY_COUNT rule) and answers 429 for a cool-off period after too many.
# Secure cookies in production come with DJANGO_SECURE (above).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "oauthgw.admin.site.login_client_ip"
# Only failures are recorded; a row per successful login is noise here.
AXES_DISABLE_ACCESS_LOG = True
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_HTTPONLY = True
# Nothing in the admin reads the CSRF cookie from JavaScript.
CSRF_COOKIE_HTTPONLY = True

# --- Logging: no token, secret or password ever reaches a log line ------------------
# One JSON object per line with the request id (X-Request-ID) by default;
# DJANGO_LOG_FORMAT=plain for a terminal.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "oauthgw.observability.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "oauthgw.observability.json_logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("DJANGO_LOG_FORMAT", "json"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # oauthlib logs refresh tokens and request bodies at DEBUG.
        "oauthlib": {"level": "WARNING"},
        "requests_oauthlib": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # The toolkit's DEBUG lines are noise; its INFO and above are kept.
        "oauth2_provider": {"level": "INFO"},
    },
}
