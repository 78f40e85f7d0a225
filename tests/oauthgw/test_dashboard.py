"""The admin index's 24-hour summary, read from the audit trail."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oauthgw.dashboard import dashboard_summary
from oauthgw.models import AuditEvent

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


def event(outcome: str, *, hours_ago: float, status: int = 400) -> AuditEvent:
    return AuditEvent(time=NOW - timedelta(hours=hours_ago), outcome=outcome, status=status, latency_ms=3)


@pytest.fixture
def trail():
    AuditEvent.objects.bulk_create(
        [
            event("issued", hours_ago=0.1, status=200),
            event("issued", hours_ago=0.2, status=200),
            event("issued", hours_ago=5, status=200),
            event("invalid_grant", hours_ago=1, status=401),
            event("invalid_grant", hours_ago=2, status=401),
            event("invalid_client", hours_ago=3, status=401),
            event("upstream_unavailable", hours_ago=4, status=503),
            event("throttled", hours_ago=6, status=429),
            event("issued", hours_ago=25, status=200),  # outside the window
            event("invalid_grant", hours_ago=30, status=401),
        ]
    )


def test_totals_count_the_last_24_hours_only(trail):
    summary = dashboard_summary(now=NOW)

    assert (summary.issued, summary.failed, summary.upstream_errors, summary.throttled) == (3, 5, 1, 1)


def test_failures_are_grouped_by_reason_most_frequent_first(trail):
    summary = dashboard_summary(now=NOW)

    assert summary.failures_by_reason == [
        ("invalid_grant", 2),
        ("invalid_client", 1),
        ("throttled", 1),
        ("upstream_unavailable", 1),
    ]


def test_the_chart_has_24_hours_ending_with_the_current_one(trail):
    hours = dashboard_summary(now=NOW).hours

    assert len(hours) == 24
    assert hours[-1].start == NOW.replace(minute=0)
    assert (hours[-1].issued, hours[-1].failed) == (2, 0)
    assert sum(hour.issued for hour in hours) == 3
    assert sum(hour.failed for hour in hours) == 5


def test_an_empty_trail_is_all_zeros():
    summary = dashboard_summary(now=NOW)

    assert (summary.total, summary.failures_by_reason) == (0, [])
    assert {(hour.issued, hour.failed) for hour in summary.hours} == {(0, 0)}
