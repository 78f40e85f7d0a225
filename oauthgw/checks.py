"""System checks: refuse to start on a configuration that cannot work, say how to fix it.

Most run wherever Django runs its checks (``runserver``, ``migrate``, most
commands). The ones tagged ``SERVING`` decide whether the gateway may answer
requests at all, so they are deployment checks: ``check --deploy`` reports them,
a server runs them before it serves (``gatewayproj.serving``), and an operator's
``migrate`` or ``createsuperuser`` in a shell without the server's whole
environment is not refused for them.
"""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from oauth2_provider.settings import oauth2_settings

from oauthgw import encryption, signing_keys, token_formats
from oauthgw.conf import DEFAULTS, gateway_settings
from oauthgw.models import ResourceOwner, reverify_after_setting

# The tag of the checks a server must pass before it serves (gatewayproj.serving).
SERVING = "oauthgw_serving"


@register()
def check_gateway_settings(app_configs, **kwargs):
    problems = []
    url = urlsplit(gateway_settings.UPSTREAM_TOKEN_URL)
    if url.scheme not in {"http", "https"} or not url.hostname:
        problems.append(
            Error(
                "OAUTHGW_UPSTREAM_TOKEN_URL is not an http(s) URL.",
                hint="Set it to the external authorization server's token endpoint.",
                id="oauthgw.E001",
            )
        )
    if gateway_settings.INVALID_GRANT_STATUS not in (400, 401):
        problems.append(
            Error("OAUTHGW_INVALID_GRANT_STATUS must be 400 or 401.", hint="401 (default) or 400.", id="oauthgw.E002")
        )
    if not gateway_settings.UPSTREAM_TIMEOUT > 0:
        problems.append(Error("OAUTHGW_UPSTREAM_TIMEOUT must be positive seconds.", id="oauthgw.E003"))
    subject_limit = ResourceOwner._meta.get_field("subject").max_length
    if gateway_settings.MAX_USERNAME_LENGTH > subject_limit:
        problems.append(Error(f"OAUTHGW_MAX_USERNAME_LENGTH may be at most {subject_limit}.", id="oauthgw.E004"))
    try:
        reverify_after_setting(gateway_settings.UPSTREAM_REVERIFY)
    except ValueError:
        problems.append(
            Error(
                "OAUTHGW_UPSTREAM_REVERIFY must be never, always or a positive number of seconds.",
                hint="never (the default): a refresh does not ask the upstream; always: every refresh does; "
                "N: when its last answer is older than N seconds.",
                id="oauthgw.E005",
            )
        )
    for name in ("UPSTREAM_REVERIFY_GRACE", "SESSION_MAX_AGE", "PURGE_INTERVAL", "THROTTLE_IP_CONCURRENCY"):
        if getattr(gateway_settings, name) < 0:
            problems.append(Error(f"OAUTHGW_{name} must be 0 or more.", id="oauthgw.E006"))
    for name in ("AUDIT_RETENTION_DAYS", "AUDIT_AGGREGATE_SECONDS", "UPSTREAM_BREAKER_WINDOW"):
        if getattr(gateway_settings, name) < 1:
            problems.append(Error(f"OAUTHGW_{name} must be at least 1.", id="oauthgw.E007"))
    return problems


@register()
def check_toolkit_settings(app_configs, **kwargs):
    problems = []
    if oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS:
        problems.append(
            Error(
                "REFRESH_TOKEN_GRACE_PERIOD_SECONDS must be 0.",
                hint="With hashed token storage the toolkit answers a retry inside the grace window with a 500.",
                id="oauthgw.E010",
            )
        )
    hasher = oauth2_settings.CLIENT_SECRET_HASHER
    hasher_paths = settings.PASSWORD_HASHERS
    if hasher != "default" and not any(path.endswith("ClientSecretHasher") for path in hasher_paths[1:]):
        problems.append(
            Error(
                "The client-secret hasher must be in PASSWORD_HASHERS, after the first entry.",
                hint="Append oauthgw.hashers.ClientSecretHasher; first place would hash staff passwords with it.",
                id="oauthgw.E011",
            )
        )
    return problems


@register(Tags.security, deploy=True)
def check_deploy_upstream(app_configs, **kwargs):
    problems = []
    if gateway_settings.UPSTREAM_TOKEN_URL == DEFAULTS["UPSTREAM_TOKEN_URL"]:
        problems.append(
            Warning(
                "The gateway forwards passwords to the development authorization server.",
                hint="Set OAUTHGW_UPSTREAM_TOKEN_URL, _CLIENT_ID and _CLIENT_SECRET.",
                id="oauthgw.W001",
            )
        )
    elif urlsplit(gateway_settings.UPSTREAM_TOKEN_URL).scheme != "https":
        problems.append(
            Warning(
                "Resource-owner passwords are forwarded over plain HTTP.",
                hint="Use an https:// OAUTHGW_UPSTREAM_TOKEN_URL outside a trusted network.",
                id="oauthgw.W002",
            )
        )
    return problems


@register()
def check_encryption_keys(app_configs, **kwargs):
    malformed = encryption.malformed_key_positions(encryption.configured_keys())
    if not malformed:
        return []
    return [
        Error(
            f"OAUTHGW_ENCRYPTION_KEYS: the entries at positions {malformed} are not Fernet keys "
            "(32 random bytes, URL-safe Base64).",
            hint=f"Generate one with: {encryption.GENERATE_KEY_COMMAND}",
            id="oauthgw.E020",
        )
    ]


@register(Tags.security, deploy=True)
def check_deploy_encryption_keys(app_configs, **kwargs):
    if encryption.configured_keys():
        return []
    return [
        Warning(
            "Secrets stored by the gateway are encrypted with a key derived from SECRET_KEY "
            "(OAUTHGW_ENCRYPTION_KEYS is not set).",
            hint=f"Set OAUTHGW_ENCRYPTION_KEYS to a key generated with: {encryption.GENERATE_KEY_COMMAND}; "
            "docs/operations.md says how to move the stored secrets over.",
            id="oauthgw.W005",
        )
    ]


@register()
def check_jwt_settings(app_configs, **kwargs):
    problems = []
    if gateway_settings.JWT_SIGNING_ALGORITHM not in signing_keys.ALGORITHMS:
        problems.append(
            Error(
                f"OAUTHGW_JWT_SIGNING_ALGORITHM must be one of {', '.join(signing_keys.ALGORITHMS)}.",
                hint="ES256 unless a verifier accepts nothing but RSA.",
                id="oauthgw.E030",
            )
        )
    if not 0 <= gateway_settings.JWKS_MAX_AGE < gateway_settings.SIGNING_KEY_PUBLISH_SECONDS:
        problems.append(
            Error(
                "OAUTHGW_JWKS_MAX_AGE must be less than OAUTHGW_SIGNING_KEY_PUBLISH_SECONDS.",
                hint="A new key is published that long before it signs, so that APIs holding a cached JWKS "
                "fetch it before they meet a token it signed.",
                id="oauthgw.E031",
            )
        )
    if not gateway_settings.JWT_ACCESS_TOKEN_SECONDS > 0:
        problems.append(Error("OAUTHGW_JWT_ACCESS_TOKEN_SECONDS must be positive seconds.", id="oauthgw.E032"))
    issuer = urlsplit(gateway_settings.ISSUER)
    if gateway_settings.ISSUER and (
        issuer.scheme not in {"http", "https"} or not issuer.hostname or issuer.query or issuer.fragment
    ):
        problems.append(
            Error(
                "OAUTHGW_ISSUER must be an http(s) URL without a query or fragment (RFC 8414 section 2).",
                hint="The gateway's public base URL, e.g. https://auth.example.com",
                id="oauthgw.E033",
            )
        )
    if not all(
        token_formats.is_string_or_uri(value) for value in token_formats.audience_values(gateway_settings.JWT_AUDIENCE)
    ):
        problems.append(
            Error(
                "OAUTHGW_JWT_AUDIENCE must be names without ':' or absolute URIs, separated by spaces or commas.",
                id="oauthgw.E034",
            )
        )
    return problems


@register(Tags.security, SERVING, deploy=True)
def check_issuer_configured(app_configs, **kwargs):
    """Outside debug mode the issuer is configured: it must not follow the Host header a client sends."""
    if settings.DEBUG or gateway_settings.ISSUER:
        return []
    return [
        Error(
            "OAUTHGW_ISSUER is not set: the metadata's issuer and the iss of JWT access tokens would follow "
            "the Host header of each request, which the client chooses.",
            hint="Set OAUTHGW_ISSUER to the gateway's public base URL, e.g. OAUTHGW_ISSUER=https://auth.example.com "
            "(what APIs check iss against), or DJANGO_DEBUG=1 on a developer's machine.",
            id="oauthgw.E035",
        )
    ]


# What a URI may hold unescaped (RFC 3986): anything else would break the Link header or the error_description.
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


@register()
def check_password_grant_guide(app_configs, **kwargs):
    url = gateway_settings.PASSWORD_GRANT_GUIDE_URL
    if not url:
        return []
    parts = urlsplit(url)
    if parts.scheme in {"http", "https"} and parts.hostname and _URI_CHARACTERS.fullmatch(url):
        return []
    return [
        Error(
            "OAUTHGW_PASSWORD_GRANT_GUIDE_URL must be an absolute http(s) URL, its special characters percent-encoded.",
            hint="Where clients read how to move off the password grant; leave it empty for the copy the gateway "
            "serves at <issuer>/docs/migrating-off-password-grant.md.",
            id="oauthgw.E060",
        )
    ]
