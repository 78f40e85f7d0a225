"""The audit trail of the token endpoint: one AuditEvent per request.

The token view announces every outcome (``oauthgw.signals``); the receiver here
records it. What is recorded is what the outcome carries: the username as the
client sent it, never a password, secret or token.
"""

import functools
import logging
from datetime import datetime, timedelta

from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from oauthgw.conf import gateway_settings
from oauthgw.models import AuditEvent
from oauthgw.signals import TokenOutcome, token_request_finished

logger = logging.getLogger(__name__)

PURGE_BATCH_SIZE = 5000


# Column order of the INSERT below.
_FIELDS = ("time", "client_id", "grant_type", "username", "outcome", "status", "client_ip", "latency_ms")


def _clip(value: str, field: str) -> str:
    return (value or "")[: AuditEvent._meta.get_field(field).max_length]


@functools.cache
def _insert_sql(alias: str) -> str:
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(AuditEvent._meta.get_field(name).column) for name in _FIELDS)
    placeholders = ", ".join(["%s"] * len(_FIELDS))
    # Identifiers from the model, quoted; every value is a parameter.
    return f"INSERT INTO {quote(AuditEvent._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def audit_event_record(*, outcome: TokenOutcome) -> None:
    """Write the event of one token request: a single INSERT, committed on its own.

    Written with SQL rather than ``AuditEvent.objects.create()``: on every token
    request the model instance and the ORM's INSERT compiler cost about twice the
    CPU of the statement itself, and nothing reads the instance back.
    """
    using = router.db_for_write(AuditEvent)
    connection = connections[using]
    values = (
        connection.ops.adapt_datetimefield_value(timezone.now()),
        _clip(outcome.client_id, "client_id"),
        _clip(outcome.grant_type, "grant_type"),
        _clip(outcome.username, "username"),
        _clip(outcome.outcome, "outcome"),
        outcome.status,
        _clip(outcome.client_ip, "client_ip"),
        max(0, round(outcome.latency * 1000)),
    )
    # As the ORM does: inside a caller's transaction, a failed INSERT marks it for rollback.
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(_insert_sql(using), values)


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
