"""GatewayOAuth2Validator: the gateway's rules on top of django-oauth-toolkit's validator.

The hooks are called directly with oauthlib requests where the rule is local, and
through the token endpoint where what matters is what reaches the upstream or the
client.
"""

import socket
import time
from urllib.parse import parse_qsl

import pytest
from oauthlib.common import Request
from oauthlib.oauth2.rfc6749 import errors

from oauthgw.exceptions import TemporarilyUnavailableError
from oauthgw.models import ResourceOwner
from oauthgw.toolkit.oauth2_validators import GatewayOAuth2Validator
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db


@pytest.fixture
def validator():
    return GatewayOAuth2Validator()


def oauthlib_request(app, *, scope: str | None = None, remote_addr: str = "192.0.2.10") -> Request:
    request = Request("http://testserver/oauth2/token", http_method="POST", headers={"REMOTE_ADDR": remote_addr})
    request.client = app
    request.scope = scope
    return request


def upstream_form(call) -> dict[str, str]:
    return dict(parse_qsl(call.request.body, keep_blank_values=True))


# --- validate_user ------------------------------------------------------------------------


def test_validate_user_refuses_a_client_without_the_password_grant_before_the_upstream(
    validator, upstream, make_client
):
    app = make_client(grant_types="client_credentials refresh_token")

    with pytest.raises(errors.UnauthorizedClientError):
        validator.validate_user(USERNAME, PASSWORD, app, oauthlib_request(app))

    assert upstream.calls == []


def test_validate_user_refuses_a_scope_outside_the_clients_before_the_upstream(validator, upstream, make_client):
    app = make_client(allowed_scopes="", default_scopes="")

    with pytest.raises(errors.InvalidScopeError):
        validator.validate_user(USERNAME, PASSWORD, app, oauthlib_request(app, scope="hello"))

    assert upstream.calls == []


def test_validate_user_accepts_and_sets_the_shadow_user(validator, upstream, make_client):
    app = make_client()
    upstream.accepts()
    request = oauthlib_request(app, scope="hello")

    assert validator.validate_user(USERNAME, PASSWORD, app, request) is True

    assert request.user == ResourceOwner.objects.get(subject=USERNAME).user


def test_validate_user_returns_false_on_rejection_without_a_user(validator, upstream, make_client):
    app = make_client()
    upstream.rejects()
    request = oauthlib_request(app)

    assert validator.validate_user(USERNAME, PASSWORD, app, request) is False

    assert request.user is None
    assert ResourceOwner.objects.count() == 0


def test_validate_user_turns_an_outage_into_temporarily_unavailable(validator, upstream, make_client):
    app = make_client()
    upstream.answers(503)

    with pytest.raises(TemporarilyUnavailableError) as caught:
        validator.validate_user(USERNAME, PASSWORD, app, oauthlib_request(app))

    assert caught.value.status_code == 503
    assert caught.value.headers == {"Retry-After": "5"}


def test_retry_after_follows_the_setting(validator, upstream, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_RETRY_AFTER": 30}
    app = make_client()
    upstream.answers(500)

    with pytest.raises(TemporarilyUnavailableError) as caught:
        validator.validate_user(USERNAME, PASSWORD, app, oauthlib_request(app))

    assert caught.value.headers == {"Retry-After": "30"}


# --- validate_grant_type -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grant_types", "grant_type", "allowed"),
    [
        ("password", "password", True),
        ("password", "refresh_token", False),
        ("password refresh_token", "refresh_token", True),
        ("client_credentials", "client_credentials", True),
        ("client_credentials", "password", False),
        ("", "password", False),
    ],
)
def test_validate_grant_type_is_an_explicit_opt_in_per_client(validator, make_client, grant_types, grant_type, allowed):
    app = make_client(grant_types=grant_types)

    assert validator.validate_grant_type(app.client_id, grant_type, app, oauthlib_request(app)) is allowed


# --- What reaches the upstream through the token endpoint ---------------------------------------


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("a&b=c", "p&q=r"),
        ("plus+sign", "100%+sure"),
        ("with space", " leading and trailing "),
        ("%41%20", "%2B%26"),
        ("josé.müller", "пароль-密码-ß"),
    ],
)
def test_credentials_reach_the_upstream_unchanged(post_token, upstream, make_client, username, password):
    upstream.accepts()

    response = post_token({"grant_type": "password", "username": username, "password": password}, app=make_client())

    assert response.status_code == 200, response.content
    form = upstream_form(upstream.calls[0])
    assert (form["username"], form["password"]) == (username, password)
    assert ResourceOwner.objects.get().subject == username


def test_upstream_sees_the_gateways_own_client_credentials(post_token, upstream, make_client):
    upstream.accepts()

    post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=make_client())

    # tests/conftest.py configures gateway / gateway-secret.
    assert upstream.calls[0].request.headers["Authorization"] == "Basic Z2F0ZXdheTpnYXRld2F5LXNlY3JldA=="


def test_upstream_sees_the_configured_scope(post_token, upstream, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_SCOPE": "openid"}
    upstream.accepts()

    post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=make_client())

    assert upstream_form(upstream.calls[0])["scope"] == "openid"


def test_upstream_sees_the_socket_peer_when_no_proxy_is_trusted(post_token, upstream, make_client):
    upstream.accepts()

    post_token(
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD},
        app=make_client(),
        REMOTE_ADDR="198.51.100.20",
        HTTP_X_FORWARDED_FOR="6.6.6.6",
    )

    assert upstream.calls[0].request.headers["X-Forwarded-For"] == "198.51.100.20"


def test_upstream_sees_the_address_the_trusted_proxy_saw(post_token, upstream, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "TRUSTED_PROXY_COUNT": 1}
    upstream.accepts()

    post_token(
        {"grant_type": "password", "username": USERNAME, "password": PASSWORD},
        app=make_client(),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )

    assert upstream.calls[0].request.headers["X-Forwarded-For"] == "203.0.113.9"


# --- Outages answered in time ----------------------------------------------------------------


def test_silent_upstream_is_answered_with_503_within_timeout_plus_one_second(post_token, make_client, settings):
    # A listener that never accepts: the kernel completes the handshake, nobody answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        settings.OAUTHGW = {
            **settings.OAUTHGW,
            "UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{port}/token",
            "UPSTREAM_TIMEOUT": 0.5,
        }
        started = time.monotonic()
        response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=make_client())
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert elapsed < 0.5 + 1.0


def test_refused_connection_is_answered_with_503(post_token, make_client, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{port}/token"}

    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=make_client())

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
