"""What the admin's dashboard shows, read from the audit trail.

The last 24 hours of the token endpoint, for the admin index (every client) and
a client's own page (``client_id``); and the clients that still have the
password grant, with their password logins per day over the last 30 days.
Requests are counted by each row's ``count``: a row may stand for many alike
failures of one source (``oauthgw.observability.audit``).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import TruncDate, TruncHour
from django.utils import timezone

from oauthgw import grants
from oauthgw.models import Application, AuditEvent, has_grant_type
from oauthgw.signals import (
    ISSUED,
    ISSUED_ON_GRACE,
    PASSWORD_GRANT_ENDED,
    SIGNED_IN,
    SUCCESSFUL,
    THROTTLED,
    UPSTREAM_UNAVAILABLE,
)

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class HourBucket:
    start: datetime
    issued: int
    # Every failure, throttled requests included; ``throttled`` is the part of it.
    failed: int
    throttled: int


@dataclass(frozen=True)
class DashboardSummary:
    since: datetime
    until: datetime
    issued: int
    failed: int
    upstream_errors: int
    # Part of ``issued``: refreshes served while the upstream could not re-verify them.
    issued_on_grace: int
    throttled: int
    # (outcome, count), most frequent first; "issued" is not a failure.
    failures_by_reason: list[tuple[str, int]]
    hours: list[HourBucket]

    @property
    def total(self) -> int:
        return self.issued + self.failed

    def chart_data(self) -> dict:
        """What the dashboard's chart script draws, JSON-ready."""
        return {
            "hours": [
                {
                    "start": bucket.start.isoformat(),
                    "issued": bucket.issued,
                    "failed": bucket.failed,
                    "throttled": bucket.throttled,
                }
                for bucket in self.hours
            ]
        }


def dashboard_summary(*, now: datetime | None = None, client_id: str | None = None) -> DashboardSummary:
    """Token-endpoint outcomes of the 24 hours before ``now``, in totals and per hour.

    With ``client_id``, only the requests that named that client.
    """
    until = now or timezone.now()
    since = until - WINDOW
    events = AuditEvent.objects.filter(time__gt=since, time__lte=until)
    if client_id is not None:
        events = events.filter(client_id=client_id)
    by_outcome = dict(events.values_list("outcome").annotate(total=Sum("count")).values_list("outcome", "total"))
    issued_on_grace = by_outcome.pop(ISSUED_ON_GRACE, 0)
    issued = by_outcome.pop(ISSUED, 0) + issued_on_grace
    # A sign-in at the login page is neither: its code's exchange is what issues.
    by_outcome.pop(SIGNED_IN, None)
    failures = sorted(by_outcome.items(), key=lambda item: (-item[1], item[0]))

    # [issued, failed, throttled] per hour. Hours are UTC hours, as the chart says:
    # in a zone with a half-hour offset local hours would not line up with them.
    per_hour: dict[datetime, list[int]] = {}
    rows = (
        events.annotate(hour=TruncHour("time", tzinfo=UTC))
        .values("hour", "outcome")
        .annotate(total=Sum("count"))
        .values_list("hour", "outcome", "total")
    )
    for hour, outcome, count in rows:
        if outcome == SIGNED_IN:
            continue
        counts = per_hour.setdefault(hour, [0, 0, 0])
        counts[0 if outcome in SUCCESSFUL else 1] += count
        if outcome == THROTTLED:
            counts[2] += count
    # 24 whole or current hours ending with this one; the totals above also count
    # the minutes of the window before the first of them.
    first_hour = until.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = []
    for offset in range(24):
        start = first_hour + timedelta(hours=offset)
        issued_count, failed_count, throttled_count = per_hour.get(start, (0, 0, 0))
        hours.append(HourBucket(start=start, issued=issued_count, failed=failed_count, throttled=throttled_count))
    return DashboardSummary(
        since=since,
        until=until,
        issued=issued,
        issued_on_grace=issued_on_grace,
        failed=sum(count for _, count in failures),
        upstream_errors=by_outcome.get(UPSTREAM_UNAVAILABLE, 0),
        throttled=by_outcome.get(THROTTLED, 0),
        failures_by_reason=failures,
        hours=hours,
    )


# --- The password grant's last 30 days ------------------------------------------------------------

PASSWORD_GRANT_DAYS = 30
# The most clients the admin index lists; the others are a link away.
PASSWORD_GRANT_CLIENTS_SHOWN = 20


@dataclass(frozen=True)
class PasswordGrantClient:
    """One client that still has the password grant: its logins per UTC day, its last one, its sunset."""

    pk: int
    client_id: str
    name: str
    enabled: bool
    last_day: date | None
    sunset: datetime | None
    ended: bool
    # Successful password logins per day, oldest first, one per day of the window.
    logins: list[int]
    # Password-grant requests refused because the sunset had passed, over the window.
    refused: int
    last_login: datetime | None

    @property
    def total(self) -> int:
        return sum(self.logins)


@dataclass(frozen=True)
class PasswordGrantUsage:
    # The UTC days of the window, oldest first; the last is today (so far).
    days: list[date]
    clients: list[PasswordGrantClient]
    # Clients with the password grant, including those not in ``clients`` (beyond the ones shown).
    count: int

    @property
    def first_day(self) -> date:
        return self.days[0]

    @property
    def last_day(self) -> date:
        return self.days[-1]


# Requests, not rows: a row may count many alike failures of one source.
_EVENTS = Sum("count")


def password_grant_usage(
    *, now: datetime | None = None, shown: int = PASSWORD_GRANT_CLIENTS_SHOWN
) -> PasswordGrantUsage:
    """Which clients still have the password grant, how they used it over 30 UTC days, and its sunset.

    Two queries, whatever the number of clients: the clients with their last
    successful password login (a subquery the ``(client_id, time)`` index
    answers from its end), and one grouped query over the audit trail for the
    logins per client and day and the refusals after a sunset, also through that
    index (``client_id IN (…)`` and the window).
    """
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    days = [today - timedelta(days=offset) for offset in range(PASSWORD_GRANT_DAYS - 1, -1, -1)]
    since = datetime.combine(days[0], time(0), tzinfo=UTC)
    password_logins = AuditEvent.objects.filter(grant_type=grants.PASSWORD, outcome__in=SUCCESSFUL)
    last_login = password_logins.filter(client_id=OuterRef("client_id")).order_by("-time").values("time")[:1]
    clients = list(
        Application.objects.filter(has_grant_type(grants.PASSWORD))
        .annotate(last_password_login=Subquery(last_login))
        .only("pk", "client_id", "name", "enabled", "grant_types", "password_grant_until")
    )
    counts: dict[str, dict[date, int]] = {client.client_id: {} for client in clients}
    refused: dict[str, int] = dict.fromkeys(counts, 0)
    rows = (
        AuditEvent.objects.filter(
            client_id__in=list(counts),
            time__gte=since,
            time__lte=now,
            grant_type=grants.PASSWORD,
            outcome__in=[*SUCCESSFUL, PASSWORD_GRANT_ENDED],
        )
        .annotate(day=TruncDate("time", tzinfo=UTC))
        .values("client_id", "day", "outcome")
        .annotate(events=_EVENTS)
        .values_list("client_id", "day", "outcome", "events")
    )
    for client_id, day, outcome, events in rows:
        if outcome == PASSWORD_GRANT_ENDED:
            refused[client_id] += events
        else:
            per_day = counts[client_id]
            per_day[day] = per_day.get(day, 0) + events
    usage = [
        PasswordGrantClient(
            pk=client.pk,
            client_id=client.client_id,
            name=client.name,
            enabled=client.enabled,
            last_day=client.password_grant_until,
            sunset=client.password_grant_sunset,
            ended=client.password_grant_ended(now),
            logins=[counts[client.client_id].get(day, 0) for day in days],
            refused=refused[client.client_id],
            last_login=client.last_password_login,
        )
        for client in clients
    ]
    # The busiest first: those are the ones to move; then by name.
    usage.sort(key=lambda client: (-client.total, -client.refused, client.name.lower()))
    return PasswordGrantUsage(days=days, clients=usage[:shown], count=len(usage))
