"""RFC 9068 JWT access tokens: their claims, their audience, and the signature.

The header: ``typ: at+jwt``, the signing key's ``kid`` and ``alg``. The claims:

- ``iss``: the gateway's issuer (``oauthgw.issuer``);
- ``sub``: the resource owner's stable identity (``ResourceOwner.subject``: the
  upstream's ``sub`` or the normalised username), or the client's id for
  client_credentials (RFC 9068 section 2.2);
- ``aud``: the client's audiences, else ``OAUTHGW_JWT_AUDIENCE``, else the issuer;
  an RFC 8707 ``resource`` narrows it to what was asked for, which must be one
  of them (``invalid_target`` otherwise); a refresh keeps what the refresh
  token was issued for;
- ``client_id``, ``scope``, a random ``jti``, ``iat`` and ``exp``;
- ``cnf.jkt`` for a DPoP-bound token: the thumbprint of its key (RFC 9449 section 6.1).

The token is stored like an opaque one, by its checksum: that row is what
refresh, introspection and revocation find, and deleting it is the revocation
the gateway's own bearer check sees at once.
"""

import secrets

import jwt
from django.utils import timezone

from oauthgw import grants, token_formats
from oauthgw.exceptions import InvalidTargetError
from oauthgw.issuer import REQUEST_KEY, default_audience
from oauthgw.issuing import key_rotation
from oauthgw.issuing.dpop import request_jkt

JTI_BYTES = 16


def _requested_resources(request) -> list[str]:
    # RFC 8707 allows several resource parameters; oauthlib keeps only the last.
    body = getattr(request, "decoded_body", None) or []
    values = [value for name, value in body if name == "resource" and value]
    if values:
        return values
    resource = request.resource
    if isinstance(resource, str):
        return [resource] if resource else []
    return list(resource or [])


def jwt_audience(request) -> list[str]:
    """The ``aud`` of a JWT access token for this request; ``InvalidTargetError`` for a resource not allowed."""
    client = request.client
    allowed = client.audience_list or default_audience(_issuer(request))
    requested = _requested_resources(request)
    refused = [value for value in requested if value not in allowed]
    if refused:
        raise InvalidTargetError(
            description="The requested resource is not an audience of this client's tokens.", request=request
        )
    if requested:
        return requested
    previous = getattr(request, "refresh_token_instance", None)
    inherited = [value for value in (getattr(previous, "resource", None) or []) if value in allowed]
    return inherited or allowed


def jwt_audience_check(request) -> None:
    """Refuse a disallowed resource before any other work (an upstream call) is done for the request."""
    if request.client is not None and request.client.issues_jwt:
        jwt_audience(request)


def _issuer(request) -> str:
    # Set by the toolkit's backend (oauthgw.toolkit.oauth2_backends) from the Django request.
    return request.headers[REQUEST_KEY]


def _subject(request) -> str:
    if request.grant_type == grants.CLIENT_CREDENTIALS or request.user is None:
        return request.client.client_id
    owner = getattr(request.user, "resource_owner", None)
    return owner.subject if owner is not None else request.user.get_username()


def jwt_access_token_issue(request) -> str:
    """A signed JWT access token for the token request oauthlib is answering (``request.expires_in`` is set)."""
    signer = getattr(request, "jwt_signer", None) or key_rotation.signer_for_now()
    issued_at = int(timezone.now().timestamp())
    audience = jwt_audience(request)
    claims = {
        "iss": _issuer(request),
        "sub": _subject(request),
        "aud": audience[0] if len(audience) == 1 else audience,
        "client_id": request.client.client_id,
        "scope": " ".join(request.scopes or []),
        "jti": secrets.token_urlsafe(JTI_BYTES),
        "iat": issued_at,
        "exp": issued_at + int(request.expires_in),
    }
    jkt = request_jkt(request)
    if jkt is not None:
        # RFC 9449 section 6.1: what an API verifying the JWT alone checks the DPoP proof's key against.
        claims["cnf"] = {"jkt": jkt}
    headers = {"typ": token_formats.TYP, "kid": signer.key.kid}
    return jwt.encode(claims, signer.private_key, algorithm=signer.key.algorithm, headers=headers)
