"""The resource server's read-only view of access tokens."""

from oauthgw.caching.bearer_cache import access_token_load


def access_token_for(token: str):
    """The AccessToken row a raw bearer token stands for, with its client and resource owner, or None.

    Whatever its state: the caller checks expiry, scope and whether the client is
    usable, as for a row read from the database.
    """
    return access_token_load(token)


def owner_is_blocked(access_token) -> bool:
    """Whether the token's resource owner is blocked.

    SEAM (blocked resource owners): ``ResourceOwner.blocked`` is being added on
    another branch; until it is merged no owner has the flag and this says no.
    Once it is, replace the ``getattr`` with the field (the row is already
    loaded with the token: ``select_related("user__resource_owner")``).
    """
    if access_token.user_id is None:
        return False
    owner = getattr(access_token.user, "resource_owner", None)
    return bool(getattr(owner, "blocked", False))
