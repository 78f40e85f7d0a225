"""Admin tests: a superuser's test client, and token-endpoint calls to check what the admin did."""

import base64
from urllib.parse import quote_plus, urlencode

import pytest
import responses

FORM = "application/x-www-form-urlencoded"


def basic(client_id: str, secret: str) -> str:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


@pytest.fixture
def client_credentials_token(client):
    """POST grant_type=client_credentials for ``client_id``/``secret``; returns the response."""

    def post(client_id: str, secret: str):
        return client.post(
            "/oauth2/token",
            urlencode({"grant_type": "client_credentials"}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic(client_id, secret),
        )

    return post


@pytest.fixture
def upstream_mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


@pytest.fixture
def password_token(client, make_client, upstream_mock, upstream_url):
    """Tokens for the resource owner "alice" through the password grant (the upstream accepts)."""
    upstream_mock.add(responses.POST, upstream_url, json={"access_token": "upstream", "token_type": "bearer"})
    app = make_client(name="web-app")
    response = client.post(
        "/oauth2/token",
        urlencode({"grant_type": "password", "username": "alice", "password": "alice-password"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(app.client_id, app.raw_secret),
    )
    assert response.status_code == 200, response.content
    return response.json()
