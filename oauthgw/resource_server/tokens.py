"""The resource server's read-only view of access tokens."""

from oauthgw.caching.bearer_cache import access_token_load


def access_token_for(token: str):
    """The AccessToken row a raw bearer token stands for, with its client and resource owner, or None.

    Whatever its state: the caller checks expiry, scope and whether the client is
    usable, as for a row read from the database.
    """
    return access_token_load(token)
