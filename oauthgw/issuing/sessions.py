"""Sessions bound to the upstream's verdict: a user the authorization server stops vouching for loses access.

A session is a token family of the gateway: a password login starts one, each
refresh continues it (``UpstreamSession``, one row per family). When the
authorization server's answer to the login carries a refresh token, it is kept
with the session, encrypted (``oauthgw.encryption``), and follows the family
through every rotation.

**Re-verification.** Per authorization server (``UPSTREAM_REVERIFY`` for the
default one): ``never`` (the default) asks nothing at refresh; ``always`` and
``N`` seconds send ``grant_type=refresh_token`` with the kept token to the
server's token endpoint first, at every refresh or when the session's last
successful answer is older than N seconds. The answer is read as a password
check's is (``oauthgw.upstream.client``):

- accepted: the refresh goes on; a refresh token in the answer replaces the kept one;
- rejected: ``invalid_grant``, and the whole family is revoked at once (its live
  access token too) and the session deleted; the audit says ``session_rejected``;
- no clear answer (down, slow, 5xx, breaker open, server disabled): 503
  ``temporarily_unavailable``, nothing rotated, the refresh token still good for a
  later try; unless the last successful answer is younger than the server's grace
  (``UPSTREAM_REVERIFY_GRACE``), when the refresh is served and the audit says
  ``issued_on_grace``.

A re-verification counts against the login limits as a password check of that
resource owner from that address does, and goes through the server's circuit
breaker, through the same ``oauthgw.issuing.upstream_checks`` as a login.

**No upstream refresh token.** A session whose login answer carried none cannot
be re-verified. Under ``always`` or ``N`` it may refresh for as long as the server
vouched for the login: until its access token would have expired (the answer's
``expires_in``), else for N seconds (``N``), else not at all (``always``: the login
gets no refresh token). ``refresh_token_expires_in`` says so.

**Maximum age.** However often it is refreshed, a session ends ``session_max_age``
seconds after its login (the client's, else ``SESSION_MAX_AGE``); then the user
logs in again. A password login's session may also end at its client's
password-grant sunset (``oauthgw.issuing.password_sunset``).

The upstream is asked before the refresh grant's transaction begins
(``oauthgw.issuing.refresh``): on SQLite that transaction holds the database's
write lock, which no request may keep through an upstream call. Concurrent
refreshes of one session do not ask the server twice: the first marks the
session (``verifying_until``) and the others lose the race as they would lose it
for the rotation (``invalid_grant``, nothing revoked). A server that rotates its
refresh tokens would otherwise take the second call for a replay.
"""

import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections, router, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model

from oauthgw import grants
from oauthgw.conf import gateway_settings
from oauthgw.credentials import token_checksum
from oauthgw.encryption import encrypt
from oauthgw.exceptions import CircuitOpen, DecryptionError, UpstreamUnavailable
from oauthgw.issuing import lifetimes
from oauthgw.issuing.password_sunset import session_sunset
from oauthgw.issuing.upstream_checks import upstream_check
from oauthgw.models import ResourceOwner, UpstreamSession
from oauthgw.observability.fingerprints import fingerprint
from oauthgw.signals import ISSUED_ON_GRACE, OWNER_BLOCKED, SESSION_EXPIRED, SESSION_REJECTED, token_outcome_note
from oauthgw.upstream.client import refresh_upstream
from oauthgw.upstream.servers import authorization_server_for, reverification_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpstreamLogin:
    """What the authorization server said at a password login, carried to where the new family is saved.

    Never logged: ``refresh_token`` is the server's secret (not in ``repr``).
    """

    user: object
    authorization_server: str
    verified: datetime
    refresh_token: str | None = field(default=None, repr=False)
    expires_in: int | None = None
    reverify_after: int | None = None


# --- Starting a session ------------------------------------------------------------------


def _unverifiable_until(*, since: datetime, upstream_expires: datetime | None, after: int | None) -> datetime | None:
    """How long a session without an upstream refresh token may refresh; None: no limit (``never``)."""
    if after is None:
        return None
    if upstream_expires is not None:
        return upstream_expires
    # ``always``: nothing beyond the login; ``N``: the login's answer holds N seconds.
    return since + timedelta(seconds=after)


def login_session_ends(*, client, login: UpstreamLogin, grant_type: str, now: datetime) -> datetime | None:
    """When a session started by ``login`` now must end: its maximum age, what the upstream vouched for,
    or its client's password-grant sunset (``password_sunset.session_sunset``)."""
    ends = _earliest(_max_age_end(client, started=now), session_sunset(client=client, grant_type=grant_type))
    if login.refresh_token is None:
        upstream_expires = now + timedelta(seconds=login.expires_in) if login.expires_in else None
        unverifiable = _unverifiable_until(since=now, upstream_expires=upstream_expires, after=login.reverify_after)
        ends = _earliest(ends, unverifiable)
    return ends


# Column order of the INSERT below.
_STARTED_FIELDS = (
    "family",
    "client",
    "user",
    "grant_type",
    "authorization_server",
    "encrypted_refresh_token",
    "upstream_expires",
    "started",
    "last_verified",
    "last_outcome",
)


@functools.cache
def _start_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    meta = UpstreamSession._meta
    columns = ", ".join(quote(meta.get_field(name).column) for name in _STARTED_FIELDS)
    placeholders = ", ".join(["%s"] * len(_STARTED_FIELDS))
    # Identifiers from the model, quoted; every value is a parameter.
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def session_start(*, family, client, user, grant_type: str, login: UpstreamLogin | None, started: datetime) -> None:
    """Record the session a login started: its family, its grant, and the upstream's refresh token if it gave one.

    One INSERT with SQL rather than the ORM, as the audit trail's: it is on every
    password login, and the model instance and the ORM's compiler cost more CPU
    than the statement.
    """
    upstream_expires = None
    ciphertext = ""
    if login is not None and login.refresh_token:
        ciphertext = encrypt(login.refresh_token)
    elif login is not None and login.expires_in:
        upstream_expires = started + timedelta(seconds=login.expires_in)
    alias = router.db_for_write(UpstreamSession)
    connection = connections[alias]
    adapt = connection.ops.adapt_datetimefield_value
    values = [
        UpstreamSession._meta.get_field("family").get_db_prep_value(family, connection),
        client.pk,
        user.pk,
        grant_type,
        login.authorization_server if login else "",
        ciphertext,
        adapt(upstream_expires),
        adapt(started),
        adapt(login.verified if login else started),
        UpstreamSession.LOGIN,
    ]
    # As the ORM does: inside the grant's transaction, a failed INSERT marks it for rollback.
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(_start_sql(alias), values)


# --- Re-verifying at refresh -------------------------------------------------------------


@dataclass(frozen=True)
class SessionCheck:
    """What re-verification decided before a refresh claims its token.

    ``refused``: answer invalid_grant (the upstream rejected the session, it ran
    out of what the upstream vouched for, or a concurrent request is asking).
    ``reverifying``: the client's server re-verifies, so a live family without a
    session cannot refresh. ``ends``: when the session must end for want of an
    upstream refresh token (None: no such limit).
    """

    refused: bool = False
    reverifying: bool = False
    ends: datetime | None = None


NOT_REVERIFYING = SessionCheck()


def _session_of(token: str, client):
    """The session of the live refresh token ``token``, if it is this client's: one query, with its owner."""
    live_family = (
        get_refresh_token_model()
        .objects.filter(token_checksum=token_checksum(token), revoked__isnull=True)
        .values("token_family")[:1]
    )
    # Another client's token asks nothing upstream: the claim refuses it.
    sessions = UpstreamSession.objects.select_related("user__resource_owner")
    return sessions.filter(family=Subquery(live_family), client=client).first()


def session_reverify(*, token: str, client, client_ip: str) -> SessionCheck:
    """Ask the upstream about the session of refresh token ``token`` if its server says it is time.

    Raises ``UpstreamUnavailable`` when the upstream gives no clear answer
    outside the grace, and ``Throttled`` when this resource owner failed too often
    from this address. Under ``never`` it costs no query at all.
    """
    policy = reverification_for(client)
    if policy.after is None:
        return NOT_REVERIFYING
    session = _session_of(token, client)
    if session is None:
        # An unknown or used token (the claim tells which), or a family without a session.
        return SessionCheck(reverifying=True)
    now = timezone.now()
    sunset = session_sunset(client=client, grant_type=session.grant_type)
    if sunset is not None and now >= sunset:
        # Ended anyway once the token is claimed: the upstream need not be asked.
        return _end(session, reason="its client's password grant reached its sunset")
    if session.authorization_server != policy.server:
        # The client moved to another server since the login: the kept token must not go there.
        return _end(session, reason="vouched for by another authorization server")
    if not session.has_upstream_refresh_token:
        ends = _unverifiable_until(
            since=session.last_verified, upstream_expires=session.upstream_expires, after=policy.after
        )
        if now >= ends:
            return _end(session, reason="beyond what the authorization server vouched for without a refresh token")
        return SessionCheck(reverifying=True, ends=ends)
    if now - session.last_verified < timedelta(seconds=policy.after):
        return SessionCheck(reverifying=True)
    if not _claim(session, now=now, timeout=policy.timeout):
        return SessionCheck(refused=True, reverifying=True)
    try:
        return _ask_upstream(session, client=client, client_ip=client_ip, grace=policy.grace)
    except UpstreamUnavailable:
        raise  # recorded as an outage, the mark freed with it
    except BaseException:
        # Every answer records itself and frees the mark; a throttled or failed request must free it too.
        UpstreamSession.objects.filter(pk=session.pk).update(verifying_until=None)
        raise


def _claim(session: UpstreamSession, *, now: datetime, timeout: float) -> bool:
    """Mark the session as being asked about; False if another request is, or just did."""
    # Longer than the call may take (its deadline is the server's timeout); a worker that died frees it then.
    until = now + timedelta(seconds=timeout + 2)
    free = Q(verifying_until__isnull=True) | Q(verifying_until__lt=now)
    # ``last_verified`` as read: a request that verified meanwhile may have replaced the kept token.
    return bool(
        UpstreamSession.objects.filter(free, pk=session.pk, last_verified=session.last_verified).update(
            verifying_until=until
        )
    )


def _owner_name(session: UpstreamSession) -> str:
    owner = getattr(session.user, "resource_owner", None)
    return (owner.username or owner.subject) if owner is not None else session.user.get_username()


def _ask_upstream(session: UpstreamSession, *, client, client_ip: str, grace: int) -> SessionCheck:
    username = _owner_name(session)
    try:
        server = authorization_server_for(client)
        refresh_token = _kept_token(session)
    except UpstreamUnavailable as exc:
        return _outage(session, exc, client=client, grace=grace)
    try:
        verdict = upstream_check(
            server=server,
            username=username,
            client=client,
            client_ip=client_ip,
            ask=lambda: refresh_upstream(
                server,
                refresh_token=refresh_token,
                client_ip=client_ip,
                max_concurrency=gateway_settings.UPSTREAM_MAX_CONCURRENCY,
            ),
        )
    except CircuitOpen as exc:
        return _outage(session, exc, client=client, grace=grace)
    except UpstreamUnavailable as exc:
        logger.warning(
            "authorization server %s unavailable to re-verify session %s (client %s): %s",
            server.name,
            _short(session),
            client.client_id,
            exc,
        )
        return _outage(session, exc, client=client, grace=grace)
    if not verdict.accepted:
        logger.info(
            "authorization server %s no longer vouches for session %s of user %s (client %s, HTTP %s): revoked",
            server.name,
            _short(session),
            fingerprint(username),
            client.client_id,
            verdict.status,
        )
        token_outcome_note(SESSION_REJECTED, username=username)
        session_end(session=session)
        return SessionCheck(refused=True, reverifying=True)
    _record(session, UpstreamSession.ACCEPTED, verified=timezone.now(), refresh_token=verdict.refresh_token)
    return SessionCheck(reverifying=True)


def _kept_token(session: UpstreamSession) -> str:
    try:
        return session.refresh_token
    except DecryptionError as exc:
        # The gateway's own fault (a lost key), not the user's: an outage, never a rejection.
        logger.error(
            "session %s: its upstream refresh token cannot be decrypted (%s); its refreshes get 503 until "
            "OAUTHGW_ENCRYPTION_KEYS is fixed",
            _short(session),
            exc,
        )
        raise UpstreamUnavailable("secret_unreadable", "the kept upstream refresh token cannot be decrypted") from exc


def _outage(session: UpstreamSession, exc: UpstreamUnavailable, *, client, grace: int) -> SessionCheck:
    """Serve the refresh on grace if the last successful answer is recent enough; else raise ``exc``."""
    if grace and timezone.now() - session.last_verified < timedelta(seconds=grace):
        logger.info("session %s (client %s) refreshed on grace: %s", _short(session), client.client_id, exc.kind)
        token_outcome_note(ISSUED_ON_GRACE, username=_owner_name(session))
        _record(session, UpstreamSession.GRACE)
        return SessionCheck(reverifying=True)
    _record(session, UpstreamSession.UNAVAILABLE)
    raise exc


def _record(session: UpstreamSession, outcome: str, *, verified: datetime | None = None, refresh_token=None) -> None:
    changes = {"last_outcome": outcome, "verifying_until": None}
    if verified is not None:
        changes["last_verified"] = verified
    if refresh_token:
        session.refresh_token = refresh_token
        changes["encrypted_refresh_token"] = session.encrypted_refresh_token
    UpstreamSession.objects.filter(pk=session.pk).update(**changes)


def _end(session: UpstreamSession, *, reason: str) -> SessionCheck:
    logger.info("session %s ended: %s", _short(session), reason)
    token_outcome_note(SESSION_EXPIRED, username=_owner_name(session))
    session_end(session=session)
    return SessionCheck(refused=True, reverifying=True)


def _short(session: UpstreamSession) -> str:
    # The family id is no secret (it opens nothing), but its start is enough to find it.
    return str(session.family)[:8]


# --- The claimed token ---------------------------------------------------------------------


def _owner_name_of(user_id: int) -> str:
    # Only on the way to a refusal: the audit trail says whose session it was.
    owner = ResourceOwner.objects.filter(user_id=user_id).values_list("username", "subject").first()
    return (owner[0] or owner[1]) if owner else ""


def _earliest(first: datetime | None, second: datetime | None) -> datetime | None:
    return min((moment for moment in (first, second) if moment is not None), default=None)


def _max_age_end(client, *, started: datetime | None) -> datetime | None:
    seconds = lifetimes.session_max_age_seconds(client)
    return started + timedelta(seconds=seconds) if seconds and started is not None else None


@functools.cache
def _claimed_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    sessions, owners = UpstreamSession._meta, ResourceOwner._meta

    def column(meta, name: str) -> str:
        return quote(meta.get_field(name).column)

    # Only identifiers from the models' metadata are interpolated; values are parameters.
    return (
        f"SELECT (SELECT {column(sessions, 'started')} FROM {quote(sessions.db_table)} "  # noqa: S608
        f"WHERE {column(sessions, 'family')} = %s), "
        f"(SELECT {column(owners, 'blocked')} FROM {quote(owners.db_table)} WHERE {column(owners, 'user')} = %s)"
    )


def _claimed_session(family, user_id: int) -> tuple[datetime | None, bool]:
    """(the session's start, whether its owner is blocked) in one small query, without the ORM's compilation.

    On every refresh: as subqueries of the claim's ORM query they cost that query
    more CPU than this whole round trip.
    """
    alias = router.db_for_read(UpstreamSession)
    connection = connections[alias]
    family_value = UpstreamSession._meta.get_field("family").get_db_prep_value(family, connection)
    with connection.cursor() as cursor:
        cursor.execute(_claimed_sql(alias), [family_value, user_id])
        started, blocked = cursor.fetchone()
    # SQLite hands datetimes back as text; its backend's own converter reads them (PostgreSQL needs none).
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is not None:
        started = convert(started, None, connection)
    return started, bool(blocked)


def _sunset_end(client, family) -> datetime | None:
    """The password-grant sunset of the session, if it ends there: a query only for a client with a sunset."""
    if session_sunset(client=client, grant_type=grants.PASSWORD) is None:
        return None
    grant_type = UpstreamSession.objects.filter(family=family).values_list("grant_type", flat=True).first()
    return session_sunset(client=client, grant_type=grant_type or "")


def claimed_session_ends(*, check: SessionCheck, client, user_id: int, family) -> datetime | bool | None:
    """When the claimed token's session ends, or False if it may not refresh at all.

    Refuses a session whose owner is blocked (a refresh that raced the block),
    past its maximum age, beyond what the upstream vouched for or, under
    ``PASSWORD_GRANT_SUNSET_ENDS_SESSIONS``, a password login's past its client's
    sunset, and a family without a session under re-verification. A session that may not go on is
    ended here: its family revoked, the audit told why.
    """
    started, owner_blocked = _claimed_session(family, user_id)
    if owner_blocked:
        token_outcome_note(OWNER_BLOCKED, username=_owner_name_of(user_id))
        session_end(family=family)
        return False
    if started is None:
        # A family without a session (none is made for it any more): no maximum
        # age is known, and under re-verification nothing can vouch for it.
        return False if check.reverifying else None
    ends = _earliest(_max_age_end(client, started=started), check.ends)
    ends = _earliest(ends, _sunset_end(client, family))
    if ends is not None and timezone.now() >= ends:
        logger.info("session %s reached its end (client %s)", str(family)[:8], client.client_id)
        token_outcome_note(SESSION_EXPIRED, username=_owner_name_of(user_id))
        session_end(family=family)
        return False
    return ends


# --- Ending sessions; the admin's view of them ----------------------------------------------


def session_end(*, session: UpstreamSession | None = None, family=None) -> None:
    """Revoke the family of a session (its live access token stops at once) and forget the session."""
    family = session.family if session is not None else family
    with transaction.atomic():
        get_refresh_token_model().revoke_family(family)
        UpstreamSession.objects.filter(family=family).delete()


def sessions_live_for_user(*, user) -> list[UpstreamSession]:
    """The owner's sessions whose family has a live refresh token, newest first, with ``last_used``."""
    live = get_refresh_token_model().objects.filter(token_family=OuterRef("family"), revoked__isnull=True)
    return list(
        UpstreamSession.objects.filter(user=user)
        .annotate(live=Exists(live), last_used=Subquery(live.order_by("-created").values("created")[:1]))
        .filter(live=True)
        .select_related("client")
        .order_by("-started")
    )


def sessions_purge(*, batch_size: int = 5000) -> int:
    """Delete the sessions whose family has no live refresh token left (and their upstream tokens).

    In batches (short transactions): on SQLite every delete holds the write lock
    that token requests wait for.
    """
    live = get_refresh_token_model().objects.filter(token_family=OuterRef("family"), revoked__isnull=True)
    ended = UpstreamSession.objects.filter(~Exists(live))
    deleted = 0
    while batch := list(ended.values_list("pk", flat=True)[:batch_size]):
        count, _ = UpstreamSession.objects.filter(pk__in=batch).delete()
        deleted += count
    return deleted
