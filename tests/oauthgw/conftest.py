"""Helpers for the authorization server's tests: a stubbed upstream and token-endpoint calls.

The upstream is stubbed at our own client boundary: ``responses`` patches the
requests transport that ``oauthgw.upstream.client`` uses, so nothing here opens a network
connection.
"""

import base64
from urllib.parse import quote_plus, urlencode

import pytest
import responses

FORM = "application/x-www-form-urlencoded"
TOKEN_URL = "/oauth2/token"
USERNAME = "alice"
PASSWORD = "correct horse battery staple"


def basic_authorization(client_id: str, client_secret: str) -> str:
    """An HTTP Basic header value as RFC 6749 section 2.3.1 builds it (form-encode, then Base64)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


class StubUpstream:
    """The external authorization server as the gateway's upstream client sees it."""

    def __init__(self, mock: responses.RequestsMock, url: str):
        self.mock = mock
        self.url = url

    def accepts(self) -> None:
        self.mock.add(
            responses.POST, self.url, json={"access_token": "upstream-token", "token_type": "bearer", "expires_in": 60}
        )

    def answers(self, status: int, **kwargs) -> None:
        self.mock.add(responses.POST, self.url, status=status, **kwargs)

    def rejects(self) -> None:
        # Glewlwyd's answer to a wrong password: 403 with an empty body.
        self.answers(403, body=b"")

    @property
    def calls(self) -> list:
        return list(self.mock.calls)


@pytest.fixture
def upstream(upstream_url):
    """A stubbed upstream; any request it was not told about fails the request loudly."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield StubUpstream(mock, upstream_url)


@pytest.fixture
def post_token(client):
    """POST a form to the token endpoint, authenticating ``app`` with Basic unless told otherwise."""

    def post(data: dict, *, app=None, secret: str | None = None, **extra):
        if app is not None:
            raw_secret = app.raw_secret if secret is None else secret
            extra.setdefault("HTTP_AUTHORIZATION", basic_authorization(app.client_id, raw_secret))
        return client.post(TOKEN_URL, urlencode(data), content_type=FORM, **extra)

    return post


@pytest.fixture
def password_login(post_token, upstream):
    """Obtain a token for ``username`` through the password grant, the upstream accepting it."""

    def login(app, *, username: str = USERNAME, **data):
        upstream.accepts()
        response = post_token({"grant_type": "password", "username": username, "password": PASSWORD, **data}, app=app)
        assert response.status_code == 200, response.content
        return response.json()

    return login
