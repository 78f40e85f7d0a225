"""Shadow users for the resource owners that external authorization servers vouch for."""

import hashlib
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from oauthgw.models import ResourceOwner

# Writing last_seen on every login would cost a write per token request.
LAST_SEEN_PRECISION = timedelta(minutes=1)


def shadow_username(*, authorization_server: str, subject: str) -> str:
    # A colon is not allowed in usernames typed into the admin, so a shadow user
    # can never collide with a staff account.
    digest = hashlib.sha256(f"{authorization_server}\0{subject}".encode()).hexdigest()[:40]
    return f"ro:{digest}"


def resource_owner_upsert(*, authorization_server: str, subject: str):
    """Return the user row for this subject, creating it on first sight."""
    now = timezone.now()
    owner = (
        ResourceOwner.objects.select_related("user")
        .filter(authorization_server=authorization_server, subject=subject)
        .first()
    )
    if owner is not None:
        if owner.last_seen < now - LAST_SEEN_PRECISION:
            ResourceOwner.objects.filter(pk=owner.pk).update(last_seen=now)
        return owner.user
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=shadow_username(authorization_server=authorization_server, subject=subject),
                password=None,  # unusable: a shadow user can never log in
            )
            ResourceOwner.objects.create(
                user=user, authorization_server=authorization_server, subject=subject, last_seen=now
            )
            return user
    except IntegrityError:
        # Another request created it first.
        return (
            ResourceOwner.objects.select_related("user")
            .get(authorization_server=authorization_server, subject=subject)
            .user
        )
