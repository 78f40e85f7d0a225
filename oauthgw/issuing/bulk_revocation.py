"""Revoking tokens in bulk: everything of a resource owner, or of a client.

Set-based, as the toolkit's family revocation is: one UPDATE marks the live
refresh tokens revoked (they stay behind as tombstones, which reuse detection
needs) and one DELETE removes the access tokens, whose deletion signals reach
the bearer cache's receivers (a tombstone per token in Redis). The sessions of
those families go too, with the upstream refresh tokens kept for them.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model, revoke_access_token

from oauthgw.models import UpstreamSession


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
def _revoke(sessions: dict, **owner) -> Revoked:
    now = timezone.now()
    UpstreamSession.objects.filter(**sessions).delete()
    # ``updated`` is ``auto_now``, which a queryset update does not set.
    refresh_count = (
        get_refresh_token_model().objects.filter(revoked__isnull=True, **owner).update(revoked=now, updated=now)
    )
    # RefreshToken.access_token is SET_NULL: the revoked rows lose their pointer too.
    access_token_model = get_access_token_model()
    _, deleted = access_token_model.objects.filter(**owner).delete()
    return Revoked(access_tokens=deleted.get(access_token_model._meta.label, 0), refresh_tokens=refresh_count)


def tokens_revoke_for_user(*, user) -> Revoked:
    """Revoke every live access and refresh token of one resource owner, at every client."""
    return _revoke({"user": user}, user=user)


def tokens_revoke_for_client(*, client) -> Revoked:
    """Revoke every live access and refresh token issued to one client."""
    return _revoke({"client": client}, application=client)


def tokens_count_for_client(*, client) -> Revoked:
    """What ``tokens_revoke_for_client`` would revoke now: to show before asking."""
    return Revoked(
        access_tokens=get_access_token_model().objects.filter(application=client).count(),
        refresh_tokens=get_refresh_token_model().objects.filter(application=client, revoked__isnull=True).count(),
    )


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
