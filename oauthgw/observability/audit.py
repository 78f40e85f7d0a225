"""The audit trail of the token endpoint: one AuditEvent per request, or per source for unauthenticated failures.

The token view announces every outcome (``oauthgw.signals``); the receiver here
records it. What is recorded is what the outcome carries: the username as the
client sent it, never a password, secret or token.

A request whose client authenticated, and every success, gets a row of its own.
A failure of a request whose client did not authenticate (an unknown client id,
a wrong secret, a malformed request refused before any lookup) costs its sender
nothing to make, so one row each would let a single source grow the table
without bound: such failures are counted instead, in one row per source (the end
user's address, an IPv6 client's /64), outcome, status, grant and interval of
``AUDIT_AGGREGATE_SECONDS``, with the number of requests in ``count``. The row
keeps the first request's time, address and latency, and the client id only when
it names a registered client (so a client whose secret went stale still shows
on its own page); the username and any other client id, which the sender chose,
are not kept. The row is written with one atomic upsert, so every worker process
and instance adds to the same row, with or without Redis.
"""

import functools
import hashlib
import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from oauthgw import grants
from oauthgw.conf import gateway_settings
from oauthgw.end_user_address import address_block
from oauthgw.models import AuditEvent
from oauthgw.signals import ACCEPTED, TokenOutcome, token_request_finished

logger = logging.getLogger(__name__)

PURGE_BATCH_SIZE = 5000


# Column order of the INSERTs below.
_FIELDS = ("time", "client_id", "grant_type", "username", "outcome", "status", "client_ip", "latency_ms")


def _clip(value: str, field: str) -> str:
    return (value or "")[: AuditEvent._meta.get_field(field).max_length]


@functools.cache
def _sql(alias: str) -> dict[str, str]:
    quote = connections[alias].ops.quote_name
    table = quote(AuditEvent._meta.db_table)
    column = {name: quote(AuditEvent._meta.get_field(name).column) for name in (*_FIELDS, "count", "aggregate_key")}
    fields = ", ".join(column[name] for name in _FIELDS)
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    # Identifiers from the model, quoted; every value is a parameter.
    return {
        "insert": f"INSERT INTO {table} ({fields}, {column['count']}) VALUES ({placeholders}, 1)",  # noqa: S608
        "count": (
            f"INSERT INTO {table} ({fields}, {column['count']}, {column['aggregate_key']}) "  # noqa: S608
            f"VALUES ({placeholders}, 1, %s) ON CONFLICT ({column['aggregate_key']}) "
            f"DO UPDATE SET {column['count']} = {table}.{column['count']} + 1"
        ),
    }


def _counted(outcome: TokenOutcome) -> bool:
    """Whether this request's event is counted with its source's rather than written on its own."""
    return outcome.outcome not in ACCEPTED and not outcome.client.authenticated


def _aggregate_key(outcome: TokenOutcome, *, client_id: str, grant_type: str, now: datetime) -> str:
    interval = int(now.timestamp()) // max(1, gateway_settings.AUDIT_AGGREGATE_SECONDS)
    source = address_block(outcome.client_ip)
    parts = (str(interval), source, outcome.outcome, str(outcome.status), client_id, grant_type)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def audit_event_record(*, outcome: TokenOutcome) -> None:
    """Write the event of one token request, or count it with its source's: one statement, committed on its own.

    Written with SQL rather than ``AuditEvent.objects.create()``: on every token
    request the model instance and the ORM's INSERT compiler cost about twice the
    CPU of the statement itself, and nothing reads the instance back.
    """
    using = router.db_for_write(AuditEvent)
    connection = connections[using]
    now = timezone.now()
    client_id, grant_type, username = outcome.client_id, outcome.grant_type, outcome.username
    key = None
    if _counted(outcome):
        client_id, username = outcome.client.registered_id, ""
        grant_type = grant_type if grant_type in grants.SERVED else ""
        key = _aggregate_key(outcome, client_id=client_id, grant_type=grant_type, now=now)
    values = [
        connection.ops.adapt_datetimefield_value(now),
        _clip(client_id, "client_id"),
        _clip(grant_type, "grant_type"),
        _clip(username, "username"),
        _clip(outcome.outcome, "outcome"),
        outcome.status,
        _clip(outcome.client_ip, "client_ip"),
        max(0, round(outcome.latency * 1000)),
    ]
    sql = _sql(using)["insert" if key is None else "count"]
    # As the ORM does: inside a caller's transaction, a failed INSERT marks it for rollback.
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, values if key is None else [*values, key])


def audit_events_purge(*, older_than: datetime, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete events before ``older_than`` in batches (short transactions); return how many."""
    deleted = 0
    while True:
        batch = list(AuditEvent.objects.filter(time__lt=older_than).values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        count, _ = AuditEvent.objects.filter(pk__in=batch).delete()
        deleted += count


def audit_retention_cutoff(*, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=gateway_settings.AUDIT_RETENTION_DAYS)


def _record_token_outcome(sender, *, outcome: TokenOutcome, **kwargs) -> None:
    # The response is already decided (a token may have been issued): a broken
    # audit table is logged loudly but does not take the token away again.
    try:
        audit_event_record(outcome=outcome)
    except DatabaseError as exc:
        # One line, no traceback: the cause is the database, not this code.
        logger.error(
            "could not record the audit event of a %s token request (%s: %s)",
            outcome.outcome,
            type(exc).__name__,
            exc,
        )


def connect_receivers() -> None:
    token_request_finished.connect(_record_token_outcome, dispatch_uid="oauthgw.audit.record_token_outcome")
