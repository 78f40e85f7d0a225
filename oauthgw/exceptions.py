"""Every exception of the gateway's own, in one place (a module's private control flow aside).

Three kinds. Domain exceptions say what went wrong where it happened (an upstream
that gave no clear answer, a login over its limit, a secret no key opens, a JWT
that does not verify) and carry nothing secret in their messages. OAuth errors
are oauthlib's error classes with the gateway's status codes: what a client of
the token endpoint is told (RFC 6749 section 5.2); ``oauthgw.toolkit.responses``
turns them into responses. Bearer-request errors are DRF exceptions: what an API
behind the gateway answers (RFC 6750 section 3.1), shaped by
``oauthgw.resource_server.exception_handler``.
"""

from django.core.exceptions import ImproperlyConfigured
from oauthlib.oauth2.rfc6749 import errors
from rest_framework import exceptions as api_exceptions

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
    """``scope`` is over its limit; ``retry_after`` seconds until the next try may go.

    ``description`` is what the client is told (429 ``slow_down``).
    """

    def __init__(
        self,
        scope: str,
        *,
        retry_after: int,
        description: str = "Too many failed login attempts; try again later.",
    ):
        super().__init__(f"{scope} over its limit; retry after {retry_after}s")
        self.scope = scope
        self.retry_after = retry_after
        self.description = description


class ResourceOwnerBlocked(Exception):
    """The resource owner is blocked at the gateway: no token, whatever the upstream says (invalid_grant)."""


class PasswordGrantEnded(Exception):
    """The client's password grant is past its sunset (unauthorized_client); the message is the error_description."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class MalformedCredentials(ValueError):
    """Client credentials that cannot belong to any client. The message never holds them."""


# --- JWT access tokens ----------------------------------------------------------------------


class InvalidJWT(Exception):
    """Not a valid JWT access token of this gateway. The message names the reason, never the token."""


class ExpiredJWT(InvalidJWT):
    """A genuine JWT access token of this gateway whose ``exp`` has passed."""


class JWTForAnotherAudience(InvalidJWT):
    """A genuine JWT access token whose ``aud`` does not name the API it was presented to (RFC 9068 section 4)."""


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


class InvalidDPoPProofError(errors.OAuth2Error):
    """RFC 9449 section 5: the token request's DPoP proof is invalid, or missing where the client needs one."""

    error = "invalid_dpop_proof"
    status_code = 400


class UseDPoPNonceError(errors.OAuth2Error):
    """RFC 9449 section 8: the proof must carry the server's nonce; ``DPoP-Nonce`` hands out a fresh one."""

    error = "use_dpop_nonce"
    status_code = 400

    def __init__(self, *, nonce: str, **kwargs):
        super().__init__(**kwargs)
        self.nonce = nonce

    @property
    def headers(self) -> dict[str, str]:
        return {"DPoP-Nonce": self.nonce}


# --- What APIs behind the gateway answer (RFC 6750 section 3.1) ---------------------------


class InvalidBearerRequest(api_exceptions.APIException):
    """A request that does not present its access token as RFC 6750 allows: 400 ``invalid_request``."""

    status_code = 400
    default_detail = "The request does not present its access token the way RFC 6750 allows."
    default_code = "invalid_request"


class MalformedBearerToken(InvalidBearerRequest):
    """``Authorization: Bearer`` with no token or not a b64token (RFC 6750 section 2.1)."""

    default_detail = "The Authorization header must be 'Bearer' followed by one token."


class TokenInSeveralPlaces(InvalidBearerRequest):
    """The access token sent by more than one method (RFC 6750 section 2: exactly one)."""

    default_detail = "Send the access token one way only: in the Authorization header."


class TokenInQueryString(InvalidBearerRequest):
    """An access token in the URL, refused by RFC 9700 section 4.3.2 (the toolkit's ACCESS_TOKEN_TRANSPORT)."""

    default_detail = "Access tokens are not accepted in the URL; send it in the Authorization header."


class ProofCheckUnavailable(api_exceptions.APIException):
    """DPoP proofs cannot be checked for replay (the shared cache is down): 503 with ``Retry-After``."""

    status_code = 503
    default_detail = "DPoP proofs cannot be checked for replay right now; try again later."
    default_code = "temporarily_unavailable"

    def __init__(self, *, retry_after: int):
        super().__init__()
        self.retry_after = retry_after


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why and what to do."""


# --- State every process shares ------------------------------------------------------------


class SharedStateUnavailable(Exception):
    """The shared cache (Redis) did not answer, where "unknown" must not pass for an answer."""


# --- DPoP (RFC 9449) -------------------------------------------------------------------------


class DPoPError(Exception):
    """A DPoP proof refused. ``error`` is the code a client is told (RFC 9449 sections 5, 7.1 and 8).

    ``description`` names the rule the proof broke, never a value taken from it:
    it is sent to the client as ``error_description`` and logged.
    """

    error = ""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class InvalidDPoPProof(DPoPError):
    """The ``DPoP`` header is missing, malformed, or breaks a rule of RFC 9449 section 4.3."""

    error = "invalid_dpop_proof"


class UseDPoPNonce(DPoPError):
    """The proof needs a server nonce it lacks, or carries one no longer valid (RFC 9449 section 8).

    ``nonce`` is a fresh one, for the ``DPoP-Nonce`` header of the answer.
    """

    error = "use_dpop_nonce"

    def __init__(self, nonce: str, description: str):
        super().__init__(description)
        self.nonce = nonce


class DPoPReplayCheckUnavailable(Exception):
    """The store of seen proofs (Redis) cannot answer and unchecked proofs are refused: 503, retry later.

    Not a ``DPoPError``: the proof may be valid, and an outage is never the client's fault.
    """

    def __init__(self, *, retry_after: int):
        super().__init__(f"the DPoP replay check is unavailable; retry after {retry_after}s")
        self.retry_after = retry_after
