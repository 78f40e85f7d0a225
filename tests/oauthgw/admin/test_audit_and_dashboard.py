"""The audit list (read-only, filterable), the admin index's 24-hour summary and its password grant's 30 days."""

import html
import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from oauthgw.admin.audit import ClientFilter
from oauthgw.admin.display import datetime_display
from oauthgw.issuing.password_sunset import password_grant_until_set
from oauthgw.models import AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/admin/oauthgw/auditevent/"


@pytest.fixture
def trail(make_client, client_credentials_token):
    app = make_client(name="machine")
    client_credentials_token(app.client_id, app.raw_secret)
    client_credentials_token(app.client_id, "a-wrong-secret")
    client_credentials_token("no-such-client", "whatever")
    return app


def test_every_token_request_is_listed(admin_client, trail):
    response = admin_client.get(AUDIT)

    outcomes = sorted(event.outcome for event in response.context["cl"].result_list)
    assert outcomes == ["invalid_client", "invalid_client", "issued"]


def test_the_list_filters_by_outcome_and_client(admin_client, trail):
    by_outcome = admin_client.get(AUDIT, {"outcome": "issued"}).context["cl"].result_list
    by_client = admin_client.get(AUDIT, {"client_id": trail.client_id}).context["cl"].result_list

    assert [event.outcome for event in by_outcome] == ["issued"]
    assert {event.client_id for event in by_client} == {trail.client_id}
    assert len(by_client) == 2


def test_the_client_filter_offers_registered_clients_only(admin_client, trail):
    response = admin_client.get(AUDIT)

    [client_filter] = [spec for spec in response.context["cl"].filter_specs if isinstance(spec, ClientFilter)]
    assert [value for value, _ in client_filter.lookup_choices] == [trail.client_id]


def test_events_cannot_be_added_changed_or_deleted(admin_client, trail):
    event = AuditEvent.objects.first()

    assert admin_client.get(f"{AUDIT}add/").status_code == 403
    page = admin_client.get(f"{AUDIT}{event.pk}/change/").content.decode()
    assert "<h1>View audit event</h1>" in page
    assert 'name="_save"' not in page
    assert admin_client.post(f"{AUDIT}{event.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_admin_index_shows_the_last_24_hours(admin_client, trail):
    page = admin_client.get("/admin/").content.decode()

    assert "Token endpoint, last 24 hours" in page
    assert '<span class="gw-number">1</span><span class="gw-label">tokens issued</span>' in page
    assert '<span class="gw-number">2</span><span class="gw-label">failed requests</span>' in page
    assert 'id="gw-chart-data"' in page
    assert "oauthgw/admin/dashboard.js" in page


def test_staff_without_audit_permission_see_no_summary(client, django_user_model, trail):
    staff = django_user_model.objects.create_user("viewer", password="a-long-staff-password", is_staff=True)
    client.force_login(staff)

    page = client.get("/admin/").content.decode()

    assert "Token endpoint, last 24 hours" not in page


def event(outcome: str, *, hours_ago: float, client_id: str = "machine-id") -> AuditEvent:
    status = {"issued": 200, "issued_on_grace": 200, "upstream_unavailable": 503, "throttled": 429}.get(outcome, 401)
    return AuditEvent.objects.create(
        time=timezone.now() - timedelta(hours=hours_ago),
        outcome=outcome,
        status=status,
        client_id=client_id,
        grant_type="password",
        latency_ms=10,
    )


def card_links(page: str) -> dict[str, tuple[int, str]]:
    """Each dashboard number (the cards and the failures by reason) with the link around it."""
    cards = re.findall(r'href="([^"]+)" id="(gw-[a-z]+)"><span class="gw-number">(\d+)</span>', page)
    reasons = re.findall(r'<a href="([^"]+)">([a-z_]+)</a></th><td>(\d+)</td>', page)
    links = {name: (int(number), html.unescape(url)) for url, name, number in cards}
    links.update({name: (int(number), html.unescape(url)) for url, name, number in reasons})
    return links


@pytest.fixture
def a_day_and_more():
    """Outcomes of every kind in the last 24 hours, the day before, and for another client."""
    counted = [
        event("issued", hours_ago=1),
        event("issued_on_grace", hours_ago=2),
        event("invalid_grant", hours_ago=3),
        event("invalid_grant", hours_ago=23.9),
        event("invalid_client", hours_ago=5),
        event("upstream_unavailable", hours_ago=6),
        event("throttled", hours_ago=7),
        event("issued", hours_ago=8, client_id="other-id"),
        event("invalid_grant", hours_ago=9, client_id="other-id"),
    ]
    for outcome in ("issued", "invalid_grant", "throttled", "upstream_unavailable"):
        event(outcome, hours_ago=24.1)
        event(outcome, hours_ago=30)
    return counted


def listed(admin_client, url: str) -> set[int]:
    response = admin_client.get(f"{url}&all=")
    assert response.status_code == 200, url
    return {event.pk for event in response.context["cl"].result_list}


@pytest.mark.parametrize("where", ["index", "client page"])
def test_each_dashboard_number_links_to_exactly_the_events_it_counts(admin_client, make_client, a_day_and_more, where):
    app = make_client(name="machine", client_id="machine-id")
    page_url = "/admin/" if where == "index" else f"/admin/oauthgw/application/{app.pk}/change/"
    page = admin_client.get(page_url).content.decode()
    # Written after the page was drawn: in no number on it, so in no list it links to.
    event("invalid_grant", hours_ago=0)
    event("issued", hours_ago=0)
    shown = {event.pk: event for event in a_day_and_more if where == "index" or event.client_id == app.client_id}

    expected = {
        "gw-issued": {pk for pk, row in shown.items() if row.outcome in ("issued", "issued_on_grace")},
        "gw-failed": {pk for pk, row in shown.items() if row.outcome not in ("issued", "issued_on_grace")},
        "gw-throttled": {pk for pk, row in shown.items() if row.outcome == "throttled"},
    }
    if where == "index":
        expected["gw-upstream"] = {pk for pk, row in shown.items() if row.outcome == "upstream_unavailable"}
        for reason in ("invalid_grant", "invalid_client", "upstream_unavailable", "throttled"):
            expected[reason] = {pk for pk, row in shown.items() if row.outcome == reason}
    links = card_links(page)
    assert set(links) == set(expected)
    for name, (number, url) in links.items():
        rows = listed(admin_client, url)
        assert (number, rows) == (len(expected[name]), expected[name]), name


def test_a_period_that_is_not_one_is_refused_as_any_bad_filter(admin_client):
    response = admin_client.get(AUDIT, {"period": "yesterday"})

    assert response.status_code == 302
    assert response.url.endswith("?e=1")


def test_the_filter_sidebar_says_which_period_is_shown(admin_client, a_day_and_more):
    page = admin_client.get("/admin/").content.decode()
    _, url = card_links(page)["gw-failed"]

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", admin_client.get(url).content.decode()))

    assert re.search(r"By period All \d{4}-\d\d-\d\d \d\d:\d\d UTC to \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "By result All tokens issued failed" in text


def test_a_flood_of_strangers_is_one_row_with_its_count_and_the_index_counts_every_request(
    admin_client, client_credentials_token
):
    for n in range(25):
        client_credentials_token(f"made-up-{n}", "whatever")

    [event] = admin_client.get(AUDIT).context["cl"].result_list
    index = admin_client.get("/admin/").content.decode()

    assert (event.outcome, event.count, event.client_id) == ("invalid_client", 25, "")
    listed = admin_client.get(AUDIT).content.decode()
    assert 'invalid_<wbr>client <span class="gw-count" title="requests">&times;25</span>' in listed
    assert '<span class="gw-number">25</span><span class="gw-label">failed requests</span>' in index


# --- The password grant's 30 days on the index ----------------------------------------------------


def password_event(client_id: str, time: datetime, *, outcome: str = "issued", grant_type: str = "password"):
    return AuditEvent.objects.create(
        time=time,
        outcome=outcome,
        status={"issued": 200, "password_grant_ended": 400}.get(outcome, 401),
        client_id=client_id,
        grant_type=grant_type,
        latency_ms=10,
    )


@pytest.fixture
def password_logins(make_client):
    """Password logins of two clients at chosen moments: in the window, at its edges, and not counted."""
    make_client(name="mobile", client_id="mobile-id", grant_types="password refresh_token")
    web = make_client(name="web", client_id="web-id", grant_types="password")
    make_client(name="machine", client_id="machine-id", grant_types="client_credentials")
    now = timezone.now()
    first_day = datetime.combine(now.astimezone(UTC).date() - timedelta(days=29), time(0), tzinfo=UTC)
    counted = [
        password_event("mobile-id", now - timedelta(minutes=5)),
        password_event("mobile-id", now - timedelta(minutes=6)),
        password_event("mobile-id", now - timedelta(days=3)),
        password_event("mobile-id", first_day),
        password_event("web-id", now - timedelta(days=10)),
        password_event("web-id", now - timedelta(hours=2), outcome="password_grant_ended"),
        password_event("web-id", now - timedelta(hours=3), outcome="password_grant_ended"),
    ]
    for outcome, grant_type in (("invalid_grant", "password"), ("issued", "refresh_token")):
        password_event("mobile-id", now - timedelta(minutes=7), outcome=outcome, grant_type=grant_type)
    password_event("mobile-id", first_day - timedelta(microseconds=1))
    password_event("machine-id", now - timedelta(minutes=5))
    password_grant_until_set(client=web, until=now.astimezone(UTC).date() - timedelta(days=1))
    return counted


def password_grant_links(page: str) -> dict[tuple[str, str], tuple[int, str]]:
    """(client id, what) -> (the number shown, the link around it) for every number of the section."""
    section = page[page.index('id="gw-password-grant-title"') :]
    links = {}
    for client_id, row in re.findall(r'data-client-id="([^"]+)">(.*?)</tr>', section, flags=re.S):
        for url, number in re.findall(r'class="gw-total" href="([^"]+)">(\d+)<', row):
            links[client_id, "total"] = (int(number), html.unescape(url))
        for url, number in re.findall(r'class="gw-refused gw-sunset" href="([^"]+)">(\d+) refused<', row):
            links[client_id, "refused"] = (int(number), html.unescape(url))
        for url, day, number in re.findall(
            r'href="([^"]+)" title="[^"]+" data-day="([^"]+)"><span class="gw-count">[^:]+: (\d+)<', row
        ):
            links[client_id, day] = (int(number), html.unescape(url))
    return links


def test_each_password_grant_number_links_to_exactly_the_events_it_counts(admin_client, password_logins):
    page = admin_client.get("/admin/").content.decode()

    expected: dict[tuple[str, str], set[int]] = {}
    for row in password_logins:
        key = "refused" if row.outcome == "password_grant_ended" else row.time.astimezone(UTC).date().isoformat()
        expected.setdefault((row.client_id, key), set()).add(row.pk)
        if row.outcome == "issued":
            expected.setdefault((row.client_id, "total"), set()).add(row.pk)
    links = password_grant_links(page)
    assert set(links) == set(expected)
    for name, (number, url) in links.items():
        rows = listed(admin_client, url)
        assert (number, rows) == (len(expected[name]), expected[name]), name


def test_the_password_grant_section_names_each_clients_last_day_and_last_login(admin_client, password_logins):
    page = admin_client.get("/admin/").content.decode()
    section = page[page.index('id="gw-password-grant-title"') :]
    rows = dict(re.findall(r'data-client-id="([^"]+)">(.*?)</tr>', section, flags=re.S))

    assert set(rows) == {"mobile-id", "web-id"}
    yesterday = (timezone.now().astimezone(UTC).date() - timedelta(days=1)).isoformat()
    assert f'<span class="gw-nowrap gw-sunset-ended">{yesterday}</span>' in rows["web-id"]
    assert '<span class="gw-sunset">none</span>' in rows["mobile-id"]
    [last_login_url] = re.findall(r'class="gw-last-login" href="([^"]+)"', rows["mobile-id"])
    newest = AuditEvent.objects.filter(client_id="mobile-id", grant_type="password", outcome="issued").latest("time")
    assert newest.pk in listed(admin_client, html.unescape(last_login_url))
    assert datetime_display(newest.time).split()[0] in rows["mobile-id"]


def test_with_no_client_having_the_password_grant_the_section_says_so(admin_client, make_client):
    make_client(grant_types="client_credentials")

    page = admin_client.get("/admin/").content.decode()

    assert "Password grant, last 30 days (UTC)" in page
    assert "No client has the password grant." in page


@pytest.mark.parametrize("days", ["yesterday", "2031-07-15/2031-07-01", "2031-02-30"])
def test_days_that_are_not_days_are_refused_as_any_bad_filter(admin_client, days):
    response = admin_client.get(AUDIT, {"days": days})

    assert response.status_code == 302
    assert response.url.endswith("?e=1")
