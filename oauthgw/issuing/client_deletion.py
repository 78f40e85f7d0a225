"""Deleting a client for good: its tokens and sessions go at once, its audit trail stays and keeps its name.

One transaction, holding the client's row: its sessions (with the upstream
refresh tokens kept for them), access and refresh tokens, and the client. Its
credentials stop working from the next request in every process, because every
token request reads the client from the database (``clients.client_load``).
Its live access tokens are deleted through the ORM, whose deletion signals
turn their bearer-cache entries into tombstones in Redis, which also drops
every process's near copy (``oauthgw.caching.bearer_cache``); without Redis
every bearer check reads the database, which no longer has them.

Everything else it had goes by one statement per table, not row by row: a
client that was busy for years may have millions of expired access tokens and
revoked refresh tokens (kept as tombstones for replay detection), which need no
signal. The audit events stay, with the client's id; its name is remembered in
a ``DeletedClient`` row so the trail can still show it.
"""

from dataclasses import dataclass, fields

from django.db import connections, router, transaction
from django.db.models import Count, Q
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.models import Application, AuditEvent, DeletedClient, UpstreamSession


@dataclass(frozen=True)
class ClientHoldings:
    """What one or more clients have: what deleting them takes away, and the audit events that stay."""

    clients: int = 0
    access_tokens: int = 0
    expired_access_tokens: int = 0
    # Not revoked: a client may still use them.
    refresh_tokens: int = 0
    # Revoked, kept for a while to recognise a replay.
    revoked_refresh_tokens: int = 0
    sessions: int = 0
    # Sessions with the authorization server's refresh token kept for them.
    upstream_refresh_tokens: int = 0
    # These stay.
    audit_events: int = 0

    def __add__(self, other: "ClientHoldings") -> "ClientHoldings":
        return ClientHoldings(
            **{field.name: getattr(self, field.name) + getattr(other, field.name) for field in fields(self)}
        )


NOTHING_HELD = ClientHoldings()


def client_holdings(*, client: Application) -> ClientHoldings:
    """What ``client`` has now, counted as ``client_delete`` would delete it: to show before asking."""
    now = timezone.now()
    access = get_access_token_model().objects.filter(application=client)
    refresh = get_refresh_token_model().objects.filter(application=client)
    sessions = UpstreamSession.objects.filter(client=client).aggregate(
        total=Count("pk"), kept=Count("pk", filter=~Q(encrypted_refresh_token=""))
    )
    access_counts = access.aggregate(live=Count("pk", filter=Q(expires__gt=now)), total=Count("pk"))
    refresh_counts = refresh.aggregate(live=Count("pk", filter=Q(revoked__isnull=True)), total=Count("pk"))
    return ClientHoldings(
        clients=1,
        access_tokens=access_counts["live"],
        expired_access_tokens=access_counts["total"] - access_counts["live"],
        refresh_tokens=refresh_counts["live"],
        revoked_refresh_tokens=refresh_counts["total"] - refresh_counts["live"],
        sessions=sessions["total"],
        upstream_refresh_tokens=sessions["kept"],
        audit_events=AuditEvent.objects.filter(client_id=client.client_id).count(),
    )


@transaction.atomic
def client_delete(*, client: Application) -> ClientHoldings | None:
    """Delete ``client`` with its tokens and sessions; return what it had, or None if it was already gone.

    Safe to call twice at once: the second call waits for the first's row lock
    and then finds no client.
    """
    locked = Application.objects.select_for_update().filter(pk=client.pk).first()
    if locked is None:
        return None
    held = client_holdings(client=locked)
    DeletedClient.objects.update_or_create(
        client_id=locked.client_id, defaults={"name": locked.name, "deleted": timezone.now()}
    )
    UpstreamSession.objects.filter(client=locked).delete()
    # Row by row, for the signals that bury each one in the bearer cache; as many
    # as a lifetime's issue, since expired ones are not among them.
    get_access_token_model().objects.filter(application=locked, expires__gt=timezone.now()).delete()
    # The expired access tokens and every refresh token, which point at one
    # another: both go in this transaction, so no reference is left at commit.
    for model in (get_refresh_token_model(), get_access_token_model()):
        _delete_rows_of(model, client=locked)
    # What is left pointing at the client (none of the above any more) goes with it.
    locked.delete()
    return held


def _delete_rows_of(model, *, client: Application) -> None:
    """``DELETE FROM <model's table> WHERE application_id = <client>``: one statement, no signal."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    column = quote(model._meta.get_field("application").column)
    # Identifiers from the model, quoted; the value is a parameter.
    sql = f"DELETE FROM {quote(model._meta.db_table)} WHERE {column} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [client.pk])
