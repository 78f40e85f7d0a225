"""Concurrent refreshes of one refresh token: one request wins, the others lose quietly.

Rotation makes a refresh token single-use, and the toolkit's reuse protection
revokes the whole token family when a used token comes back, taking it for a
stolen copy (RFC 9700 section 4.14.2). A client that refreshes from several
threads or tabs at once sends the same token concurrently: left alone, several
requests would rotate it, or the later ones would count as replays and revoke the
token the winner has just received, leaving the client with nothing.

A request that finds its token live locks the token's row until its transaction
ends (the token view runs the refresh grant in one transaction,
``refresh_grant_transaction``), so concurrent requests queue behind the first.
When the winner commits, the row no longer matches "not revoked": the queued
requests sent a token that was live when they came, so they are not replays.
SQLite ignores ``select_for_update``, but there the token view's transaction is
IMMEDIATE: it takes the database's write lock at BEGIN, so concurrent refreshes
queue on that lock instead.

Requests of the same burst that reach the gateway a moment later find the token
already rotated. Within the reuse interval (``REFRESH_REUSE_INTERVAL`` seconds
after the rotation, as Okta and Auth0 offer) a presentation of the rotated token
by the same client, while its family is still alive, is taken for such a
duplicate: ``invalid_grant``, and the family is left alone, so exactly one live
refresh token, the winner's, remains. After the interval, or by another client,
it is a replay: the toolkit's reuse protection revokes the whole family. The
interval is the trade-off: a thief who replays a token within it gets nothing
but is not detected.

Costs: the usual refresh, a live token nobody else holds, is one query that
locks the row and reads it with its access token and resource owner
(``SKIP LOCKED``, so it never waits). Only when that finds nothing does the
request take the path above (an ``EXISTS``, then a waiting lock or the reuse
check), so the rules for concurrent requests are the same whichever query they
pass. Rotating it then writes the new pair and retires the old one in two more
statements instead of the toolkit's nine (``refresh_token_rotate``).

Sessions (``oauthgw.issuing.sessions``) have their say twice: before the claim,
when the authorization server may have to be asked about the session again; and
once the token is claimed, when the session may have reached its maximum age or
its resource owner been blocked. The transaction begins between the two, at the
claim, not when the view opens it: on SQLite it holds the database's write lock,
and no request may hold that through an upstream call. Under ``never`` the first
costs nothing and the second one small query.

The whole rule lives here; the toolkit's validator (``oauthgw.toolkit``) only
delegates to it, and the token view opens ``refresh_grant_transaction``.
"""

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.db import connections, router, transaction
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone
from oauth2_provider.models import (
    AbstractAccessToken,
    AbstractRefreshToken,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from oauthgw.conf import gateway_settings
from oauthgw.credentials import token_checksum
from oauthgw.issuing import lifetimes, sessions

# The refresh grant whose transaction is still to begin (``refresh_grant_transaction``).
_pending_grant: ContextVar[ExitStack | None] = ContextVar("oauthgw_pending_refresh_grant", default=None)


@contextmanager
def refresh_grant_transaction() -> Iterator[None]:
    """The one transaction a refresh grant runs in: the claimed row stays locked until the new pair is saved.

    It begins when the token is claimed (``_begin``), after any upstream call, and
    ends with this block: committed, or rolled back on an exception.
    """
    with ExitStack() as stack:
        reset = _pending_grant.set(stack)
        try:
            yield
        finally:
            _pending_grant.reset(reset)


def _begin() -> None:
    stack = _pending_grant.get()
    if stack is not None:
        _pending_grant.set(None)
        stack.enter_context(transaction.atomic(using=router.db_for_write(get_refresh_token_model())))


def _rotated_moments_ago(checksum: str, client) -> bool:
    """True if this client's token was rotated within the reuse interval and its family lives on."""
    interval = gateway_settings.REFRESH_REUSE_INTERVAL
    if interval <= 0:
        return False
    model = get_refresh_token_model()
    rotated = model.objects.filter(
        token_checksum=checksum,
        application=client,
        revoked__gte=timezone.now() - timedelta(seconds=interval),
        token_family__isnull=False,
    ).values("token_family")[:1]
    # Rotation leaves a live successor in the family; a revocation or a replay leaves none.
    return model.objects.filter(token_family__in=rotated, revoked__isnull=True).exists()


@dataclass(frozen=True)
class RefreshTokenClaim:
    """What a refresh request holds after ``refresh_token_claim``.

    ``token``: the live refresh token row, locked until the transaction ends, with
    its access token and resource owner loaded. ``lost_race``: a concurrent
    request rotated the token first, or it was rotated within the reuse interval;
    answer invalid_grant and revoke nothing. Neither: the token is unknown,
    revoked, or a replay, and the toolkit's own checks (reuse protection) decide.
    """

    token: AbstractRefreshToken | None = None
    lost_race: bool = False


def _live(checksum: str):
    return get_refresh_token_model().objects.filter(token_checksum=checksum, revoked__isnull=True)


def _locked_first(live, **lock):
    # ``of=self``: PostgreSQL cannot lock the nullable side of the outer join.
    # Sliced, not ``first()``: a checksum has one live row, and compiling the
    # ORDER BY that ``first()`` adds was about a third of this query's CPU.
    rows = live.select_related("access_token", "user").select_for_update(of=("self",), **lock)[:1]
    return rows[0] if rows else None


def refresh_token_claim(*, token: str, client) -> RefreshTokenClaim:
    """Lock the live row of ``token`` for this request's transaction, or say why not."""
    checksum = token_checksum(token)
    live = _live(checksum)
    row = _locked_first(live, skip_locked=True)
    if row is not None:
        return RefreshTokenClaim(token=row)
    if not live.exists():
        return RefreshTokenClaim(lost_race=_rotated_moments_ago(checksum, client))
    # Live, but another transaction holds the row: wait for it. PostgreSQL then
    # re-checks the row, which a rotation has made no longer live.
    row = _locked_first(live)
    return RefreshTokenClaim(token=row, lost_race=row is None)


def refresh_token_validate(
    *, token: str, client, request, client_ip: str, toolkit_validate: Callable[[], bool]
) -> bool:
    """The validator's ``validate_refresh_token``: re-verify the session, claim the token, or let the toolkit judge it.

    Replaces the toolkit's read of a live token (which then reads its user and
    client lazily, and re-reads and re-locks it to save) with one locking read;
    any other token goes to the toolkit's checks (``toolkit_validate``), reuse
    protection included, unless it lost a concurrent rotation, which must not
    count as a replay: that would revoke the winner's new token. Raises what
    ``sessions.session_reverify`` raises (an upstream outage, a throttled owner).
    Sets ``request.session_ends`` (for ``refresh_token_expires_in``).
    """
    check = sessions.session_reverify(token=token, client=client, client_ip=client_ip)
    if check.refused:
        return False
    _begin()
    claim = refresh_token_claim(token=token, client=client)
    if claim.lost_race:
        return False
    valid = toolkit_validate() if claim.token is None else _live_token_valid(claim.token, token, client, request)
    if not valid:
        return False
    row = request.refresh_token_instance
    if timezone.now() >= row.created + lifetimes.refresh_token_lifetime(client):
        return False
    ends = sessions.claimed_session_ends(check=check, client=client, user_id=row.user_id, family=row.token_family)
    if ends is False:
        return False
    request.session_ends = ends
    return True


def _live_token_valid(row, token: str, client, request) -> bool:
    # The toolkit's rules for a live token (RefreshToken has no method for them).
    if row.access_token is None:
        # Its access token was deleted out of band: nothing left to refresh.
        return False
    expire_delta = refresh_token_expire_timedelta()
    if expire_delta and row.access_token.expires + expire_delta <= timezone.now():
        return False
    request.user = row.user
    # The raw token as presented: under hashed storage the row's column is blank.
    request.refresh_token = token
    request.refresh_token_instance = row
    request.claimed_refresh_token = row
    return row.application_id == client.pk


def refresh_token_rotate(*, validator, token: dict, request) -> bool:
    """Save the pair of a rotation this request claimed; False leaves the save to the toolkit.

    The toolkit would read and lock the old token and its access token again and
    revoke them in a savepoint, nine statements for these two; here the claimed
    row (``refresh_token_validate``) is retired with one UPDATE and one DELETE.
    ``validator`` is the toolkit validator, whose row-writing methods are reused.
    """
    previous = getattr(request, "claimed_refresh_token", None)
    if previous is None or "refresh_token" not in token or not validator.rotate_refresh_token(request):
        return False
    if "scope" not in token:
        raise errors.FatalClientError("Failed to renew access token: missing scope")
    validator._check_and_set_request_resource(request)
    expires = timezone.now() + timedelta(seconds=token.get("expires_in", oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS))
    access_token = validator._create_access_token(expires, request, token, source_refresh_token=previous)
    validator._create_refresh_token(request, token["refresh_token"], access_token, previous)
    _retire(previous)
    return True


def _retire(refresh_token: AbstractRefreshToken) -> None:
    """Revoke ``refresh_token`` and delete its access token: the end state of ``RefreshToken.revoke()``.

    The caller holds the row's lock in the current transaction and has read
    ``refresh_token.access_token``; the instance is updated to match the row. The
    delete signals are sent as Django would (the bearer cache listens to them).
    """
    access_token = refresh_token.access_token
    now = timezone.now()
    type(refresh_token).objects.filter(pk=refresh_token.pk).update(revoked=now, updated=now, access_token=None)
    refresh_token.revoked = refresh_token.updated = now
    refresh_token.access_token = None
    if access_token is not None:
        _access_token_delete(access_token)


def _access_token_delete(access_token: AbstractAccessToken) -> None:
    # Model.delete() would first null the refresh token's pointer to this row,
    # which the UPDATE above has done; a refresh token is the only row that
    # refers to an access token (tests/oauthgw/issuing/test_refresh.py checks).
    model = type(access_token)
    using = router.db_for_write(model, instance=access_token)
    connection = connections[using]
    pre_delete.send(sender=model, instance=access_token, using=using, origin=access_token)
    quote = connection.ops.quote_name
    # Identifiers from the model, quoted; the value is a parameter.
    sql = f"DELETE FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [access_token.pk])
        deleted = cursor.rowcount
    if deleted:
        # Zero rows: whoever deleted the row first sent the signal.
        post_delete.send(sender=model, instance=access_token, using=using, origin=access_token)
