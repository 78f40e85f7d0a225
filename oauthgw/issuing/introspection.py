"""What RFC 7662 introspection may say about a token: everything if active, else nothing."""

from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from oauthgw.caching.bearer_cache import access_token_load, bound_jkt
from oauthgw.credentials import token_checksum
from oauthgw.issuing import lifetimes
from oauthgw.issuing.dpop import TOKEN_TYPE
from oauthgw.token_formats import looks_like_jwt
from oauthgw.token_verification import jwt_claims_read

INACTIVE = {"active": False}


def _owner_claims(token) -> dict:
    claims = {"client_id": token.application.client_id}
    owner = getattr(token.user, "resource_owner", None) if token.user_id else None
    if owner is not None:
        claims["username"] = owner.username or owner.subject
        claims["sub"] = owner.subject
    return claims


def _access_token_claims(token_value: str, checksum: str) -> dict | None:
    # The bearer check's cache: a resource server introspecting the tokens it is
    # sent asks about the same tokens again and again.
    token = access_token_load(token_value)
    if token is None or token.application is None:
        return None
    if not token.is_valid() or not token.application.enabled:
        return INACTIVE
    return {
        "active": True,
        **_binding_claims(token),
        "scope": token.scope,
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        **_owner_claims(token),
        **(_jwt_claims(token_value) if looks_like_jwt(token_value) else {}),
    }


def _binding_claims(token) -> dict:
    # RFC 9449 section 6.2: the API checks the DPoP proof's key against cnf.jkt itself.
    jkt = bound_jkt(token)
    if jkt is None:
        return {"token_type": "Bearer"}
    return {"token_type": TOKEN_TYPE, "cnf": {"jkt": jkt}}


def _jwt_claims(token_value: str) -> dict:
    # The row found by checksum proves the gateway issued exactly this value, so
    # its claims are read without checking the signature again. RFC 7662 section
    # 2.2 names these members; exp and iat as the API verifying it sees them.
    claims = jwt_claims_read(token_value)
    return {name: claims[name] for name in ("exp", "iat", "sub", "aud", "iss", "jti") if name in claims}


def _refresh_token_claims(token_value: str, checksum: str) -> dict | None:
    # A slice, not first(): compiling first()'s ORDER BY cost more than the query.
    found = (
        get_refresh_token_model()
        .objects.select_related("application", "user__resource_owner", "access_token")
        .filter(token_checksum=checksum, revoked__isnull=True)[:1]
    )
    token = found[0] if found else None
    if token is None or token.application is None:
        return None
    expires = token.created + lifetimes.refresh_token_lifetime(token.application)
    if expires <= timezone.now() or not token.application.enabled or token.access_token is None:
        return INACTIVE
    # No token_type: RFC 7662 section 2.2 means an RFC 6749 section 7.1 access
    # token type ("Bearer"), which a refresh token does not have.
    return {
        "active": True,
        "scope": token.access_token.scope,
        "exp": int(expires.timestamp()),
        "iat": int(token.created.timestamp()),
        **_owner_claims(token),
    }


def token_introspect(*, token: str, token_type_hint: str = "") -> dict:
    checksum = token_checksum(token)
    lookups = [_access_token_claims, _refresh_token_claims]
    if token_type_hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        claims = lookup(token, checksum)
        if claims is not None:
            return claims
    return INACTIVE
