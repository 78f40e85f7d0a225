"""The password grant's sunset per client: headers until its last day (UTC), refusal after it, sessions.

Through the token endpoint, with the upstream stubbed at the gateway's own
client boundary. The headers are read with parsers: RFC 9745's Deprecation as
a Structured Field Date (``http_sf``), RFC 8594's Sunset as an IMF-fixdate, the
Link header as RFC 8288 links (``requests``).
"""

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import http_sf
import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model
from requests.utils import parse_header_links

from oauthgw.issuing import password_sunset
from oauthgw.issuing.password_sunset import (
    password_grant_deprecation_stamp,
    password_grant_until_parse,
    password_grant_until_set,
)
from oauthgw.models import AuditEvent, UpstreamSession
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db

RefreshToken = get_refresh_token_model()
GUIDE = "http://testserver/docs/migrating-off-password-grant.md"
# RFC 9110 section 5.6.7: IMF-fixdate, the only HTTP-date form a sender may generate.
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} GMT"
)
SUNSET_HEADERS = ("Deprecation", "Sunset", "Link")


def today() -> date:
    return timezone.now().astimezone(UTC).date()


def with_sunset(make_client, last_day: date, **fields):
    app = make_client(**fields)
    password_grant_until_set(client=app, until=last_day)
    return app


def log_in(post_token, app, password: str = PASSWORD, **data):
    return post_token({"grant_type": "password", "username": USERNAME, "password": password, **data}, app=app)


def announced(response) -> tuple[datetime, datetime, list[dict]]:
    """(Deprecation, Sunset, links) as a client's parsers read them; fails on any malformed header."""
    deprecation, parameters = http_sf.parse(response["Deprecation"].encode("ascii"), tltype="item")
    assert isinstance(deprecation, datetime) and parameters == {}
    assert IMF_FIXDATE.fullmatch(response["Sunset"]), response["Sunset"]
    sunset = datetime.strptime(response["Sunset"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    return deprecation, sunset, parse_header_links(response["Link"])


def midnight_after(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@pytest.fixture
def clock(monkeypatch):
    """The token endpoint's reading of the date, set by hand."""

    def stand_at(moment: datetime) -> None:
        monkeypatch.setattr(password_sunset, "_now", lambda: moment)

    return stand_at


# --- Before the date: the announcement ----------------------------------------------------------


def test_a_client_without_a_date_gets_no_sunset_headers(make_client, post_token, upstream):
    upstream.accepts()

    response = log_in(post_token, make_client())

    assert response.status_code == 200
    assert not any(name in response for name in SUNSET_HEADERS)


def test_before_its_last_day_a_token_comes_with_deprecation_sunset_and_a_link_to_the_guide(
    make_client, post_token, upstream
):
    last_day = today() + timedelta(days=30)
    app = with_sunset(make_client, last_day)
    upstream.accepts()

    response = log_in(post_token, app)

    assert response.status_code == 200
    deprecation, sunset, links = announced(response)
    assert deprecation == app.password_grant_deprecated.replace(microsecond=0)
    assert sunset == midnight_after(last_day)
    assert response["Sunset"] == format_datetime(midnight_after(last_day), usegmt=True)
    assert links == [
        {"url": GUIDE, "rel": "deprecation", "type": "text/markdown"},
        {"url": GUIDE, "rel": "sunset", "type": "text/markdown"},
    ]


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        ("wrong password", 401, "invalid_grant"),
        ("upstream down", 503, "temporarily_unavailable"),
        ("scope not allowed", 400, "invalid_scope"),
    ],
)
def test_every_refusal_of_its_password_logins_carries_the_headers_too(
    make_client, post_token, upstream, answer, status, error
):
    app = with_sunset(make_client, today() + timedelta(days=7))
    data = {}
    if answer == "wrong password":
        upstream.rejects()
    elif answer == "upstream down":
        upstream.answers(502)
    else:
        data["scope"] = "admin"

    response = log_in(post_token, app, **data)

    assert (response.status_code, response.json()["error"]) == (status, error)
    assert announced(response)[1] == midnight_after(today() + timedelta(days=7))


def test_a_throttled_login_carries_the_headers(make_client, post_token, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 1}
    app = with_sunset(make_client, today() + timedelta(days=7))
    upstream.rejects()
    assert log_in(post_token, app, password="wrong").status_code == 401

    response = log_in(post_token, app)

    assert response.status_code == 429
    assert "Sunset" in response and "Deprecation" in response


def test_a_request_whose_client_is_not_authenticated_learns_nothing_of_its_sunset(make_client, post_token):
    app = with_sunset(make_client, today() + timedelta(days=7))

    response = post_token(
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app, secret="not-the-secret"
    )

    assert response.status_code == 401
    assert not any(name in response for name in SUNSET_HEADERS)


def test_its_other_grants_are_untouched(make_client, post_token):
    app = with_sunset(make_client, today() - timedelta(days=7))

    response = post_token({"grant_type": "client_credentials"}, app=app)

    assert response.status_code == 200
    assert not any(name in response for name in SUNSET_HEADERS)


def test_a_client_without_the_password_grant_gets_the_usual_refusal_whatever_its_date(
    make_client, post_token, upstream
):
    app = with_sunset(make_client, today() + timedelta(days=7), grant_types="client_credentials")

    response = log_in(post_token, app)

    assert response.status_code == 400
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": "This client may not use this grant type.",
    }
    assert not any(name in response for name in SUNSET_HEADERS)
    assert upstream.calls == []


def test_a_guide_published_elsewhere_is_linked_without_a_type(make_client, post_token, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "PASSWORD_GRANT_GUIDE_URL": "https://wiki.example.com/oauth/password-grant"}
    app = with_sunset(make_client, today() + timedelta(days=7))
    upstream.accepts()

    _, _, links = announced(log_in(post_token, app))

    assert links == [
        {"url": "https://wiki.example.com/oauth/password-grant", "rel": "deprecation"},
        {"url": "https://wiki.example.com/oauth/password-grant", "rel": "sunset"},
    ]


def test_the_guide_follows_the_configured_issuer(make_client, post_token, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "ISSUER": "https://auth.example.com"}
    app = with_sunset(make_client, today() + timedelta(days=7))
    upstream.accepts()

    _, _, links = announced(log_in(post_token, app))

    assert {link["url"] for link in links} == {"https://auth.example.com/docs/migrating-off-password-grant.md"}


def test_deprecation_is_never_later_than_the_sunset(make_client, post_token):
    # A date set after its own last day: the grant is refused, deprecated since the sunset at the latest.
    last_day = today() - timedelta(days=3)
    app = with_sunset(make_client, last_day)

    response = log_in(post_token, app)

    deprecation, sunset, _ = announced(response)
    assert deprecation == sunset == midnight_after(last_day)


# --- The last day and after ------------------------------------------------------------------


def test_on_its_last_day_until_midnight_utc_the_grant_still_works(make_client, post_token, upstream, clock):
    last_day = today() + timedelta(days=1)
    app = with_sunset(make_client, last_day)
    clock(midnight_after(last_day) - timedelta(microseconds=1))
    upstream.accepts()

    assert log_in(post_token, app).status_code == 200


def test_from_midnight_utc_after_its_last_day_the_grant_is_refused_before_the_password_leaves_the_gateway(
    make_client, post_token, upstream, clock
):
    last_day = today() + timedelta(days=1)
    app = with_sunset(make_client, last_day)
    clock(midnight_after(last_day))
    upstream.accepts()

    response = log_in(post_token, app)

    assert response.status_code == 400
    assert response.json() == {
        "error": "unauthorized_client",
        "error_description": "This client may no longer use the password grant: its last day was "
        f"{last_day.isoformat()} (UTC). Use the authorization code flow with PKCE instead: {GUIDE}",
    }
    assert upstream.calls == []
    assert announced(response)[1] == midnight_after(last_day)
    event = AuditEvent.objects.get()
    assert (event.outcome, event.status, event.grant_type) == ("password_grant_ended", 400, "password")


def test_refused_logins_count_as_no_failure_against_anyone(make_client, post_token, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 1, "THROTTLE_CLIENT_FAILURES": 1}
    app = with_sunset(make_client, today() - timedelta(days=1))
    for _ in range(3):
        assert log_in(post_token, app, password="wrong").status_code == 400

    password_grant_until_set(client=app, until=None)
    upstream.accepts()

    # Rolled back: the same user logs in through the same client at once, no limit reached.
    response = log_in(post_token, app)
    assert response.status_code == 200
    assert not any(name in response for name in SUNSET_HEADERS)


def test_a_date_moved_later_lets_the_grant_work_again_and_keeps_its_deprecation(make_client, post_token, upstream):
    app = with_sunset(make_client, today() - timedelta(days=1))
    deprecated = app.password_grant_deprecated
    assert log_in(post_token, app).status_code == 400

    password_grant_until_set(client=app, until=today() + timedelta(days=14))
    upstream.accepts()
    response = log_in(post_token, app)

    assert response.status_code == 200
    assert announced(response)[0] == deprecated.replace(microsecond=0)


# --- Sessions that began with a password login ------------------------------------------------


def end_the_grant_yesterday(app) -> None:
    password_grant_until_set(client=app, until=today() - timedelta(days=1))


def refresh(post_token, app, pair: dict):
    return post_token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}, app=app)


def test_by_default_sessions_go_on_refreshing_after_the_sunset_until_their_maximum_age(
    make_client, post_token, password_login
):
    app = with_sunset(make_client, today() + timedelta(days=30))
    pair = password_login(app)
    end_the_grant_yesterday(app)

    response = refresh(post_token, app, pair)

    assert response.status_code == 200
    assert not any(name in response for name in SUNSET_HEADERS)
    assert response.json()["refresh_token_expires_in"] == 14 * 24 * 3600


@pytest.fixture
def sessions_end_at_sunset(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "PASSWORD_GRANT_SUNSET_ENDS_SESSIONS": True}


@pytest.mark.usefixtures("sessions_end_at_sunset")
def test_ending_sessions_at_the_sunset_a_login_is_told_its_refresh_token_ends_then(make_client, password_login):
    app = with_sunset(make_client, today() + timedelta(days=2))

    pair = password_login(app)

    until_sunset = (midnight_after(today() + timedelta(days=2)) - timezone.now()).total_seconds()
    assert until_sunset - 5 <= pair["refresh_token_expires_in"] <= until_sunset


@pytest.mark.usefixtures("sessions_end_at_sunset")
def test_ending_sessions_at_the_sunset_a_refresh_before_it_is_told_its_new_refresh_token_ends_then(
    make_client, post_token, password_login
):
    app = with_sunset(make_client, today() + timedelta(days=30))
    pair = password_login(app)
    password_grant_until_set(client=app, until=today() + timedelta(days=1))

    response = refresh(post_token, app, pair)

    assert response.status_code == 200
    until_sunset = (midnight_after(today() + timedelta(days=1)) - timezone.now()).total_seconds()
    assert until_sunset - 5 <= response.json()["refresh_token_expires_in"] <= until_sunset


@pytest.mark.usefixtures("sessions_end_at_sunset")
def test_ending_sessions_at_the_sunset_refreshes_after_it_are_refused_and_the_session_revoked(
    client, make_client, post_token, password_login
):
    app = with_sunset(make_client, today() + timedelta(days=30))
    pair = password_login(app)
    end_the_grant_yesterday(app)

    response = refresh(post_token, app, pair)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.order_by("-pk").first().outcome == "session_expired"
    assert not UpstreamSession.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}").status_code == 401


@pytest.mark.usefixtures("sessions_end_at_sunset")
def test_ending_sessions_at_the_sunset_the_upstream_is_not_asked_to_reverify_them(
    make_client, post_token, password_login, upstream, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": "always"}
    app = with_sunset(make_client, today() + timedelta(days=30))
    upstream.mock.add("POST", upstream.url, json={"access_token": "a", "token_type": "bearer", "refresh_token": "r"})
    pair = log_in(post_token, app).json()
    asked = len(upstream.calls)
    end_the_grant_yesterday(app)

    assert refresh(post_token, app, pair).status_code == 401
    assert len(upstream.calls) == asked


@pytest.mark.usefixtures("sessions_end_at_sunset")
def test_ending_sessions_at_the_sunset_spares_sessions_another_grant_started(make_client, post_token, password_login):
    app = with_sunset(make_client, today() + timedelta(days=30))
    pair = password_login(app)
    # As the authorization code flow records its sessions.
    UpstreamSession.objects.update(grant_type="authorization_code")
    end_the_grant_yesterday(app)

    assert refresh(post_token, app, pair).status_code == 200


@pytest.mark.usefixtures("sessions_end_at_sunset")
def test_ending_sessions_at_the_sunset_spares_clients_without_a_date(make_client, post_token, password_login):
    app = make_client()
    pair = password_login(app)

    response = refresh(post_token, app, pair)

    assert response.status_code == 200
    assert response.json()["refresh_token_expires_in"] == 14 * 24 * 3600


def test_a_login_records_the_grant_that_started_its_session(make_client, password_login):
    password_login(make_client())

    assert UpstreamSession.objects.get().grant_type == "password"


# --- Setting the date ---------------------------------------------------------------------------


def test_the_deprecation_is_stamped_when_a_date_is_first_set_kept_when_it_moves_and_cleared_with_it(make_client):
    app = make_client()

    assert password_grant_until_set(client=app, until=date(2031, 6, 30)) is True
    first = app.password_grant_deprecated
    assert first is not None and abs(first - timezone.now()) < timedelta(seconds=5)
    assert password_grant_until_set(client=app, until=date(2031, 6, 30)) is False
    assert password_grant_until_set(client=app, until=date(2031, 9, 30)) is True
    app.refresh_from_db()
    assert (app.password_grant_until, app.password_grant_deprecated) == (date(2031, 9, 30), first)
    assert password_grant_until_set(client=app, until=None) is True
    app.refresh_from_db()
    assert (app.password_grant_until, app.password_grant_deprecated) == (None, None)


def test_a_date_without_its_deprecation_is_refused_by_the_database(make_client):
    app = make_client()
    app.password_grant_until = date(2031, 6, 30)
    with pytest.raises(IntegrityError), transaction.atomic():
        app.save()
    password_grant_deprecation_stamp(app)
    app.save()


@pytest.mark.parametrize(("text", "expected"), [("2031-06-30", date(2031, 6, 30)), (" none ", None), ("NONE", None)])
def test_an_operators_date_is_a_day_or_none(text, expected):
    assert password_grant_until_parse(text) == expected


@pytest.mark.parametrize("text", ["2031-6-30", "30/06/2031", "2031-02-30", "tomorrow", "", "2031-06-30T00:00"])
def test_anything_else_is_refused_with_the_expected_form(text):
    with pytest.raises(ValueError) as refused:
        password_grant_until_parse(text)

    assert str(refused.value) == (
        f"{text!r} is not a date: give the password grant's last day (UTC) as YYYY-MM-DD, or none to clear it."
    )
