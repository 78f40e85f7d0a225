"""Issue 3's hostile token requests, one row each: a spec-shaped error and no upstream call.

tests/oauthgw/toolkit/test_request_checks.py covers the raw checks one by one; this table
is the issue's list in one place, each request sent as an attacker would (raw
bytes, a valid client's credentials, an upstream that would say yes), so the only
thing stopping it is the check under test.
"""

import base64
import json
import logging
from urllib.parse import parse_qsl, quote

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model

from tests.oauthgw.conftest import FORM, TOKEN_URL, basic_authorization

ALICE = "grant_type=password&username=alice"
LOGIN = ALICE + "&password=pw"
MULTIPART_BODY = (
    b"--xyz\r\nContent-Disposition: form-data; name=grant_type\r\n\r\npassword\r\n"
    b"--xyz\r\nContent-Disposition: form-data; name=username\r\n\r\nalice\r\n"
    b"--xyz\r\nContent-Disposition: form-data; name=password\r\n\r\npw\r\n--xyz--\r\n"
)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode("ascii")


# (id, body, content type, extra headers or a callable of the client, status, error)
CASES = [
    ("repeated grant_type", LOGIN + "&grant_type=client_credentials", FORM, {}, 400, "invalid_request"),
    ("repeated password", LOGIN + "&password=other", FORM, {}, 400, "invalid_request"),
    ("secret in Basic and body", "{login}&client_secret={secret}", FORM, {}, 400, "invalid_request"),
    ("other client_id in body", LOGIN + "&client_id=intruder", FORM, {}, 400, "invalid_request"),
    ("Basic not base64", LOGIN, FORM, {"HTTP_AUTHORIZATION": "Basic %%%"}, 401, "invalid_client"),
    ("Basic without colon", LOGIN, FORM, {"HTTP_AUTHORIZATION": basic(b"client")}, 401, "invalid_client"),
    ("Basic not UTF-8", LOGIN, FORM, {"HTTP_AUTHORIZATION": basic(b"\xc3\x28:\xff")}, 401, "invalid_client"),
    ("Basic with NUL", LOGIN, FORM, {"HTTP_AUTHORIZATION": basic(b"id\x00:secret")}, 401, "invalid_client"),
    ("Basic scheme alone", LOGIN, FORM, {"HTTP_AUTHORIZATION": "Basic"}, 401, "invalid_client"),
    ("raw bytes not UTF-8", b"grant_type=password&username=\xff\xfe&password=pw", FORM, {}, 400, "invalid_request"),
    ("escaped bytes not UTF-8", "grant_type=password&username=%C3%28&password=pw", FORM, {}, 400, "invalid_request"),
    ("raw NUL in username", b"grant_type=password&username=al\x00ice&password=pw", FORM, {}, 400, "invalid_request"),
    ("escaped NUL in password", ALICE + "&password=p%00w", FORM, {}, 400, "invalid_request"),
    ("JSON body", json.dumps({"grant_type": "password"}), "application/json", {}, 400, "invalid_request"),
    ("JSON body labelled as form", json.dumps({"grant_type": "password"}), FORM, {}, 400, "invalid_request"),
    ("multipart body", MULTIPART_BODY, "multipart/form-data; boundary=xyz", {}, 400, "invalid_request"),
    ("no content type", LOGIN, "", {}, 400, "invalid_request"),
    ("body over 8 KiB", LOGIN + "&scope=" + "x" * 9000, FORM, {}, 400, "invalid_request"),
    ("username over 256", "grant_type=password&password=pw&username=" + "u" * 257, FORM, {}, 400, "invalid_request"),
    ("password over 1024", ALICE + "&password=" + "p" * 1025, FORM, {}, 400, "invalid_request"),
    ("empty password", ALICE + "&password=", FORM, {}, 400, "invalid_request"),
    ("no password", ALICE, FORM, {}, 400, "invalid_request"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "extra", "status", "error"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_hostile_request_is_refused_with_a_clear_error_and_no_upstream_call(
    client, upstream, make_client, caplog, body, content_type, extra, status, error
):
    app = make_client()
    upstream.accepts()
    if isinstance(body, str):
        body = body.replace("{login}", LOGIN).replace("{secret}", quote(app.raw_secret))
    headers = {"HTTP_AUTHORIZATION": basic_authorization(app.client_id, app.raw_secret), **extra}

    response = client.post(TOKEN_URL, body, content_type=content_type, **headers)

    assert response.status_code == status, response.content
    document = response.json()
    assert document["error"] == error
    assert isinstance(document["error_description"], str)
    assert document["error_description"]
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Basic ")
    assert upstream.calls == []
    assert get_access_token_model().objects.count() == 0
    # Nothing downstream (audit trail, metrics) chokes on it either.
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("username", "password"),
    [("a&b=c+d%e f", "p&q=r+s%t u"), ("%41%2B", "%00%"), ("ñandú Ünïcødé", "пароль 密码 ß")],
    ids=["reserved", "escapes-as-text", "non-ascii"],
)
def test_credentials_reach_the_upstream_byte_for_byte(client, upstream, make_client, username, password):
    app = make_client()
    upstream.accepts()
    body = f"grant_type=password&username={quote(username, safe='')}&password={quote(password, safe='')}"

    response = client.post(
        TOKEN_URL, body, content_type=FORM, HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret)
    )

    assert response.status_code == 200, response.content
    sent = upstream.calls[0].request.body
    sent = sent.encode("ascii") if isinstance(sent, str) else sent
    form = dict(parse_qsl(sent.decode("ascii"), keep_blank_values=True, errors="strict"))
    assert (form["username"], form["password"]) == (username, password)


# --- Client credentials with a control character ---------------------------------------------
# PostgreSQL refuses a NUL in a query parameter (a 500 with a traceback); no issued
# client id or secret has any control character. Refused at every endpoint that
# authenticates clients, whichever way the character was encoded, before any query.

ENDPOINTS = {
    "token": ("/oauth2/token", "grant_type=client_credentials"),
    "introspect": ("/oauth2/introspect", "token=some-token"),
    "revoke": ("/oauth2/revoke", "token=some-token"),
}
# (id, Basic credentials before Base64, "{id}" and "{secret}" standing for a real client's)
CONTROL_CHARACTER_CREDENTIALS = [
    ("NUL form-encoded in the id", "ab%00c:secret"),
    ("NUL form-encoded in a real client's secret", "{id}:{secret}%00"),
    ("NUL form-encoded after a real client's id", "{id}%00:{secret}"),
    ("SOH form-encoded in the id", "ab%01c:secret"),
    ("raw ESC in the id", "a\x1bb:secret"),
    ("DEL form-encoded in the secret", "{id}:{secret}%7F"),
    ("C1 control in the secret", "{id}:{secret}%C2%85"),
]


def _application_queries(captured) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if "oauthgw_application" in query["sql"]]


def _credentials(template: str, app) -> str:
    raw = template.replace("{id}", app.client_id).replace("{secret}", app.raw_secret)
    return basic(raw.encode("utf-8"))


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "template",
    [case[1] for case in CONTROL_CHARACTER_CREDENTIALS],
    ids=[case[0] for case in CONTROL_CHARACTER_CREDENTIALS],
)
def test_basic_credentials_with_a_control_character_are_invalid_client_before_any_lookup(
    client, upstream, make_client, caplog, endpoint, template
):
    app = make_client(can_introspect=True)
    path, body = ENDPOINTS[endpoint]
    caplog.set_level(logging.INFO)

    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, body, content_type=FORM, HTTP_AUTHORIZATION=_credentials(template, app))

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert _application_queries(captured) == []
    assert upstream.calls == []
    [line] = caplog.records  # Django's "Unauthorized" line, without a traceback
    assert line.exc_info is None


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "credentials",
    ["client_id=ab%01c&client_secret=secret", "client_id={id}&client_secret={secret}%0A"],
    ids=["control-in-id", "newline-in-secret"],
)
def test_body_credentials_with_a_control_character_are_invalid_client_before_any_lookup(
    client, upstream, make_client, endpoint, credentials
):
    app = make_client(can_introspect=True)
    path, body = ENDPOINTS[endpoint]
    form = body + "&" + credentials.replace("{id}", app.client_id).replace("{secret}", quote(app.raw_secret))

    with CaptureQueriesContext(connection) as captured:
        response = client.post(path, form, content_type=FORM)

    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert _application_queries(captured) == []


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_a_form_encoded_nul_in_basic_credentials_over_http_is_one_401_line_without_a_traceback(
    live_server, make_client, caplog, endpoint
):
    # Over a real socket, on whichever database the suite runs (PostgreSQL in CI).
    make_client(can_introspect=True)
    path, body = ENDPOINTS[endpoint]
    caplog.set_level(logging.INFO)

    response = requests.post(
        live_server.url + path,
        data=body,
        headers={"Content-Type": FORM, "Authorization": basic(b"ab%00c:secret")},
        timeout=30,
    )

    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    [line] = caplog.records
    assert (line.getMessage(), line.exc_info) == (f"Unauthorized: {path}", None)
