"""``POST /oauth2/revoke`` (RFC 7009): a client ends its own tokens, and only its own."""

from urllib.parse import urlencode

import pytest

from tests.oauthgw.conftest import FORM, basic_authorization

pytestmark = pytest.mark.django_db

URL = "/oauth2/revoke"


@pytest.fixture
def revoke(client):
    def post(app, token: str, **data):
        return client.post(
            URL,
            urlencode({"token": token, **data}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        )

    return post


def hello(client, token: str):
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}")


def refresh(post_token, app, refresh_token: str):
    return post_token({"grant_type": "refresh_token", "refresh_token": refresh_token}, app=app)


def test_revoked_access_token_is_rejected_by_the_api(client, revoke, password_login, make_client):
    app = make_client()
    token = password_login(app)["access_token"]
    assert hello(client, token).status_code == 200

    response = revoke(app, token, token_type_hint="access_token")

    assert response.status_code == 200
    after = hello(client, token)
    assert after.status_code == 401
    assert 'error="invalid_token"' in after["WWW-Authenticate"]


def test_revoked_access_token_takes_its_refresh_token_along(revoke, post_token, password_login, make_client):
    app = make_client()
    issued = password_login(app)

    revoke(app, issued["access_token"])

    assert refresh(post_token, app, issued["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoked_refresh_token_cannot_refresh(revoke, post_token, password_login, make_client):
    app = make_client()
    issued = password_login(app)

    response = revoke(app, issued["refresh_token"], token_type_hint="refresh_token")

    assert response.status_code == 200
    after = refresh(post_token, app, issued["refresh_token"])
    assert after.status_code == 401
    assert after.json()["error"] == "invalid_grant"


def test_revoked_refresh_token_takes_its_access_token_along(client, revoke, password_login, make_client):
    app = make_client()
    issued = password_login(app)

    revoke(app, issued["refresh_token"], token_type_hint="refresh_token")

    assert hello(client, issued["access_token"]).status_code == 401


def test_revocation_without_a_hint_finds_a_refresh_token(revoke, post_token, password_login, make_client):
    app = make_client()
    issued = password_login(app)

    revoke(app, issued["refresh_token"])

    assert refresh(post_token, app, issued["refresh_token"]).status_code == 401


def test_revoking_another_clients_token_does_nothing(client, revoke, password_login, make_client):
    owner, other = make_client(), make_client()
    token = password_login(owner)["access_token"]

    response = revoke(other, token)

    assert response.status_code == 200
    assert hello(client, token).status_code == 200


def test_revoking_another_clients_refresh_token_does_nothing(revoke, post_token, password_login, make_client):
    owner, other = make_client(), make_client()
    issued = password_login(owner)

    revoke(other, issued["refresh_token"], token_type_hint="refresh_token")

    assert refresh(post_token, owner, issued["refresh_token"]).status_code == 200


def test_unknown_token_is_200(revoke, make_client):
    response = revoke(make_client(), "never-issued")

    assert response.status_code == 200


def test_revocation_without_client_credentials_is_invalid_client(client, password_login, make_client):
    token = password_login(make_client())["access_token"]

    response = client.post(URL, urlencode({"token": token}), content_type=FORM)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert hello(client, token).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("token={0}&token=other", FORM),
        ("token={0}&x=\xff", FORM),
        ("token={0}&padding=" + "a" * 9000, FORM),
        ('{{"token": "{0}"}}', "application/json"),
    ],
    ids=["repeated token", "not UTF-8", "body too large", "JSON"],
)
def test_malformed_revocation_request_is_invalid_request_and_revokes_nothing(
    client, password_login, make_client, body, content_type
):
    app = make_client()
    token = password_login(app)["access_token"]
    raw = body.format(token).encode("latin-1")

    response = client.post(
        URL, raw, content_type=content_type, HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret)
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert hello(client, token).status_code == 200
