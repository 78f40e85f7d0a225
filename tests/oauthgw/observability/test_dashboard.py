"""The dashboard's figures, read from the audit trail: the 24-hour summary, the password grant's 30 days."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from oauthgw.issuing.password_sunset import password_grant_until_set
from oauthgw.models import AuditEvent
from oauthgw.observability.dashboard import dashboard_summary, password_grant_usage

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


# --- The password grant's 30 days ---------------------------------------------------------------

# A fixed moment in UTC; the window is its day and the 29 before: 2031-06-16 to 2031-07-15.
MOMENT = datetime(2031, 7, 15, 10, 0, tzinfo=UTC)


def login_event(client_id: str, time: datetime, *, outcome: str = "issued", grant_type: str = "password") -> AuditEvent:
    status = {"issued": 200, "password_grant_ended": 400}.get(outcome, 401)
    return AuditEvent(
        time=time, outcome=outcome, status=status, latency_ms=3, client_id=client_id, grant_type=grant_type
    )


@pytest.fixture
def logins(make_client):
    mobile = make_client(name="mobile", client_id="mobile-id", grant_types="password refresh_token")
    web = make_client(name="web", client_id="web-id", grant_types="password")
    make_client(name="quiet", client_id="quiet-id", grant_types="refresh_token password")
    make_client(name="machine", client_id="machine-id", grant_types="client_credentials")
    AuditEvent.objects.bulk_create(
        [
            # mobile: 2 today (one at its first microsecond), 1 yesterday's last microsecond, 1 on the first day.
            login_event("mobile-id", datetime(2031, 7, 15, 0, 0, tzinfo=UTC)),
            login_event("mobile-id", datetime(2031, 7, 15, 9, 59, tzinfo=UTC)),
            login_event("mobile-id", datetime(2031, 7, 14, 23, 59, 59, 999999, tzinfo=UTC)),
            login_event("mobile-id", datetime(2031, 6, 16, 0, 0, tzinfo=UTC)),
            # Not counted: before the window, another grant, a failure.
            login_event("mobile-id", datetime(2031, 6, 15, 23, 59, 59, 999999, tzinfo=UTC)),
            login_event("mobile-id", datetime(2031, 7, 15, 8, 0, tzinfo=UTC), grant_type="refresh_token"),
            login_event("mobile-id", datetime(2031, 7, 15, 8, 0, tzinfo=UTC), outcome="invalid_grant"),
            # web: 1 on 07-01, and 2 refused after its sunset.
            login_event("web-id", datetime(2031, 7, 1, 12, 0, tzinfo=UTC)),
            login_event("web-id", datetime(2031, 7, 12, 12, 0, tzinfo=UTC), outcome="password_grant_ended"),
            login_event("web-id", datetime(2031, 7, 13, 12, 0, tzinfo=UTC), outcome="password_grant_ended"),
            # quiet: its last login long before the window.
            login_event("quiet-id", datetime(2031, 4, 2, 8, 30, tzinfo=UTC)),
            # machine: no password grant, whatever the trail says.
            login_event("machine-id", datetime(2031, 7, 15, 8, 0, tzinfo=UTC)),
        ]
    )
    password_grant_until_set(client=web, until=date(2031, 7, 11))
    return mobile, web


def test_the_password_grant_lists_the_clients_that_have_it_busiest_first(logins):
    usage = password_grant_usage(now=MOMENT)

    assert [client.name for client in usage.clients] == ["mobile", "web", "quiet"]
    assert usage.count == 3
    assert (usage.days[0], usage.days[-1], len(usage.days)) == (date(2031, 6, 16), date(2031, 7, 15), 30)


def test_successful_password_logins_are_counted_per_utc_day(logins):
    usage = password_grant_usage(now=MOMENT)
    mobile, web, quiet = usage.clients

    def by_day(client) -> dict[date, int]:
        return {day: count for day, count in zip(usage.days, client.logins, strict=True) if count}

    assert by_day(mobile) == {date(2031, 6, 16): 1, date(2031, 7, 14): 1, date(2031, 7, 15): 2}
    assert by_day(web) == {date(2031, 7, 1): 1}
    assert by_day(quiet) == {}
    assert (mobile.total, web.total, quiet.total) == (4, 1, 0)


def test_each_client_says_when_it_last_logged_in_and_where_it_stands_with_its_sunset(logins):
    mobile, web, quiet = password_grant_usage(now=MOMENT).clients

    assert mobile.last_login == datetime(2031, 7, 15, 9, 59, tzinfo=UTC)
    assert quiet.last_login == datetime(2031, 4, 2, 8, 30, tzinfo=UTC)
    assert (mobile.last_day, mobile.sunset, mobile.ended, mobile.refused) == (None, None, False, 0)
    assert (web.last_day, web.sunset, web.ended, web.refused) == (
        date(2031, 7, 11),
        datetime(2031, 7, 12, tzinfo=UTC),
        True,
        2,
    )


def test_the_figures_take_two_queries_whatever_the_number_of_clients(logins, make_client, django_assert_num_queries):
    for number in range(10):
        make_client(name=f"more-{number}", grant_types="password")

    with django_assert_num_queries(2):
        usage = password_grant_usage(now=MOMENT)

    assert usage.count == 13


def test_beyond_the_clients_shown_the_count_says_how_many_have_the_grant(logins):
    usage = password_grant_usage(now=MOMENT, shown=2)

    assert ([client.name for client in usage.clients], usage.count) == (["mobile", "web"], 3)
