"""``POST /oauth2/login``: what a person reads for every outcome, and what the upstream and the audit see."""

import pytest
import requests
import responses
from django.db.models import Sum

from oauthgw.issuing.resource_owners import resource_owner_block
from oauthgw.models import AuditEvent, AuthorizationCode, LoginSession, ResourceOwner
from tests.oauthgw.code_flow import authorize, code_client, follow_to_client, form_fields, post_login, sign_in_for_code
from tests.oauthgw.conftest import USERNAME

pytestmark = pytest.mark.django_db

WRONG = "The username or password is not correct."


def message(response) -> str:
    html = response.content.decode()
    start = html.index('id="login-message"')
    return html[html.index(">", start) + 1 : html.index("</p>", start)]


def test_a_wrong_password_and_an_unknown_username_read_alike(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    upstream.rejects()
    upstream.rejects()

    wrong_password = post_login(client, page, password="wrong")
    unknown_user = post_login(client, page, username="nobody-at-all")

    assert wrong_password.status_code == unknown_user.status_code == 200
    assert message(wrong_password) == message(unknown_user) == WRONG
    # The username stays in the form; the password never comes back.
    assert b'value="nobody-at-all"' in unknown_user.content
    assert b"wrong" not in wrong_password.content
    assert not AuthorizationCode.objects.exists()


def test_a_blocked_owner_reads_what_a_wrong_password_reads_and_the_audit_tells_them_apart(client, upstream):
    app = code_client()
    sign_in_for_code(client, upstream, app)
    resource_owner_block(owner=ResourceOwner.objects.get())
    client.cookies.clear()
    _, page = authorize(client, app)
    calls_before = len(upstream.calls)

    response = post_login(client, page)

    assert message(response) == WRONG
    # Refused by the username before the password left the gateway.
    assert len(upstream.calls) == calls_before
    assert AuditEvent.objects.filter(outcome="owner_blocked", grant_type="authorization_code").count() == 1


def test_past_the_login_limit_the_page_says_to_wait_and_the_upstream_sees_no_more_than_the_password_grant_allows(
    client, upstream, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 3}
    app = code_client()
    _, page = authorize(client, app)
    for _ in range(5):
        upstream.rejects()

    answers = [post_login(client, page, password=f"guess-{n}") for n in range(5)]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
    assert len(upstream.calls) == 3
    throttled = answers[-1]
    assert "Please wait" in message(throttled) and "minutes" in message(throttled)
    assert int(throttled["Retry-After"]) > 0
    assert throttled["Content-Type"].startswith("text/html")
    # Counted per source, as any failure of a request anyone may send: one row, two requests.
    assert AuditEvent.objects.filter(outcome="throttled").aggregate(requests=Sum("count"))["requests"] == 2


def test_the_upstream_down_is_a_page_to_come_back_later_and_no_code(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    upstream.mock.add(responses.POST, upstream.url, body=requests.ConnectionError("refused"))

    response = post_login(client, page)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert message(response) == "The sign-in service is unavailable right now. Please try again in a few minutes."
    assert int(response["Retry-After"]) > 0
    assert not LoginSession.objects.exists()
    assert not AuthorizationCode.objects.exists()
    assert AuditEvent.objects.filter(outcome="upstream_unavailable", grant_type="authorization_code").exists()


def test_an_empty_password_is_asked_for_again_without_asking_the_upstream(client, upstream):
    app = code_client()
    _, page = authorize(client, app)

    response = post_login(client, page, password="")

    assert message(response) == "Enter your username and password."
    assert upstream.calls == []


def test_a_sign_in_is_audited_with_the_username_never_the_password(client, upstream):
    app = code_client()

    sign_in_for_code(client, upstream, app)

    event = AuditEvent.objects.get(outcome="signed_in")
    assert (event.grant_type, event.client_id, event.username) == ("authorization_code", app.client_id, USERNAME)


def test_the_login_session_cookie_is_httponly_lax_secure_and_scoped_to_the_oauth2_paths(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    upstream.accepts()

    response = post_login(client, page)

    cookie = response.cookies["oauthgw_login"]
    assert (cookie["httponly"], cookie["samesite"], cookie["secure"], cookie["path"]) == (True, "Lax", True, "/oauth2/")
    assert int(cookie["max-age"]) == 8 * 3600
    # Only its checksum is stored.
    assert not LoginSession.objects.filter(key_checksum=cookie.value).exists()


def test_the_cookie_is_not_secure_in_debug(client, upstream, settings):
    settings.DEBUG = True
    app = code_client()
    _, page = authorize(client, app)
    upstream.accepts()

    assert post_login(client, page).cookies["oauthgw_login"]["secure"] == ""


def test_logging_out_ends_the_login_session_so_the_next_client_asks_again(client, upstream):
    app = code_client()
    sign_in_for_code(client, upstream, app)
    _, answered_at_once = authorize(client, app)
    assert answered_at_once.status_code == 302

    logout_page = client.get("/oauth2/logout")
    response = client.post("/oauth2/logout", form_fields(logout_page))

    assert response.status_code == 200
    assert not LoginSession.objects.exists()
    _, page = authorize(client, app)
    assert page.status_code == 200 and b'name="password"' in page.content


def test_an_expired_login_session_asks_again(client, upstream, settings):
    app = code_client()
    sign_in_for_code(client, upstream, app)
    LoginSession.objects.update(expires="2000-01-01T00:00:00Z")

    _, page = authorize(client, app)

    assert page.status_code == 200 and b'name="password"' in page.content


def test_a_login_session_of_another_authorization_server_asks_again(client, upstream):
    from oauthgw.models import AuthorizationServer

    app = code_client()
    sign_in_for_code(client, upstream, app)
    server = AuthorizationServer(name="partners", token_url="https://partners.example/token", client_id="gw")
    server.client_secret = "partners-secret"
    server.save()
    partner = code_client(authorization_server=server)

    _, page = authorize(client, partner)

    assert page.status_code == 200 and b'name="password"' in page.content


def test_without_login_sessions_every_request_shows_the_form(client, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "LOGIN_SESSION_SECONDS": 0}
    app = code_client()

    _, parameters = sign_in_for_code(client, upstream, app)
    _, page = authorize(client, app)

    assert parameters["code"]
    assert "oauthgw_login" not in client.cookies or not client.cookies["oauthgw_login"].value
    assert page.status_code == 200 and b'name="password"' in page.content


def test_an_admin_signed_into_the_admin_is_no_resource_owner_here(client, upstream, django_user_model):
    staff = django_user_model.objects.create_superuser("operator", "operator@example.test", "a-long-password-1")
    client.force_login(staff)
    app = code_client()

    _, page = authorize(client, app)

    assert page.status_code == 200 and b'name="password"' in page.content
    # The staff account's own password is never accepted at the login page.
    upstream.rejects()
    response = follow_to_client(client, post_login(client, page, username="operator", password="a-long-password-1"))
    assert message(response) == WRONG


def test_a_request_whose_sign_in_expired_before_its_answer_signs_in_again(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    upstream.accepts()
    continuation = post_login(client, page)["Location"]
    LoginSession.objects.update(expires="2000-01-01T00:00:00Z")

    again = client.get(continuation)
    upstream.accepts()
    answered = follow_to_client(client, post_login(client, again))

    assert b'name="password"' in again.content
    assert answered.status_code == 302 and "code=" in answered["Location"]
