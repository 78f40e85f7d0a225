"""DRF authentication for the APIs behind the gateway: the toolkit's class, checking tokens itself.

``OAuth2Authentication`` hands every request to oauthlib's resource endpoint,
which builds the whole authorization server (the toolkit's server, its
validator and every grant handler) to look one token up, and whose plumbing (a
copy of the WSGI environ, a URI rebuilt, an oauthlib Request) costs more than the
lookup. This subclass keeps the toolkit's interface (the Bearer challenge and its
realm, ``request.oauth2_error`` for the 401) and the toolkit's rules for a token
(``validate_bearer_token``: expiry, an RFC 8707 resource restriction, a usable
client), and reads the token through ``oauthgw.resource_server.tokens``: the
bearer check imports nothing of the issuing side. Scopes are checked by the
permission class, as before.

How the token is presented (RFC 6750 section 2, RFC 9449 section 7): in the
``Authorization: Bearer`` header, or, for a DPoP-bound token, ``Authorization:
DPoP`` with a ``DPoP`` proof (``_binding_refusal``: each scheme refuses the other's
tokens). A request that sends one too as an ``access_token`` query or
form parameter uses two methods, and one that puts it in the URL breaks RFC 9700
section 4.3.2 (the toolkit's ``COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT``,
which the toolkit's own class applies too): both are refused with 400
``invalid_request`` before any token is looked at. (With that setting off, a
token alone in the query is read as the toolkit reads it.)

A JWT access token (RFC 9068) is checked twice: its signature and claims
locally, with the published keys, as an external API checks them
(``oauthgw.token_verification``), its ``aud`` included: it must name the API it
is presented to, which each view declares in ``token_audience`` (a JWT meant for
another API is refused; so is every JWT at a view that declares none). Then, like
an opaque token, its row, which carries the gateway's revocation state: a revoked
token has no row, a disabled client's tokens are refused, and so are a blocked
resource owner's.
"""

import logging
import re
from collections import OrderedDict
from collections.abc import Collection

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from oauth2_provider.bcp import bcp_compliant
from oauth2_provider.contrib.rest_framework import OAuth2Authentication

from oauthgw.conf import gateway_settings
from oauthgw.credentials import authorization
from oauthgw.dpop.proofs import dpop_proof_verify
from oauthgw.exceptions import (
    DPoPError,
    DPoPReplayCheckUnavailable,
    ExpiredJWT,
    InvalidJWT,
    JWTForAnotherAudience,
    MalformedBearerToken,
    ProofCheckUnavailable,
    TokenInQueryString,
    TokenInSeveralPlaces,
    UseDPoPNonce,
)
from oauthgw.issuer import gateway_url
from oauthgw.resource_server import challenges
from oauthgw.resource_server.tokens import access_token_for, access_token_jkt, owner_is_blocked
from oauthgw.token_formats import looks_like_jwt
from oauthgw.token_verification import jwt_access_token_verify

logger = logging.getLogger(__name__)

# RFC 6750 section 2.1: the credentials of the Bearer scheme are one b64token; RFC 9449
# section 7.1: the DPoP scheme's are one token68, the same characters.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_DPOP_HEADER = "HTTP_DPOP"
_PARAMETER = "access_token"
_FORM = "application/x-www-form-urlencoded"
_QUERY_TRANSPORT = "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT"
# Views that declared no audience, each warned about once per process.
_warned_views: set[type] = set()


def _invalid(description: str) -> OrderedDict:
    return OrderedDict([("error", "invalid_token"), ("error_description", description)])


def _presented_token(request) -> tuple[str, str] | None:
    """(scheme, token) the request presents by the one method allowed; None if it presents none.

    The scheme is ``bearer`` or ``dpop`` (an ``access_token`` parameter is a
    bearer token), and is also kept on the request for its challenge. Raises
    ``InvalidBearerRequest`` (400) for two methods at once or a token in the URL.
    """
    scheme, header_token = authorization(request.META)
    in_header = scheme in (challenges.BEARER, challenges.DPOP)
    request.token_scheme = scheme if in_header else challenges.BEARER
    in_query = _PARAMETER in request._request.GET
    in_body = (
        request.method not in ("GET", "HEAD")
        and (request.content_type or "").split(";")[0].strip().lower() == _FORM
        and _PARAMETER in request._request.POST
    )
    if in_header + in_query + in_body > 1:
        raise TokenInSeveralPlaces()
    if in_query and bcp_compliant(_QUERY_TRANSPORT, "Presenting an OAuth 2.0 access token in the URI query string"):
        raise TokenInQueryString()
    if in_header:
        token = header_token
    elif in_query or in_body:
        source = request._request.GET if in_query else request._request.POST
        token = source[_PARAMETER]
    else:
        return None
    if not _B64TOKEN.fullmatch(token):
        raise MalformedBearerToken()
    return request.token_scheme, token


def _declared_audience(request) -> str | Collection[str] | None:
    """The ``token_audience`` of the view being called (RFC 9068 section 4: what its JWTs must name).

    One identifier, or several of which a JWT's ``aud`` must name one.
    """
    view = (getattr(request, "parser_context", None) or {}).get("view")
    audience = getattr(view, "token_audience", None)
    if not audience and view is not None and type(view) not in _warned_views:
        _warned_views.add(type(view))
        logger.warning(
            "%s declares no token_audience: every JWT access token presented to it is refused",
            type(view).__name__,
        )
    return audience or None


class BearerTokenAuthentication(OAuth2Authentication):
    def authenticate(self, request):
        presented = _presented_token(request)
        if presented is None:
            # No credentials: not ours to refuse; the 401 challenges name no error.
            request.token_scheme = None
            return None
        scheme, token = presented
        error = self._jwt_refusal(token, request)
        if error:
            request.oauth2_error = error
            return None
        access_token = access_token_for(token)
        error = self._refusal(access_token, request) or self._binding_refusal(scheme, token, access_token, request)
        if error:
            request.oauth2_error = error
            return None
        return access_token.user, access_token

    def authenticate_header(self, request):
        # Both schemes' challenges, the error in the one the request used (oauthgw.resource_server.challenges).
        error = getattr(request, "oauth2_error", None)
        return challenges.challenges(getattr(request, "token_scheme", None), error, realm=self.www_authenticate_realm)

    @staticmethod
    def _binding_refusal(scheme: str, token: str, access_token, request) -> OrderedDict | None:
        """Why a valid token is refused for how it was presented (RFC 9449 section 7); None if it is not.

        A DPoP-bound token needs the DPoP scheme and a proof by its key, with the
        token's hash (``ath``), for this request's method and URL; a bearer token
        needs the Bearer scheme. Checked last, so a proof's replay mark is spent
        only on a request whose token is good. Raises ``ProofCheckUnavailable``
        (503) when the replay store cannot answer.
        """
        jkt = access_token_jkt(access_token)
        if scheme == challenges.BEARER:
            if jkt is None:
                return None
            # Section 7.2: a DPoP-bound token presented as a bearer token is refused.
            return _invalid("This access token is bound to a DPoP key: send it with the DPoP scheme and a proof.")
        if jkt is None:
            return _invalid("This access token is not bound to a DPoP key: send it with the Bearer scheme.")
        try:
            dpop_proof_verify(
                [request.META[_DPOP_HEADER]] if _DPOP_HEADER in request.META else [],
                method=request.method,
                url=gateway_url(request._request, request.path),
                access_token=token,
                bound_jkt=jkt,
                nonce_required=gateway_settings.DPOP_API_NONCE_REQUIRED,
            )
        except UseDPoPNonce as exc:
            request.dpop_nonce = exc.nonce
            return OrderedDict([("error", exc.error), ("error_description", exc.description)])
        except DPoPError as exc:
            return OrderedDict([("error", exc.error), ("error_description", exc.description)])
        except DPoPReplayCheckUnavailable as exc:
            raise ProofCheckUnavailable(retry_after=exc.retry_after) from exc
        return None

    @staticmethod
    def _jwt_refusal(token: str, request) -> OrderedDict | None:
        """Why a JWT's signature or claims are refused here; None for a valid JWT meant for this API, or opaque."""
        if not looks_like_jwt(token):
            return None
        audience = _declared_audience(request)
        try:
            jwt_access_token_verify(token, audience=audience or "")
        except ExpiredJWT:
            return _invalid("The access token has expired.")
        except JWTForAnotherAudience:
            return _invalid("The access token is not meant for this API.")
        except InvalidJWT:
            return _invalid("The access token is invalid.")
        return None

    @staticmethod
    def _refusal(access_token, request) -> OrderedDict | None:
        """Why the token is refused, as the toolkit's ``validate_bearer_token`` says it; None if it is not."""
        if access_token is None:
            return _invalid("The access token is invalid.")
        if access_token.is_expired():
            return _invalid("The access token has expired.")
        if access_token.resource and not access_token.allows_audience(request.build_absolute_uri().split("?")[0]):
            return _invalid("The access token is not valid for this resource.")
        application = access_token.application
        if application is not None and not application.is_usable(request):
            return _invalid("The access token is invalid.")
        if owner_is_blocked(access_token):
            return _invalid("The access token is invalid.")
        return None


class BearerTokenScheme(DjangoOAuthToolkitScheme):
    """The OpenAPI security scheme (drf-spectacular) of the toolkit's class, for this subclass."""

    target_class = BearerTokenAuthentication
