"""``GET /oauth2/authorize`` without a browser: what is refused, with a page or a redirect, and what is answered."""

import pytest
from django.test import Client

from oauthgw.middleware import HEADER
from oauthgw.models import AuthorizationCode, AuthorizationRequest
from tests.oauthgw.code_flow import (
    REDIRECT_URI,
    authorize,
    callback_parameters,
    code_client,
    form_fields,
    post_login,
    sign_in_for_code,
)

pytestmark = pytest.mark.django_db

ISS = "iss=http%3A%2F%2Ftestserver"


def assert_error_page(response, status: int = 400) -> None:
    """An HTML page for the person; never a redirect to where the request said."""
    assert response.status_code == status, response.content
    assert "Location" not in response
    assert response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]


def assert_error_redirect(response, app, error: str, state: str | None) -> dict:
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(REDIRECT_URI + "?")
    parameters = callback_parameters(response)
    assert parameters["error"] == error
    assert parameters.get("state") == state
    assert parameters["iss"] == "http://testserver"
    assert "code" not in parameters
    return parameters


# --- Before the client and its redirect URI are known: an error page ------------------------


def test_an_unknown_client_gets_an_error_page(client):
    response = client.get(
        "/oauth2/authorize", {"response_type": "code", "client_id": "nobody", "redirect_uri": REDIRECT_URI}
    )

    assert_error_page(response)


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        REDIRECT_URI + "?next=/admin",
        REDIRECT_URI + "/more",
        REDIRECT_URI.replace("app.example", "APP.example"),
        REDIRECT_URI + "#fragment",
        "http://app.example/callback",
    ],
)
def test_an_unregistered_or_altered_redirect_uri_gets_a_page_and_never_a_redirect(client, redirect_uri):
    app = code_client()

    _, response = authorize(client, app, redirect_uri=redirect_uri)

    assert_error_page(response)
    assert redirect_uri.encode() not in response.content or b"href" not in response.content
    assert not AuthorizationRequest.objects.exists()


def test_a_disabled_client_gets_an_error_page(client):
    app = code_client(enabled=False)

    _, response = authorize(client, app)

    assert_error_page(response)


def test_a_public_clients_loopback_redirect_uri_may_use_any_port_and_nothing_else_may_differ(client):
    app = code_client(client_type="public", redirect_uris="http://127.0.0.1/callback")

    _, other_port = authorize(client, app, redirect_uri="http://127.0.0.1:51234/callback")
    _, other_path = authorize(client, app, redirect_uri="http://127.0.0.1:51234/callback/x")
    _, localhost = authorize(client, app, redirect_uri="http://localhost:51234/callback")

    assert other_port.status_code == 200  # the login page
    assert_error_page(other_path)
    assert_error_page(localhost)


def test_a_confidential_clients_loopback_redirect_uri_is_compared_whole(client):
    app = code_client(redirect_uris="http://127.0.0.1:8080/callback")

    _, response = authorize(client, app, redirect_uri="http://127.0.0.1:8081/callback")

    assert_error_page(response)


# --- Once the redirect URI is known: back to the client with error, state and iss --------------


def test_a_request_without_pkce_is_sent_back_with_invalid_request(client):
    app = code_client()

    authorization, response = authorize(client, app, code_challenge=None, code_challenge_method=None)

    parameters = assert_error_redirect(response, app, "invalid_request", authorization.state)
    assert "challenge" in parameters["error_description"].lower()


@pytest.mark.parametrize("method", ["plain", None])
def test_the_plain_method_is_refused_before_the_login_page(client, method):
    # RFC 7636 section 4.3: no method means plain.
    app = code_client()

    authorization, response = authorize(client, app, code_challenge_method=method)

    assert_error_redirect(response, app, "invalid_request", authorization.state)
    assert not AuthorizationRequest.objects.exists()


@pytest.mark.parametrize("response_type", ["token", "code token", "id_token"])
def test_only_response_type_code_is_served(client, response_type):
    app = code_client()

    authorization, response = authorize(client, app, response_type=response_type)

    assert_error_redirect(response, app, "unsupported_response_type", authorization.state)


def test_a_client_without_the_authorization_code_grant_is_unauthorized(client):
    app = code_client(grant_types="password refresh_token", redirect_uris=REDIRECT_URI)

    authorization, response = authorize(client, app)

    assert_error_redirect(response, app, "unauthorized_client", authorization.state)


def test_a_scope_the_client_may_not_have_is_invalid_scope(client):
    app = code_client()

    authorization, response = authorize(client, app, scope="admin")

    assert_error_redirect(response, app, "invalid_scope", authorization.state)


def test_prompt_none_without_a_login_session_is_login_required_without_a_page(client):
    app = code_client()

    authorization, response = authorize(client, app, prompt="none")

    assert_error_redirect(response, app, "login_required", authorization.state)


def test_prompt_none_when_consent_is_needed_is_consent_required(client, upstream):
    app = code_client()
    other = code_client(skip_authorization=False)
    sign_in_for_code(client, upstream, app)

    authorization, response = authorize(client, other, prompt="none")

    assert_error_redirect(response, other, "consent_required", authorization.state)


def test_prompt_none_with_a_login_session_answers_at_once(client, upstream):
    app = code_client()
    sign_in_for_code(client, upstream, app)

    authorization, response = authorize(client, app, prompt="none")

    assert response.status_code == 302
    parameters = callback_parameters(response)
    assert parameters["state"] == authorization.state
    assert parameters["code"]


def test_a_resource_parameter_is_refused_with_invalid_target(client):
    app = code_client()

    authorization, response = authorize(client, app, resource="https://api.example")

    assert_error_redirect(response, app, "invalid_target", authorization.state)


# --- The login page ----------------------------------------------------------------------------


def test_the_login_page_names_the_client_and_carries_only_its_requests_handle(client):
    app = code_client(name="Expense reports")

    _, response = authorize(client, app)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Expense reports" in html
    assert 'autocomplete="username"' in html and 'autocomplete="current-password"' in html
    assert '<label for="id_username">' in html and '<label for="id_password">' in html
    assert set(form_fields(response)) == {"csrfmiddlewaretoken", "request", "client_id"}
    assert AuthorizationRequest.objects.get().handle == form_fields(response)["request"]


def test_the_login_page_has_the_admins_security_headers_and_no_cache(client):
    app = code_client()

    _, response = authorize(client, app)

    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    policy = response[HEADER]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # The form's redirect ends at the client's redirect URI, and nowhere else.
    assert "form-action 'self' https://app.example;" in policy + ";"


def test_the_login_form_is_refused_without_its_csrf_token():
    csrf_checking = Client(enforce_csrf_checks=True)
    app = code_client()
    _, page = authorize(csrf_checking, app)
    fields = form_fields(page)
    del fields["csrfmiddlewaretoken"]

    response = csrf_checking.post("/oauth2/login", {**fields, "username": "alice", "password": "pw"})

    assert response.status_code == 403


def test_a_login_form_posted_to_another_clients_request_is_refused(client, upstream):
    app, other = code_client(name="shown"), code_client(name="other")
    _, page = authorize(client, app)
    _, other_page = authorize(client, other)

    response = post_login(client, page, request=form_fields(other_page)["request"])

    assert_error_page(response)
    assert upstream.calls == []


def test_a_login_form_for_an_expired_request_is_refused(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    AuthorizationRequest.objects.update(expires="2000-01-01T00:00:00Z")

    response = post_login(client, page)

    assert_error_page(response)
    assert upstream.calls == []


# --- Consent ----------------------------------------------------------------------------------


def test_a_client_that_is_not_first_party_asks_for_consent_listing_its_scopes(client, upstream):
    app = code_client(name="Partner app", skip_authorization=False)
    _, page = authorize(client, app)
    upstream.accepts()

    consent = client.get(post_login(client, page)["Location"])

    assert consent.status_code == 200
    assert b"Call the HelloWorld API" in consent.content
    assert not AuthorizationCode.objects.exists()
    allowed = client.post("/oauth2/consent", {**form_fields(consent), "allow": "1"})
    answer = client.get(allowed["Location"])
    assert callback_parameters(answer)["code"]


def test_denying_consent_sends_access_denied_back(client, upstream):
    app = code_client(skip_authorization=False)
    authorization, page = authorize(client, app)
    upstream.accepts()
    consent = client.get(post_login(client, page)["Location"])

    denied = client.post("/oauth2/consent", {**form_fields(consent), "deny": "1"})

    assert_error_redirect(denied, app, "access_denied", authorization.state)
    assert not AuthorizationCode.objects.exists()


# --- One answer per request ----------------------------------------------------------------------


def test_reloading_the_continuation_answers_with_the_same_code_never_a_second(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    upstream.accepts()
    continuation = post_login(client, page)["Location"]

    first, again = client.get(continuation), client.get(continuation)

    assert first["Location"] == again["Location"]
    assert AuthorizationCode.objects.count() == 1


def test_the_same_login_form_submitted_twice_asks_the_upstream_once(client, upstream):
    app = code_client()
    _, page = authorize(client, app)
    upstream.accepts()

    first, second = post_login(client, page), post_login(client, page)

    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert len(upstream.calls) == 1


def test_pkce_is_required_even_for_a_confidential_client(client):
    app = code_client()

    _, response = authorize(client, app, pkce=("unused", None))

    assert response.status_code == 302
    assert callback_parameters(response)["error"] == "invalid_request"


def test_state_is_passed_back_and_iss_added(client, upstream):
    app = code_client()

    authorization, parameters = sign_in_for_code(client, upstream, app)

    assert parameters["state"] == authorization.state
    assert parameters["iss"] == "http://testserver"
