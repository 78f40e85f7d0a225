"""How long the tokens of a client live: its own setting, else the toolkit's default."""

from datetime import timedelta

from oauth2_provider.settings import oauth2_settings


def access_token_seconds(client) -> int:
    return client.access_token_lifetime or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS


def refresh_token_seconds(client) -> int:
    # The toolkit's REFRESH_TOKEN_EXPIRE_SECONDS is the default and the ceiling:
    # the toolkit itself refuses older refresh tokens, and cleartokens relies on it.
    ceiling = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    return min(client.refresh_token_lifetime or ceiling, ceiling)


def refresh_token_lifetime(client) -> timedelta:
    return timedelta(seconds=refresh_token_seconds(client))


def access_token_expires_in(request) -> int:
    """oauthlib's ``token_expires_in`` hook (``EXTRA_SERVER_KWARGS``)."""
    return access_token_seconds(request.client)
