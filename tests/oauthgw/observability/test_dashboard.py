"""The admin index's 24-hour summary, read from the audit trail."""

from datetime import timedelta

import pytest
from django.utils import timezone

from oauthgw.models import AuditEvent
from oauthgw.observability.dashboard import dashboard_summary

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(minute=30, second=0, microsecond=0)


def event(outcome: str, *, hours_ago: float, status: int = 400, client_id: str = "") -> AuditEvent:
    return AuditEvent(
        time=NOW - timedelta(hours=hours_ago), outcome=outcome, status=status, latency_ms=3, client_id=client_id
    )


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


def test_throttled_requests_are_failures_counted_apart_per_hour(trail):
    hours = dashboard_summary(now=NOW).hours

    assert sum(hour.throttled for hour in hours) == 1
    [throttled_hour] = [hour for hour in hours if hour.throttled]
    assert (throttled_hour.failed, throttled_hour.throttled) == (1, 1)
    assert dashboard_summary(now=NOW).chart_data()["hours"][-1] == {
        "start": NOW.replace(minute=0).isoformat(),
        "issued": 2,
        "failed": 0,
        "throttled": 0,
    }


def test_a_clients_summary_counts_the_requests_that_named_it_only(trail):
    AuditEvent.objects.bulk_create(
        [
            event("issued", hours_ago=1, status=200, client_id="mobile"),
            event("invalid_grant", hours_ago=2, status=401, client_id="mobile"),
            event("throttled", hours_ago=2, status=429, client_id="mobile"),
            event("issued", hours_ago=26, status=200, client_id="mobile"),
        ]
    )

    summary = dashboard_summary(now=NOW, client_id="mobile")

    assert (summary.issued, summary.failed, summary.throttled) == (1, 2, 1)
    assert sum(hour.issued for hour in summary.hours) == 1


def test_hours_are_utc_hours_in_any_time_zone(trail, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30: local hours start at :30 UTC

    hours = dashboard_summary(now=NOW).hours

    assert hours[-1].start == NOW.replace(minute=0)
    assert sum(hour.issued for hour in hours) == 3


def test_refreshes_served_on_grace_are_issued_tokens_and_the_rejected_sessions_a_reason(trail):
    AuditEvent.objects.bulk_create(
        [event("issued_on_grace", hours_ago=0.5, status=200), event("session_rejected", hours_ago=0.5, status=401)]
    )

    summary = dashboard_summary(now=NOW)

    assert (summary.issued, summary.issued_on_grace, summary.failed) == (4, 1, 6)
    assert ("session_rejected", 1) in summary.failures_by_reason
    assert sum(bucket.issued for bucket in summary.hours) == 4


def test_a_row_standing_for_many_failures_counts_them_all(trail):
    # One source's unauthenticated failures of one interval share a row (oauthgw.observability.audit).
    AuditEvent.objects.create(
        time=NOW - timedelta(minutes=10), outcome="invalid_client", status=401, latency_ms=1, count=40
    )
    AuditEvent.objects.create(
        time=NOW - timedelta(minutes=5), outcome="invalid_client", status=401, latency_ms=1, count=7, client_id="app"
    )

    summary = dashboard_summary(now=NOW)
    mine = dashboard_summary(now=NOW, client_id="app")

    assert (summary.failed, dict(summary.failures_by_reason)["invalid_client"]) == (5 + 47, 48)
    assert summary.hours[-1].failed == 47
    assert (mine.failed, mine.hours[-1].failed) == (7, 7)
