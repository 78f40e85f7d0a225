"""The authorization code flow with PKCE in Chromium, through real client libraries, against a live gateway.

Authlib (Python) and oauth4webapi (Node, tests/js/code_flow.mjs) each make the
authorization request, a real browser (Playwright driving Debian's chromium, as
the admin's tests do) fills the gateway's login page, and the library validates
the response (state, and iss for oauth4webapi), exchanges the code with its PKCE
verifier, calls HelloWorld, refreshes and revokes. The resource owners'
authorization server is the project's development server, then Glewlwyd.

The client is public (no secret) with a loopback redirect URI registered without
a port and used with the port of the app's own listener (RFC 8252 section 7.3),
which records where the gateway sent the browser.
"""

import json
import shutil
import subprocess
import threading

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from oauthgw.models import AuditEvent, LoginSession, UpstreamSession
from tests.e2e.conftest import PASSWORD, USER, Gateway
from tests.factories import ApplicationFactory
from tests.oauthgw.admin.test_browser import CHROMIUM, browser  # noqa: F401 (the fixture)
from tests.support.dpop_client import DPoPClient
from tests.support.loopback_redirect import loopback_listener
from tests.support.processes import ROOT

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/install-browser.sh"),
]

SCRIPT = ROOT / "tests" / "js" / "code_flow.mjs"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"
REGISTERED_REDIRECT_URI = "http://127.0.0.1/callback"
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"


@pytest.fixture
def insecure_transport(monkeypatch):
    # Authlib refuses http:// unless told the transport is a test one.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def public_client(transactional_db):
    """A native app: public, first-party, a loopback redirect URI without a port."""
    return ApplicationFactory(
        name="native-app",
        client_type="public",
        grant_types="authorization_code refresh_token",
        redirect_uris=REGISTERED_REDIRECT_URI,
        skip_authorization=True,
    )


@pytest.fixture
def listener():
    with loopback_listener() as listener:
        yield listener


@pytest.fixture
def redirect_uri(listener) -> str:
    # The port the app's loopback listener got from the system: not in the registered URI.
    return listener.redirect_uri


@pytest.fixture
def context(browser, listener):  # noqa: F811
    context = browser.new_context()
    context.redirected_to = listener.received
    yield context
    context.close()


def sign_in(context, authorization_url: str, *, username: str = USER, password: str = PASSWORD) -> tuple[str, bool]:
    """Open ``authorization_url``; fill the login page if it is shown; return (where the browser was sent, asked)."""
    page = context.new_page()
    try:
        before = len(context.redirected_to)
        page.goto(authorization_url)
        asked = page.locator("#id_password").count() > 0
        if asked:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "login-page.png"))
            assert page.get_by_label("Username").get_attribute("autocomplete") == "username"
            assert page.get_by_label("Password").get_attribute("autocomplete") == "current-password"
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("#back")
        assert len(context.redirected_to) == before + 1, page.content()
        return context.redirected_to[-1], asked
    finally:
        page.close()


def hello(gateway: Gateway, access_token: str) -> int:
    return requests.get(gateway.hello_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10).status_code


def authlib_flow(gateway: Gateway, client, context, redirect_uri: str, **authorize_params) -> dict:
    """Authlib's code flow with PKCE; returns what it saw."""
    session = OAuth2Session(
        client.client_id,
        redirect_uri=redirect_uri,
        scope="hello",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, _state = session.create_authorization_url(
        f"{gateway.url}/oauth2/authorize", code_verifier=verifier, **authorize_params
    )
    callback, asked = sign_in(context, url)
    tokens = session.fetch_token(gateway.token_url, authorization_response=callback, code_verifier=verifier)
    return {"callback": callback, "asked": asked, "tokens": tokens, "session": session}


def authlib_uses_refreshes_and_revokes(gateway: Gateway, seen: dict) -> None:
    session, tokens = seen["session"], seen["tokens"]
    assert tokens["token_type"] == "Bearer"
    assert hello(gateway, tokens["access_token"]) == 200

    refreshed = session.refresh_token(gateway.token_url, refresh_token=tokens["refresh_token"])

    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert hello(gateway, refreshed["access_token"]) == 200
    assert hello(gateway, tokens["access_token"]) == 401
    revoked = session.revoke_token(f"{gateway.url}/oauth2/revoke", token=refreshed["refresh_token"])
    assert revoked.status_code == 200
    assert hello(gateway, refreshed["access_token"]) == 401


def oauth4webapi_flow(gateway: Gateway, client, context, redirect_uri: str, *mode: str) -> dict:
    """tests/js/code_flow.mjs, in ``mode`` ``dpop`` with DPoP proofs; returns what it saw."""
    node = shutil.which("node")
    assert node and (NODE_MODULES / "oauth4webapi").is_dir(), "run scripts/install-js-deps.sh"
    process = subprocess.Popen(
        [node, str(SCRIPT), gateway.url, client.client_id, redirect_uri, *mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    timer = threading.Timer(120, process.kill)
    timer.start()
    try:
        first = process.stdout.readline()
        assert first, process.stderr.read()
        callback, asked = sign_in(context, json.loads(first)["authorization_url"])
        out, err = process.communicate(callback + "\n")
    finally:
        timer.cancel()
    assert process.returncode == 0, err
    return {"asked": asked, **json.loads(out)}


def assert_oauth4webapi_saw_the_whole_flow(seen: dict) -> None:
    assert "unexpected" not in seen, seen
    assert seen["iss_checked"] is True
    assert (seen["token_type"], seen["refresh_token"], seen["hello"]) == ("bearer", True, 200)
    assert seen["refreshed"] is True
    assert (seen["hello_after_refresh"], seen["old_access_token_after_refresh"]) == (200, 401)
    assert seen["hello_after_revocation"] == 401
    assert seen["code_replay_status"] in (400, 401)


# --- In front of the development authorization server ------------------------------------


def test_authlib_signs_in_through_the_page_then_refreshes_and_revokes(
    gateway, public_client, context, redirect_uri, insecure_transport
):
    seen = authlib_flow(gateway, public_client, context, redirect_uri)

    assert seen["asked"] is True
    assert seen["callback"].startswith(redirect_uri + "?")
    assert f"iss={requests.utils.quote(gateway.url, safe='')}" in seen["callback"]
    authlib_uses_refreshes_and_revokes(gateway, seen)
    outcomes = set(AuditEvent.objects.filter(grant_type="authorization_code").values_list("outcome", flat=True))
    assert {"signed_in", "issued"} <= outcomes


def test_oauth4webapi_validates_the_response_exchanges_refreshes_and_revokes(
    gateway, public_client, context, redirect_uri
):
    seen = oauth4webapi_flow(gateway, public_client, context, redirect_uri)

    assert seen["asked"] is True
    assert_oauth4webapi_saw_the_whole_flow(seen)


def test_a_second_client_in_the_same_browser_is_not_asked_again_but_prompt_login_is(
    gateway, public_client, context, redirect_uri, insecure_transport
):
    second = ApplicationFactory(
        name="second-app",
        client_type="public",
        grant_types="authorization_code refresh_token",
        redirect_uris=REGISTERED_REDIRECT_URI,
        skip_authorization=True,
    )
    first = authlib_flow(gateway, public_client, context, redirect_uri)
    [cookie] = [cookie for cookie in context.cookies() if cookie["name"] == "oauthgw_login"]

    again = authlib_flow(gateway, second, context, redirect_uri)
    forced = authlib_flow(gateway, second, context, redirect_uri, prompt="login")

    assert (first["asked"], again["asked"], forced["asked"]) == (True, False, True)
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/oauth2/")
    for seen in (first, again, forced):
        assert hello(gateway, seen["tokens"]["access_token"]) == 200
    # prompt=login started a new login session and ended the one it replaced.
    assert LoginSession.objects.count() == 1
    # Two families of one login: the upstream's refresh token went to the first only.
    kept = UpstreamSession.objects.filter(client=second).values_list("encrypted_refresh_token", flat=True)
    assert sorted(bool(value) for value in kept) == [False, True]


def test_the_admins_session_in_the_same_browser_is_no_resource_owner(
    gateway, public_client, context, redirect_uri, insecure_transport, django_user_model
):
    django_user_model.objects.create_superuser("operator", "operator@example.test", "a-long-operator-password")
    page = context.new_page()
    page.goto(f"{gateway.url}/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a-long-operator-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    page.close()

    seen = authlib_flow(gateway, public_client, context, redirect_uri)

    assert seen["asked"] is True
    page = context.new_page()
    page.goto(f"{gateway.url}/admin/")
    assert page.locator("#site-name").count() == 1, "signing a resource owner in logged the admin out"
    page.close()


# --- DPoP (RFC 9449): the code's tokens bound to the app's key ---------------------------------


def test_oauth4webapi_binds_the_codes_tokens_to_its_dpop_key(gateway, public_client, context, redirect_uri):
    seen = oauth4webapi_flow(gateway, public_client, context, redirect_uri, "dpop")

    assert_oauth4webapi_saw_the_whole_flow({**seen, "token_type": "bearer"})
    assert (seen["token_type"], seen["refreshed_token_type"]) == ("dpop", "dpop")
    # A copy of the refresh token without the key is refused, and spoils nothing for the app.
    assert seen["stolen_refresh_token"] == "invalid_grant"


def test_authlib_with_proofs_by_joserfc_gets_and_refreshes_dpop_bound_tokens(
    gateway, public_client, context, redirect_uri, insecure_transport
):
    app = DPoPClient()
    session = OAuth2Session(
        public_client.client_id,
        redirect_uri=redirect_uri,
        scope="hello",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, _state = session.create_authorization_url(f"{gateway.url}/oauth2/authorize", code_verifier=verifier)
    callback, _ = sign_in(context, url)

    tokens = session.fetch_token(
        gateway.token_url,
        authorization_response=callback,
        code_verifier=verifier,
        headers={"DPoP": app.proof("POST", gateway.token_url)},
    )
    stolen = requests.post(
        gateway.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": public_client.client_id,
        },
        headers={"DPoP": DPoPClient().proof("POST", gateway.token_url)},
        timeout=10,
    )
    refreshed = session.refresh_token(
        gateway.token_url, refresh_token=tokens["refresh_token"], headers={"DPoP": app.proof("POST", gateway.token_url)}
    )

    assert (tokens["token_type"], refreshed["token_type"]) == ("DPoP", "DPoP")
    assert stolen.json()["error"] == "invalid_grant"
    assert app.call("GET", gateway.hello_url, refreshed["access_token"]).status_code == 200
    assert hello(gateway, refreshed["access_token"]) == 401


# --- In front of Glewlwyd ----------------------------------------------------------------------


@pytest.fixture
def glewlwyd_gateway(glewlwyd, live_server, settings):
    settings.OAUTHGW = {
        "UPSTREAM_TOKEN_URL": glewlwyd.token_url,
        "UPSTREAM_CLIENT_ID": glewlwyd.client_id,
        "UPSTREAM_CLIENT_SECRET": glewlwyd.client_secret,
        "UPSTREAM_SCOPE": glewlwyd.scope,
        "UPSTREAM_TIMEOUT": 5.0,
    }
    return Gateway(live_server.url)


def test_authlib_against_glewlwyd(glewlwyd_gateway, public_client, context, redirect_uri, insecure_transport):
    seen = authlib_flow(glewlwyd_gateway, public_client, context, redirect_uri)

    assert seen["asked"] is True
    authlib_uses_refreshes_and_revokes(glewlwyd_gateway, seen)


def test_oauth4webapi_against_glewlwyd(glewlwyd_gateway, public_client, context, redirect_uri):
    seen = oauth4webapi_flow(glewlwyd_gateway, public_client, context, redirect_uri)

    assert_oauth4webapi_saw_the_whole_flow(seen)


def test_the_page_refuses_a_wrong_password_at_glewlwyd_without_saying_whether_the_user_exists(
    glewlwyd_gateway, public_client, context, redirect_uri
):
    url = (
        f"{glewlwyd_gateway.url}/oauth2/authorize?response_type=code&client_id={public_client.client_id}"
        f"&redirect_uri={redirect_uri}&code_challenge={'A' * 43}&code_challenge_method=S256"
    )
    messages = []
    for username, password in ((USER, "not-the-password"), ("nobody-here", PASSWORD)):
        page = context.new_page()
        page.goto(url)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        messages.append(page.locator("#login-message").inner_text())
        page.close()

    assert messages[0] == messages[1] == "The username or password is not correct."
    assert context.redirected_to == []
