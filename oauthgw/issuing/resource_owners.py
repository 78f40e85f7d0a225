"""Shadow users for the resource owners that external authorization servers vouch for.

A resource owner is identified by what its authorization server vouched for: the
``sub`` of the server's answer when it has one (its own members, an ID token or a
JWT access token), else the username in one normalised form
(``resource_owner_subject``: NFKC, surrounding space stripped, case folded), so
``ABC123`` and `` abc123`` at a server that ignores case are one person whose
tokens one revocation reaches. A server where case tells two people apart should
return ``sub``. The username shown (HelloWorld, the admin) is the server's
``preferred_username``/``username`` claim, else the one last logged in with.

An owner can be blocked at the gateway: their sessions end at once and they get
no token until unblocked, whatever the server says. A login is refused before the
password leaves the gateway when its normalised username is the one the owner
was known by when blocked (``resource_owner_login_blocked``); an owner the server
identifies by ``sub`` who logs in under another name (an e-mail address the server
also accepts) is asked about upstream, then refused by identity
(``resource_owner_upsert``). Both answer like a wrong password.
"""

import functools
import hashlib
import unicodedata
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from oauthgw.exceptions import ResourceOwnerBlocked
from oauthgw.issuing.bulk_revocation import Revoked, tokens_revoke_for_user
from oauthgw.models import ResourceOwner

# Writing last_seen on every login would cost a write per token request.
LAST_SEEN_PRECISION = timedelta(minutes=1)


def resource_owner_subject(username: str) -> str:
    """The identity of a username when the upstream names none."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def shadow_username(*, authorization_server: str, subject: str) -> str:
    # A colon is not allowed in usernames typed into the admin, so a shadow user
    # can never collide with a staff account.
    digest = hashlib.sha256(f"{authorization_server}\0{subject}".encode()).hexdigest()[:40]
    return f"ro:{digest}"


@functools.cache
def _lookup_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    meta = ResourceOwner._meta
    user, last_seen, username, blocked, server, subject = (
        quote(meta.get_field(name).column)
        for name in ("user", "last_seen", "username", "blocked", "authorization_server", "subject")
    )
    # Only identifiers from the model's metadata are interpolated; values are parameters.
    return (
        f"SELECT {user}, {last_seen} < %s, {username}, {blocked} FROM {quote(meta.db_table)} "  # noqa: S608
        f"WHERE {server} = %s AND {subject} = %s"
    )


def _known_owner(
    *, authorization_server: str, subject: str, seen_before: datetime
) -> tuple[int, bool, str, bool] | None:
    """(user id, whether it was last seen before ``seen_before``, username, blocked) of a known owner, else None.

    This runs on every password login: one indexed SELECT of two values, without
    the ORM's query compilation (about three quarters of the CPU of the
    ``select_related`` query it replaces).
    """
    alias = router.db_for_read(ResourceOwner)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            _lookup_sql(alias),
            [connection.ops.adapt_datetimefield_value(seen_before), authorization_server, subject],
        )
        row = cursor.fetchone()
    return None if row is None else (row[0], bool(row[1]), row[2], bool(row[3]))


def resource_owner_upsert(*, authorization_server: str, subject: str, username: str = ""):
    """Return the user row for this subject, creating it on first sight; remember its latest ``username``.

    A known owner's user comes back with only its primary key loaded (what a
    token row needs); any other field loads from the database when read. Raises
    ``ResourceOwnerBlocked`` for an owner blocked at the gateway.
    """
    now = timezone.now()
    known = _known_owner(
        authorization_server=authorization_server, subject=subject, seen_before=now - LAST_SEEN_PRECISION
    )
    username = username or subject
    if known is not None:
        user_id, stale, known_username, blocked = known
        if blocked:
            raise ResourceOwnerBlocked
        if stale or known_username != username:
            ResourceOwner.objects.filter(pk=user_id).update(last_seen=now, username=username)
        user_model = get_user_model()
        return user_model.from_db(router.db_for_read(user_model), [user_model._meta.pk.attname], [user_id])
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=shadow_username(authorization_server=authorization_server, subject=subject),
                password=None,  # unusable: a shadow user can never log in
            )
            ResourceOwner.objects.create(
                user=user, authorization_server=authorization_server, subject=subject, username=username, last_seen=now
            )
            return user
    except IntegrityError:
        # Another request created it first.
        return (
            ResourceOwner.objects.select_related("user")
            .get(authorization_server=authorization_server, subject=subject)
            .user
        )


@functools.cache
def _blocked_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    meta = ResourceOwner._meta
    server, login = (quote(meta.get_field(name).column) for name in ("authorization_server", "blocked_login"))
    # Only identifiers from the model's metadata are interpolated; values are parameters.
    return f"SELECT 1 FROM {quote(meta.db_table)} WHERE {server} = %s AND {login} = %s"  # noqa: S608


def resource_owner_login_blocked(*, authorization_server: str, username: str) -> bool:
    """Whether ``username`` names an owner blocked at this server, as far as the username alone tells.

    Asked before the password goes upstream, on every password login: one read of
    the (few) blocked owners' index, in SQL (the ORM's ``exists()`` costs more CPU
    than the statement).
    """
    alias = router.db_for_read(ResourceOwner)
    with connections[alias].cursor() as cursor:
        cursor.execute(_blocked_sql(alias), [authorization_server, resource_owner_subject(username)])
        return cursor.fetchone() is not None


def resource_owner_block(*, owner: ResourceOwner, reason: str = "") -> Revoked:
    """Block ``owner`` at the gateway and end all their sessions; return what was revoked."""
    with transaction.atomic():
        owner.blocked = True
        owner.blocked_at = timezone.now()
        owner.blocked_reason = reason.strip()[: ResourceOwner._meta.get_field("blocked_reason").max_length]
        owner.blocked_login = resource_owner_subject(owner.username or owner.subject)
        owner.save(update_fields=["blocked", "blocked_at", "blocked_reason", "blocked_login"])
        return tokens_revoke_for_user(user=owner.user)


def resource_owner_unblock(*, owner: ResourceOwner) -> bool:
    """Let ``owner`` log in again (their ended sessions stay ended); return whether anything changed."""
    if not owner.blocked:
        return False
    owner.blocked = False
    owner.blocked_at = None
    owner.blocked_reason = ""
    owner.blocked_login = ""
    owner.save(update_fields=["blocked", "blocked_at", "blocked_reason", "blocked_login"])
    return True
