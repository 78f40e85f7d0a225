"""Revoking tokens in bulk: everything of a resource owner, or of a client.

Each token goes through the toolkit's own revoke path, so a refresh token stays
behind as a revoked tombstone (reuse detection needs it) and its access token is
deleted, and every deletion reaches the bearer cache's receivers.
"""

from dataclasses import dataclass

from django.db import transaction
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, revoke_access_token


@dataclass(frozen=True)
class Revoked:
    access_tokens: int
    refresh_tokens: int

    @property
    def total(self) -> int:
        return self.access_tokens + self.refresh_tokens

    def __add__(self, other: "Revoked") -> "Revoked":
        return Revoked(self.access_tokens + other.access_tokens, self.refresh_tokens + other.refresh_tokens)


NOTHING = Revoked(0, 0)


@transaction.atomic
def _revoke(**owner) -> Revoked:
    access_tokens = get_access_token_model().objects.filter(**owner)
    access_count = access_tokens.count()
    refresh_count = 0
    refresh_tokens = get_refresh_token_model().objects.filter(revoked__isnull=True, **owner)
    for refresh_token in refresh_tokens.iterator():
        refresh_token.revoke()  # also deletes its access token
        refresh_count += 1
    # Access tokens without a live refresh token (client_credentials, or issued
    # by a refresh token that was revoked since).
    for access_token in access_tokens.iterator():
        revoke_access_token(access_token)
    return Revoked(access_tokens=access_count, refresh_tokens=refresh_count)


def tokens_revoke_for_user(*, user) -> Revoked:
    """Revoke every live access and refresh token of one resource owner, at every client."""
    return _revoke(user=user)


def tokens_revoke_for_client(*, client) -> Revoked:
    """Revoke every live access and refresh token issued to one client."""
    return _revoke(application=client)


def tokens_revoke(*, access_tokens=(), refresh_tokens=()) -> Revoked:
    """Revoke the given tokens (and what is bound to them)."""
    access_count = refresh_count = 0
    with transaction.atomic():
        for refresh_token in refresh_tokens:
            if refresh_token.revoked is None:
                refresh_token.revoke()
                refresh_count += 1
        for access_token in access_tokens:
            revoke_access_token(access_token)
            access_count += 1
    return Revoked(access_tokens=access_count, refresh_tokens=refresh_count)
