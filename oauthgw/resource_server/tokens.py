"""The resource server's read-only view of access tokens."""

from oauthgw.caching.bearer_cache import access_token_load, bound_jkt


def access_token_for(token: str):
    """The AccessToken row a raw bearer token stands for, with its client and resource owner, or None.

    Whatever its state: the caller checks expiry, scope and whether the client is
    usable, as for a row read from the database.
    """
    return access_token_load(token)


def owner_is_blocked(access_token) -> bool:
    """Whether the token's resource owner is blocked at the gateway.

    Blocking revokes the owner's tokens already; this also refuses a JWT an API
    was handed before that, and a row read just before the block committed. The
    owner's row comes loaded with the token.
    """
    if access_token.user_id is None:
        return False
    owner = getattr(access_token.user, "resource_owner", None)
    return owner is not None and owner.blocked


def access_token_jkt(access_token) -> str | None:
    """The thumbprint of the DPoP key the token is bound to (RFC 9449 section 6), None for a bearer token.

    Read with the token, in the same statement or cache entry.
    """
    return bound_jkt(access_token)
