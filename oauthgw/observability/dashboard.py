"""The last 24 hours of the token endpoint, read from the audit trail.

For the admin index (every client) and a client's own page (``client_id``).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from oauthgw.models import AuditEvent
from oauthgw.signals import ISSUED, ISSUED_ON_GRACE, SIGNED_IN, SUCCESSFUL, THROTTLED, UPSTREAM_UNAVAILABLE

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
    by_outcome = dict(events.values_list("outcome").annotate(count=Count("pk")).values_list("outcome", "count"))
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
        .annotate(count=Count("pk"))
        .values_list("hour", "outcome", "count")
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
