"""Every exception of the gateway's own, in one place.

Two kinds. Domain exceptions say what went wrong where it happened (an upstream
that gave no clear answer, a login over its limit, a secret no key opens) and
carry nothing secret in their messages. OAuth errors are oauthlib's error
classes with the gateway's status codes: what a client is told (RFC 6749
section 5.2); ``oauthgw.toolkit.responses`` turns them into responses.
"""

from django.core.exceptions import ImproperlyConfigured
from oauthlib.oauth2.rfc6749 import errors

# --- The external authorization server -----------------------------------------------

# Faults the request's own content can cause (a username the server chokes on, a
# password it answers slowly): they count against that request's limits. The
# others (connection refused, the gateway's registration refused) cannot.
INPUT_DEPENDENT_FAULTS = frozenset({"timeout", "status", "malformed", "too_large"})


class UpstreamUnavailable(Exception):
    """The authorization server gave no clear answer (503 for the client, never 401). ``kind`` names the fault."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail

    @property
    def input_dependent(self) -> bool:
        return self.kind in INPUT_DEPENDENT_FAULTS


class CircuitOpen(UpstreamUnavailable):
    """The breaker refused the call: the upstream was not contacted."""

    def __init__(self, server_name: str, *, retry_after: int):
        super().__init__("circuit_open", f"circuit for authorization server {server_name} is open")
        self.retry_after = retry_after


class AuthorizationServerDisabled(UpstreamUnavailable):
    """An operator switched the server off: its clients' password logins get 503, not 401."""

    def __init__(self, name: str):
        super().__init__("disabled", f"authorization server {name} is disabled")


class AuthorizationServerSecretUnreadable(UpstreamUnavailable):
    """The server's stored client secret cannot be decrypted (a key was lost): 503 for its logins, not 401."""

    def __init__(self, name: str):
        super().__init__("secret_unreadable", f"the client secret of authorization server {name} cannot be decrypted")


# --- Limits and credentials ------------------------------------------------------------


class Throttled(Exception):
    """Too many recent failures for ``scope``; ``retry_after`` seconds until the next try may go."""

    def __init__(self, scope: str, *, retry_after: int):
        super().__init__(f"{scope} over its failure limit; retry after {retry_after}s")
        self.scope = scope
        self.retry_after = retry_after


class ResourceOwnerBlocked(Exception):
    """The resource owner is blocked at the gateway: no token, whatever the upstream says (invalid_grant)."""


class PasswordGrantEnded(Exception):
    """The client's password grant is past its sunset (unauthorized_client); the message is the error_description."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class MalformedCredentials(ValueError):
    """Client credentials that cannot belong to any client. The message never holds them."""


# --- Secrets at rest ----------------------------------------------------------------------


class EncryptionKeyError(ImproperlyConfigured):
    """``OAUTHGW_ENCRYPTION_KEYS`` holds something that is not a Fernet key."""


class DecryptionError(Exception):
    """No configured key opens this ciphertext: a key was lost or changed, or the value was altered."""


# --- What clients are told (RFC 6749 section 5.2) ----------------------------------------------


class _RetryLater:
    """An OAuth error that tells the client, in ``Retry-After``, when to try again."""

    def __init__(self, *, retry_after: int, **kwargs):
        super().__init__(**kwargs)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TemporarilyUnavailableError(_RetryLater, errors.TemporarilyUnavailableError):
    """The authorization server behind the gateway (or its database) cannot answer: 503, retry later."""

    status_code = 503


class SlowDownError(_RetryLater, errors.OAuth2Error):
    """Too many failed attempts (RFC 6749 section 4.3.2): 429, retry later.

    ``slow_down`` is the registered token-endpoint error code (RFC 8628 section
    3.5) that says "you are going too fast"; 429 and ``Retry-After`` say until when.
    """

    error = "slow_down"
    status_code = 429


class MethodNotAllowedError(errors.InvalidRequestError):
    status_code = 405


class IntrospectionForbiddenError(errors.UnauthorizedClientError):
    status_code = 403
    description = "This client may not introspect tokens."


class InvalidTargetError(errors.OAuth2Error):
    """RFC 8707 section 2: a ``resource`` the client's JWT access tokens may not be for."""

    error = "invalid_target"
    status_code = 400
