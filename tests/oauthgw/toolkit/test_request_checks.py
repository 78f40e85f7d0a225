"""Hostile or malformed token requests are refused before any client lookup or upstream call."""

import base64

import pytest
from django.test import RequestFactory

from oauthgw.toolkit.request_checks import describe_token_request
from tests.oauthgw.conftest import FORM, PASSWORD, TOKEN_URL, USERNAME, basic_authorization

pytestmark = pytest.mark.django_db

PASSWORD_BODY = f"grant_type=password&username={USERNAME}&password=secret"


@pytest.fixture
def post_raw(client, make_client):
    """POST ``body`` as given, authenticated with Basic as a valid client unless told otherwise."""
    app = make_client()

    def post(body, *, content_type: str = FORM, **extra):
        extra.setdefault("HTTP_AUTHORIZATION", basic_authorization(app.client_id, app.raw_secret))
        return client.post(TOKEN_URL, body, content_type=content_type, **extra)

    post.app = app
    return post


def assert_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    "content_type", ["application/json", "multipart/form-data; boundary=x", "text/plain", "application/x-www-form"]
)
def test_body_that_is_not_a_form_is_invalid_request(post_raw, upstream, content_type):
    response = post_raw(PASSWORD_BODY, content_type=content_type)

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_form_with_a_charset_other_than_utf8_is_invalid_request(post_raw, upstream):
    response = post_raw(PASSWORD_BODY, content_type=FORM + "; charset=iso-8859-1")

    assert_error(response, 400, "invalid_request")


def test_form_declared_as_utf8_is_accepted(post_raw, upstream):
    upstream.accepts()

    response = post_raw(PASSWORD_BODY, content_type=FORM + "; charset=UTF-8")

    assert response.status_code == 200, response.content


def test_body_that_is_not_utf8_is_invalid_request(post_raw, upstream):
    response = post_raw(b"grant_type=password&username=%E9t%E9&password=secret")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_repeated_parameter_is_invalid_request(post_raw, upstream):
    response = post_raw(PASSWORD_BODY + "&username=mallory")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_nul_character_is_invalid_request(post_raw, upstream):
    response = post_raw(f"grant_type=password&username={USERNAME}%00admin&password=secret")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_body_over_the_size_limit_is_invalid_request(post_raw, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "MAX_TOKEN_REQUEST_BYTES": 512}

    response = post_raw(PASSWORD_BODY + "&padding=" + "x" * 600)

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_username_over_the_length_limit_is_invalid_request(post_raw, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "MAX_USERNAME_LENGTH": 16}

    response = post_raw(f"grant_type=password&username={'u' * 17}&password=secret")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_password_over_the_length_limit_is_invalid_request(post_raw, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "MAX_PASSWORD_LENGTH": 16}

    response = post_raw(f"grant_type=password&username={USERNAME}&password={'p' * 17}")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_client_secret_in_both_basic_and_body_is_invalid_request(post_raw, upstream):
    app = post_raw.app

    response = post_raw(PASSWORD_BODY + f"&client_id={app.client_id}&client_secret={app.raw_secret}")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_body_client_id_that_differs_from_basic_is_invalid_request(post_raw, upstream):
    response = post_raw(PASSWORD_BODY + "&client_id=someone-else")

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


def test_body_client_id_equal_to_basic_is_accepted(post_raw, upstream):
    upstream.accepts()

    response = post_raw(PASSWORD_BODY + f"&client_id={post_raw.app.client_id}")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not*base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":secret-without-id").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:latin").decode(),
        "Bearer some-token",
    ],
    ids=["not-base64", "no-colon", "empty-id", "not-utf8", "other-scheme"],
)
def test_malformed_authorization_header_is_invalid_client_with_basic_challenge(post_raw, upstream, authorization):
    response = post_raw(PASSWORD_BODY, HTTP_AUTHORIZATION=authorization)

    assert_error(response, 401, "invalid_client")
    assert response["WWW-Authenticate"].startswith('Basic realm="')
    assert upstream.calls == []


def test_basic_scheme_name_is_case_insensitive(post_raw, upstream):
    app = post_raw.app
    upstream.accepts()
    header = basic_authorization(app.client_id, app.raw_secret).replace("Basic ", "basic ", 1)

    response = post_raw(PASSWORD_BODY, HTTP_AUTHORIZATION=header)

    assert response.status_code == 200, response.content


def test_empty_client_secret_next_to_basic_is_treated_as_omitted(post_raw, upstream):
    upstream.accepts()

    response = post_raw(PASSWORD_BODY + "&client_secret=")

    assert response.status_code == 200, response.content


# --- describe_token_request (audit and metrics; never raises) -------------------------------


def factory_request(body: bytes | str, **extra):
    return RequestFactory().post(TOKEN_URL, body, content_type=FORM, **extra)


def test_description_names_grant_client_and_username_of_a_password_request():
    request = factory_request(PASSWORD_BODY, HTTP_AUTHORIZATION=basic_authorization("my client", "secret"))

    assert describe_token_request(request) == ("password", "my client", USERNAME)


def test_description_takes_the_client_id_from_the_body_without_basic():
    request = factory_request("grant_type=client_credentials&client_id=machine&client_secret=s")

    assert describe_token_request(request) == ("client_credentials", "machine", "")


def test_description_has_no_username_outside_the_password_grant():
    request = factory_request(f"grant_type=refresh_token&refresh_token=r&username={USERNAME}")

    assert describe_token_request(request)[2] == ""


def test_description_never_contains_the_password():
    request = factory_request(f"grant_type=password&username={USERNAME}&password={PASSWORD}")

    assert PASSWORD not in "".join(describe_token_request(request))


@pytest.mark.parametrize(
    ("body", "authorization"),
    [(b"\xff\xfe\x00garbage", ""), (b"grant_type=password", "Basic !!!"), (b"%%%&&&===", "Negotiate x")],
)
def test_description_of_garbage_does_not_raise(body, authorization):
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    _, client_id, _ = describe_token_request(factory_request(body, **extra))

    assert client_id == ""
