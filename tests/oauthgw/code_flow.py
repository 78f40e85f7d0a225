"""Helpers for the authorization code flow's tests: PKCE, the authorization request, the login form, the exchange.

Everything goes through Django's test client and a stubbed upstream
(``tests.oauthgw.conftest.StubUpstream``); the browser tests
(tests/e2e/test_code_flow_in_a_browser.py) drive the same pages in Chromium.
"""

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.factories import ApplicationFactory
from tests.oauthgw.conftest import FORM, PASSWORD, TOKEN_URL, USERNAME, basic_authorization

REDIRECT_URI = "https://app.example/callback"


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), as RFC 7636 section 4.2 makes them."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def code_client(**fields):
    """A confidential, first-party client of the code flow (raw secret on ``.raw_secret``)."""
    values = {
        "grant_types": "authorization_code refresh_token",
        "redirect_uris": REDIRECT_URI,
        "skip_authorization": True,
        **fields,
    }
    return ApplicationFactory(**values)


@dataclass
class Authorization:
    """One authorization request made by a test."""

    app: object
    verifier: str
    challenge: str
    state: str
    redirect_uri: str


def authorize(client, app, *, redirect_uri: str = REDIRECT_URI, pkce=None, **params):
    """GET /oauth2/authorize for ``app``; returns (the Authorization, the response)."""
    verifier, challenge = pkce or pkce_pair()
    state = secrets.token_urlsafe(8)
    query = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": redirect_uri,
        "scope": "hello",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    query = {name: value for name, value in query.items() if value is not None}
    response = client.get("/oauth2/authorize", query)
    return Authorization(app, verifier, challenge, state, redirect_uri), response


def form_fields(response) -> dict[str, str]:
    """The hidden fields of the page's form (its request handle, its client id, the CSRF token)."""
    html = response.content.decode()
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))


def post_login(client, page_response, *, username: str = USERNAME, password: str = PASSWORD, **override):
    return client.post(
        "/oauth2/login", {**form_fields(page_response), "username": username, "password": password, **override}
    )


def follow_to_client(client, response, *, limit: int = 3):
    """Follow the gateway's own redirects; return the response that leaves for the client (or is a page)."""
    for _ in range(limit):
        location = response.get("Location", "")
        if response.status_code not in (302, 303) or not location.startswith("/"):
            return response
        response = client.get(location)
    return response


def callback_parameters(response) -> dict[str, str]:
    """The query of a redirect to the client, one value per name."""
    return {name: values[0] for name, values in parse_qs(urlsplit(response["Location"]).query).items()}


def sign_in_for_code(client, upstream, app, **authorize_params) -> tuple[Authorization, dict]:
    """The whole front channel: authorize, sign in (the upstream accepting), the redirect; its query."""
    authorization, page = authorize(client, app, **authorize_params)
    assert page.status_code == 200, page.content
    upstream.accepts()
    response = follow_to_client(client, post_login(client, page))
    assert response.status_code == 302, response.content
    return authorization, callback_parameters(response)


def exchange(client, authorization: Authorization, code: str, *, verifier: str | None = None, **extra):
    """POST the code to the token endpoint (Basic for a confidential client, client_id for a public one)."""
    app = authorization.app
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier if verifier is None else verifier,
        **extra,
    }
    form = {name: value for name, value in form.items() if value is not None}
    headers = {}
    if app.is_public:
        form.setdefault("client_id", app.client_id)
    else:
        headers["HTTP_AUTHORIZATION"] = basic_authorization(app.client_id, app.raw_secret)
    return client.post(TOKEN_URL, urlencode(form), content_type=FORM, **headers)
