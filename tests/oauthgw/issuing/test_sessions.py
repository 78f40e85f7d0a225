"""Sessions bound to the upstream's verdict: what a refresh asks the upstream, and what its answer does.

The upstream is stubbed at the gateway's own client boundary (``responses``): a
fake that issues a refresh token with every password login, rotates it on every
refresh (as many servers do), and can be told to reject, fail or stop issuing
refresh tokens. Time is moved by ageing the session's rows.
"""

import hashlib
import json
import secrets
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.models import AuditEvent, AuthorizationServer, UpstreamSession
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


class FakeUpstream:
    """A token endpoint that knows one password and the refresh tokens it issued."""

    def __init__(self, mock: responses.RequestsMock, url: str):
        self.url = url
        self.live: set[str] = set()
        self.forms: list[dict] = []
        self.issues_refresh_tokens = True
        self.expires_in: int | None = 3600
        self.failure: tuple[int, dict | None] | None = None  # (status, JSON body) for every request
        mock.add_callback(responses.POST, url, callback=self._answer)

    def _answer(self, request):
        form = dict(parse_qsl(request.body))
        self.forms.append(form)
        if self.failure is not None:
            status, body = self.failure
            return status, {}, json.dumps(body) if body is not None else ""
        if form.get("grant_type") == "password" and form.get("password") == PASSWORD:
            return 200, {}, json.dumps(self._tokens())
        if form.get("grant_type") == "refresh_token" and form.get("refresh_token") in self.live:
            self.live.discard(form["refresh_token"])  # rotated: the old one is dead
            return 200, {}, json.dumps(self._tokens())
        return 400, {}, json.dumps({"error": "invalid_grant"})

    def _tokens(self) -> dict:
        answer = {"access_token": secrets.token_urlsafe(16), "token_type": "bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        if self.issues_refresh_tokens:
            answer["refresh_token"] = secrets.token_urlsafe(24)
            self.live.add(answer["refresh_token"])
        return answer

    @property
    def refreshes(self) -> list[dict]:
        return [form for form in self.forms if form.get("grant_type") == "refresh_token"]

    def revoke_everything(self) -> None:
        """The user was disabled upstream: no refresh token of theirs works any more."""
        self.live.clear()


@pytest.fixture
def fake(upstream_url):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeUpstream(mock, upstream_url)


@pytest.fixture
def reverify(settings):
    def set_to(value: str, grace: int = 0) -> None:
        settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_REVERIFY": value, "UPSTREAM_REVERIFY_GRACE": grace}

    return set_to


@pytest.fixture
def login(post_token, fake):
    def log_in(app) -> dict:
        response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)
        assert response.status_code == 200, response.content
        return response.json()

    return log_in


def refresh(post_token, app, pair: dict, **extra):
    return post_token({"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}, app=app, **extra)


def hello(client, pair: dict):
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")


def age_session(seconds: float, **fields) -> None:
    """Move the session's clock back: as if it had been verified (and started) ``seconds`` ago."""
    then = timezone.now() - timedelta(seconds=seconds)
    UpstreamSession.objects.update(last_verified=then, **{field: then for field in fields})


def last_outcome() -> str:
    return AuditEvent.objects.order_by("-time", "-pk").values_list("outcome", flat=True).first()


# --- What a login keeps --------------------------------------------------------------------


def test_a_login_keeps_the_upstreams_refresh_token_encrypted_with_its_family(make_client, login, fake):
    app = make_client()

    pair = login(app)

    session = UpstreamSession.objects.get()
    family = RefreshToken.objects.get(token_checksum=hashlib.sha256(pair["refresh_token"].encode()).hexdigest())
    assert session.family == family.token_family
    assert session.refresh_token in fake.live
    assert session.refresh_token not in session.encrypted_refresh_token
    assert (session.client, session.authorization_server, session.last_outcome) == (app, "default", "login")


def test_with_never_a_refresh_asks_the_upstream_nothing(make_client, login, fake, post_token):
    app = make_client()
    pair = login(app)

    response = refresh(post_token, app, pair)

    assert response.status_code == 200, response.content
    assert fake.refreshes == []


def test_with_never_a_refresh_reads_its_session_with_one_small_query_and_writes_nothing_to_it(
    make_client, login, post_token
):
    app = make_client()
    pair = login(app)

    with CaptureQueriesContext(connection) as captured:
        assert refresh(post_token, app, pair).status_code == 200

    session_table = UpstreamSession._meta.db_table
    touching = [query["sql"] for query in captured if session_table in query["sql"]]
    assert len(touching) == 1
    assert touching[0].startswith("SELECT (SELECT")


# --- always -------------------------------------------------------------------------------


def test_with_always_every_refresh_first_sends_the_kept_token_with_the_gateways_credentials(
    make_client, login, fake, post_token, reverify
):
    reverify("always")
    app = make_client()
    pair = login(app)
    kept = UpstreamSession.objects.get().refresh_token

    response = refresh(post_token, app, pair)

    assert response.status_code == 200, response.content
    assert fake.refreshes == [{"grant_type": "refresh_token", "refresh_token": kept}]
    assert UpstreamSession.objects.get().last_outcome == "accepted"


def test_a_rotated_upstream_refresh_token_replaces_the_kept_one(make_client, login, fake, post_token, reverify):
    reverify("always")
    app = make_client()
    first = login(app)
    second = refresh(post_token, app, first).json()

    third = refresh(post_token, app, second)

    assert third.status_code == 200, third.content
    sent = [form["refresh_token"] for form in fake.refreshes]
    assert len(set(sent)) == 2
    assert UpstreamSession.objects.get().refresh_token in fake.live


def test_a_rejection_revokes_the_whole_family_at_once_and_answers_401_invalid_grant(
    client, make_client, login, fake, post_token, reverify
):
    reverify("always")
    app = make_client()
    pair = login(app)
    assert hello(client, pair).status_code == 200
    fake.revoke_everything()

    response = refresh(post_token, app, pair)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert hello(client, pair).status_code == 401
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert not UpstreamSession.objects.exists()
    assert last_outcome() == "session_rejected"


def test_after_a_rejection_the_refresh_token_stays_refused_without_asking_again(
    make_client, login, fake, post_token, reverify
):
    reverify("always")
    app = make_client()
    pair = login(app)
    fake.revoke_everything()
    refresh(post_token, app, pair)

    again = refresh(post_token, app, pair)

    assert again.status_code == 401
    assert len(fake.refreshes) == 1


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (502, {"error": "bad_gateway"}), (400, {"error": "invalid_client"}), (200, {"error": "x"})],
    ids=["500", "502", "its-own-registration-refused", "contradictory-200"],
)
def test_an_upstream_without_a_clear_answer_is_503_and_rotates_nothing(
    make_client, login, fake, post_token, reverify, status, body
):
    reverify("always")
    app = make_client()
    pair = login(app)
    fake.failure = (status, body)

    response = refresh(post_token, app, pair)

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) > 0
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
    assert last_outcome() == "upstream_unavailable"
    fake.failure = None
    assert refresh(post_token, app, pair).status_code == 200


def test_a_refresh_token_that_is_being_reverified_by_a_concurrent_request_loses_quietly(
    make_client, login, fake, post_token, reverify
):
    reverify("always")
    app = make_client()
    pair = login(app)
    UpstreamSession.objects.update(verifying_until=timezone.now() + timedelta(seconds=5))

    response = refresh(post_token, app, pair)

    assert response.status_code == 401
    assert fake.refreshes == []
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1


def test_a_stale_mark_of_a_request_that_died_does_not_block_the_session(make_client, login, fake, post_token, reverify):
    reverify("always")
    app = make_client()
    pair = login(app)
    UpstreamSession.objects.update(verifying_until=timezone.now() - timedelta(seconds=1))

    assert refresh(post_token, app, pair).status_code == 200
    assert UpstreamSession.objects.get().verifying_until is None


def test_another_clients_refresh_token_asks_the_upstream_nothing(make_client, login, fake, post_token, reverify):
    reverify("always")
    owner, thief = make_client(), make_client()
    pair = login(owner)

    response = refresh(post_token, thief, pair)

    assert response.status_code == 401
    assert fake.refreshes == []


# --- N seconds -------------------------------------------------------------------------------


def test_with_n_seconds_a_recent_verification_is_trusted(make_client, login, fake, post_token, reverify):
    reverify("300")
    app = make_client()
    pair = login(app)
    age_session(299)

    assert refresh(post_token, app, pair).status_code == 200
    assert fake.refreshes == []


def test_with_n_seconds_an_older_verification_is_asked_about_again(make_client, login, fake, post_token, reverify):
    reverify("300")
    app = make_client()
    pair = login(app)
    age_session(301)
    fake.revoke_everything()

    response = refresh(post_token, app, pair)

    assert response.status_code == 401
    assert len(fake.refreshes) == 1


def test_an_authorization_servers_own_setting_applies_to_its_clients(
    make_client, login, fake, post_token, upstream_url
):
    server = AuthorizationServer.objects.create(
        name="partner", token_url=upstream_url, client_id="gw", client_secret="s", reverify="always"
    )
    app = make_client(authorization_server=server)
    pair = login(app)

    assert refresh(post_token, app, pair).status_code == 200
    assert len(fake.refreshes) == 1
    assert UpstreamSession.objects.get().authorization_server == "partner"


# --- Grace during an outage ---------------------------------------------------------------------


def test_within_the_grace_an_outage_serves_the_refresh_and_the_audit_says_so(
    make_client, login, fake, post_token, reverify
):
    reverify("always", grace=600)
    app = make_client()
    pair = login(app)
    age_session(599)
    fake.failure = (500, None)

    response = refresh(post_token, app, pair)

    assert response.status_code == 200, response.content
    assert last_outcome() == "issued_on_grace"
    assert UpstreamSession.objects.get().last_outcome == "grace"


def test_past_the_grace_an_outage_is_503(make_client, login, fake, post_token, reverify):
    reverify("always", grace=600)
    app = make_client()
    pair = login(app)
    age_session(601)
    fake.failure = (500, None)

    assert refresh(post_token, app, pair).status_code == 503


def test_the_grace_does_not_forgive_a_rejection(make_client, login, fake, post_token, reverify):
    reverify("always", grace=600)
    app = make_client()
    pair = login(app)
    fake.revoke_everything()

    assert refresh(post_token, app, pair).status_code == 401


# --- Limits and the breaker -----------------------------------------------------------------------


def test_rejected_reverifications_count_as_failed_logins_of_that_user_from_that_address(
    make_client, login, fake, post_token, reverify, settings
):
    reverify("always")
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 2}
    app = make_client()
    pairs = [login(app), login(app)]
    fake.revoke_everything()
    for pair in pairs:
        assert refresh(post_token, app, pair).status_code == 401

    third = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)

    assert third.status_code == 429
    assert third.json()["error"] == "slow_down"


def test_an_open_circuit_refuses_the_refresh_without_calling_the_upstream(
    make_client, login, fake, post_token, reverify, settings
):
    reverify("always")
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 2}
    app = make_client()
    pairs = [login(app) for _ in range(3)]
    fake.failure = (503, None)  # the breaker's probe fails too
    # Sessions refreshed from two addresses: the faults of two sources.
    for n, pair in enumerate(pairs[:2]):
        assert refresh(post_token, app, pair, REMOTE_ADDR=f"192.0.2.{n + 1}").status_code == 503
    asked = len(fake.forms)

    response = refresh(post_token, app, pairs[2])

    assert response.status_code == 503
    assert len(fake.forms) == asked


# --- Sessions without an upstream refresh token ------------------------------------------------------


def test_under_always_a_login_without_upstream_refresh_token_refreshes_until_the_upstream_token_expires(
    make_client, login, fake, post_token, reverify
):
    reverify("always")
    fake.issues_refresh_tokens = False
    fake.expires_in = 600
    app = make_client()

    pair = login(app)
    assert pair["refresh_token_expires_in"] == 600
    refreshed = refresh(post_token, app, pair)
    assert refreshed.status_code == 200, refreshed.content
    assert 590 <= refreshed.json()["refresh_token_expires_in"] <= 600
    assert fake.refreshes == []

    UpstreamSession.objects.update(upstream_expires=timezone.now() - timedelta(seconds=1))
    later = refresh(post_token, app, refreshed.json())
    assert later.status_code == 401
    assert last_outcome() == "session_expired"


def test_under_always_a_login_without_upstream_refresh_token_or_lifetime_gets_no_refresh_token(
    make_client, login, fake, reverify
):
    reverify("always")
    fake.issues_refresh_tokens = False
    fake.expires_in = None

    pair = login(make_client())

    assert "refresh_token" not in pair
    assert not UpstreamSession.objects.exists()


def test_under_n_seconds_a_login_without_upstream_refresh_token_or_lifetime_refreshes_for_n_seconds(
    make_client, login, fake, post_token, reverify
):
    reverify("900")
    fake.issues_refresh_tokens = False
    fake.expires_in = None
    app = make_client()

    pair = login(app)

    assert pair["refresh_token_expires_in"] == 900
    age_session(901)
    assert refresh(post_token, app, pair).status_code == 401


def test_under_never_a_login_without_upstream_refresh_token_keeps_the_usual_lifetime(
    make_client, login, fake, post_token
):
    fake.issues_refresh_tokens = False
    app = make_client()

    pair = login(app)

    assert pair["refresh_token_expires_in"] == 14 * 24 * 3600
    assert refresh(post_token, app, pair).status_code == 200


def test_a_client_moved_to_another_server_does_not_send_the_kept_token_there(
    make_client, login, fake, post_token, upstream_url
):
    app = make_client()
    pair = login(app)
    app.authorization_server = AuthorizationServer.objects.create(
        name="elsewhere", token_url=upstream_url, client_id="gw", client_secret="s", reverify="always"
    )
    app.save()

    response = refresh(post_token, app, pair)

    assert response.status_code == 401
    assert fake.refreshes == []


# --- Maximum age ---------------------------------------------------------------------------------------


def test_refresh_token_expires_in_is_the_smaller_of_the_token_lifetime_and_what_remains_of_the_session(
    make_client, login, post_token
):
    app = make_client(session_max_age=3600, refresh_token_lifetime=1800)
    pair = login(app)
    assert pair["refresh_token_expires_in"] == 1800

    UpstreamSession.objects.update(started=timezone.now() - timedelta(seconds=3000))
    refreshed = refresh(post_token, app, pair).json()

    assert 590 <= refreshed["refresh_token_expires_in"] <= 600


def test_a_session_past_its_maximum_age_needs_a_new_login_however_recently_it_was_refreshed(
    make_client, login, post_token
):
    app = make_client(session_max_age=3600)
    pair = refresh(post_token, app, login(app)).json()
    UpstreamSession.objects.update(started=timezone.now() - timedelta(seconds=3601))

    response = refresh(post_token, app, pair)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_grant"
    assert last_outcome() == "session_expired"
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()


def test_the_default_maximum_age_applies_to_clients_without_their_own(make_client, login, post_token, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "SESSION_MAX_AGE": 7200}
    app = make_client(refresh_token_lifetime=None)
    pair = login(app)

    assert pair["refresh_token_expires_in"] == 7200
    UpstreamSession.objects.update(started=timezone.now() - timedelta(seconds=7201))
    assert refresh(post_token, app, pair).status_code == 401


def test_a_family_without_a_session_still_refreshes_under_never(make_client, login, post_token):
    app = make_client()
    pair = login(app)
    UpstreamSession.objects.all().delete()

    assert refresh(post_token, app, pair).status_code == 200


def test_a_family_without_a_session_cannot_refresh_under_reverification(make_client, login, post_token, reverify):
    reverify("always")
    app = make_client()
    pair = login(app)
    UpstreamSession.objects.all().delete()

    assert refresh(post_token, app, pair).status_code == 401


def test_a_throttled_reverification_frees_its_mark_and_the_refresh_token_works_later(
    make_client, login, fake, post_token, reverify, settings
):
    reverify("always")
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 1}
    app = make_client()
    pair = login(app)
    assert post_token({"grant_type": "password", "username": USERNAME, "password": "wrong"}, app=app).status_code == 401

    throttled = refresh(post_token, app, pair)

    assert throttled.status_code == 429
    assert UpstreamSession.objects.get().verifying_until is None
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 10}
    assert refresh(post_token, app, pair).status_code == 200


def test_an_always_refresh_writes_the_session_row_twice_and_reads_it_once(make_client, login, post_token, reverify):
    reverify("always")
    app = make_client()
    pair = login(app)

    with CaptureQueriesContext(connection) as captured:
        assert refresh(post_token, app, pair).status_code == 200

    table = UpstreamSession._meta.db_table
    statements = [
        query["sql"].split(" ", 1)[0] for query in captured if f'"{table}"' in query["sql"].split(" WHERE")[0]
    ]
    assert statements == ["SELECT", "UPDATE", "UPDATE", "SELECT"]  # read, mark, answer; the claim's own read


def test_a_kept_token_no_key_opens_is_an_outage_not_a_rejection(make_client, login, fake, post_token, reverify):
    reverify("always")
    app = make_client()
    pair = login(app)
    UpstreamSession.objects.update(encrypted_refresh_token="gAAAAABnot-a-token-any-key-opens")

    response = refresh(post_token, app, pair)

    assert response.status_code == 503
    assert fake.refreshes == []
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 1
