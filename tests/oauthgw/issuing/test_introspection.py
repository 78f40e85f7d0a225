"""``POST /oauth2/introspect`` (RFC 7662): claims for active tokens, nothing else for the rest."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from oauthgw.caching import shared_state
from tests.oauthgw.conftest import FORM, USERNAME, basic_authorization
from tests.support.dpop import DPoPKey

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
URL = "/oauth2/introspect"
INACTIVE = {"active": False}


@pytest.fixture
def resource_server(make_client):
    return make_client(grant_types="client_credentials", can_introspect=True)


@pytest.fixture
def introspect(client, resource_server):
    """POST to the introspection endpoint as ``caller`` (the resource server unless told otherwise)."""

    def post(token: str | None, *, caller=None, secret: str | None = None, **data):
        caller = resource_server if caller is None else caller
        form = {"token": token, **data} if token is not None else data
        authorization = basic_authorization(caller.client_id, caller.raw_secret if secret is None else secret)
        return client.post(URL, urlencode(form), content_type=FORM, HTTP_AUTHORIZATION=authorization)

    return post


def test_without_client_credentials_is_invalid_client(client, password_login, make_client):
    token = password_login(make_client())["access_token"]

    response = client.post(URL, urlencode({"token": token}), content_type=FORM)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_wrong_client_secret_is_invalid_client(introspect, password_login, make_client):
    token = password_login(make_client())["access_token"]

    response = introspect(token, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_disabled_resource_server_is_invalid_client(introspect, password_login, make_client):
    caller = make_client(can_introspect=True, enabled=False)
    token = password_login(make_client())["access_token"]

    response = introspect(token, caller=caller)

    assert response.status_code == 401


def test_client_without_introspection_right_is_forbidden(introspect, password_login, make_client):
    app = make_client(can_introspect=False)
    token = password_login(app)["access_token"]

    response = introspect(token, caller=app)

    assert response.status_code == 403
    assert "active" not in response.json()


def test_missing_token_parameter_is_invalid_request(introspect):
    response = introspect(None)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_active_access_token_gets_its_claims(introspect, password_login, make_client):
    app = make_client()
    token = password_login(app)["access_token"]
    stored = AccessToken.objects.get()

    response = introspect(token)

    assert response.status_code == 200
    claims = response.json()
    assert claims["active"] is True
    assert claims["scope"] == "hello"
    assert claims["client_id"] == app.client_id
    assert claims["username"] == USERNAME
    assert claims["exp"] == int(stored.expires.timestamp())
    assert claims["token_type"] == "Bearer"


@pytest.mark.skipif(not shared_state.uses_redis(), reason="the bearer cache exists only with Redis (REDIS_URL)")
def test_introspecting_a_token_again_reads_no_token_row(introspect, password_login, make_client):
    token = password_login(make_client())["access_token"]
    assert introspect(token).json()["active"] is True

    with CaptureQueriesContext(connection) as captured:
        claims = introspect(token).json()

    assert claims["active"] is True
    assert not [query for query in captured.captured_queries if "oauth2_provider_accesstoken" in query["sql"]]


def test_a_token_revoked_after_it_was_introspected_is_inactive(introspect, password_login, make_client, client):
    app = make_client()
    token = password_login(app)["access_token"]
    assert introspect(token).json()["active"] is True

    client.post(
        "/oauth2/revoke",
        urlencode({"token": token}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )

    assert introspect(token).json() == {"active": False}


def test_introspection_response_is_not_cacheable(introspect, password_login, make_client):
    token = password_login(make_client())["access_token"]

    response = introspect(token)

    assert response["Cache-Control"] == "no-store"


def test_client_credentials_token_has_no_username(introspect, post_token, make_client):
    app = make_client(grant_types="client_credentials")
    token = post_token({"grant_type": "client_credentials"}, app=app).json()["access_token"]

    claims = introspect(token).json()

    assert claims["active"] is True
    assert claims["client_id"] == app.client_id
    assert "username" not in claims


def test_active_refresh_token_gets_its_claims(introspect, password_login, make_client):
    app = make_client()
    refresh_token = password_login(app)["refresh_token"]

    claims = introspect(refresh_token, token_type_hint="refresh_token").json()

    assert claims["active"] is True
    assert claims["client_id"] == app.client_id


@pytest.mark.parametrize("hint", ["refresh_token", "", "access_token"])
def test_a_refresh_token_is_introspected_without_a_token_type(introspect, password_login, make_client, hint):
    # RFC 7662 section 2.2: token_type is an RFC 6749 section 7.1 access token
    # type such as "Bearer"; a refresh token has none, so the member is omitted.
    refresh_token = password_login(make_client())["refresh_token"]

    claims = introspect(refresh_token, token_type_hint=hint).json()

    assert claims["active"] is True
    assert "token_type" not in claims


def test_revoked_access_token_is_only_inactive(introspect, password_login, make_client):
    token = password_login(make_client())["access_token"]
    AccessToken.objects.get().revoke()

    assert introspect(token).json() == INACTIVE


def test_expired_access_token_is_only_inactive(introspect, password_login, make_client):
    token = password_login(make_client())["access_token"]
    stored = AccessToken.objects.get()
    stored.expires = timezone.now() - timedelta(seconds=1)
    stored.save()

    assert introspect(token).json() == INACTIVE


def test_unknown_token_is_only_inactive(introspect):
    assert introspect("never-issued").json() == INACTIVE


def test_used_refresh_token_is_only_inactive(introspect, post_token, password_login, make_client):
    app = make_client()
    refresh_token = password_login(app)["refresh_token"]
    post_token({"grant_type": "refresh_token", "refresh_token": refresh_token}, app=app)

    assert introspect(refresh_token, token_type_hint="refresh_token").json() == INACTIVE


def test_token_of_a_disabled_client_is_only_inactive(introspect, password_login, make_client):
    app = make_client()
    token = password_login(app)["access_token"]
    app.enabled = False
    app.save()

    assert introspect(token).json() == INACTIVE


def test_refresh_token_of_a_disabled_client_is_only_inactive(introspect, password_login, make_client):
    app = make_client()
    refresh_token = password_login(app)["refresh_token"]
    app.enabled = False
    app.save()

    assert introspect(refresh_token, token_type_hint="refresh_token").json() == INACTIVE


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("token={0}&token=other", FORM),
        ("token={0}&x=\xff", FORM),
        ("token={0}&padding=" + "a" * 9000, FORM),
        (
            "--b\r\nContent-Disposition: form-data; name=token\r\n\r\n{0}\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["repeated token", "not UTF-8", "body too large", "multipart"],
)
def test_malformed_introspection_request_is_invalid_request(
    client, resource_server, password_login, make_client, body, content_type
):
    token = password_login(make_client())["access_token"]

    response = client.post(
        URL,
        body.format(token).encode("latin-1"),
        content_type=content_type,
        HTTP_AUTHORIZATION=basic_authorization(resource_server.client_id, resource_server.raw_secret),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "active" not in response.json()


def test_a_dpop_bound_token_is_introspected_with_its_type_and_key(introspect, post_token, make_client):
    # RFC 9449 section 6.2: the resource server checks the proof's key against cnf.jkt itself.
    key = DPoPKey("ES256")
    response = post_token(
        {"grant_type": "client_credentials"},
        app=make_client(),
        HTTP_DPOP=key.proof("POST", "http://testserver/oauth2/token"),
    )

    claims = introspect(response.json()["access_token"]).json()

    assert claims["active"] is True
    assert claims["token_type"] == "DPoP"
    assert claims["cnf"] == {"jkt": key.jkt}


def test_a_bearer_token_is_introspected_without_cnf(introspect, post_token, make_client):
    response = post_token({"grant_type": "client_credentials"}, app=make_client())

    claims = introspect(response.json()["access_token"]).json()

    assert claims["token_type"] == "Bearer"
    assert "cnf" not in claims
