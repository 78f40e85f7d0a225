"""A token request whose body arrives chunked (no Content-Length), as gunicorn hands it over."""

import io
import json

import pytest

from gatewayproj.wsgi import application
from tests.oauthgw.conftest import basic_authorization

pytestmark = pytest.mark.django_db(transaction=True)


def call(body: bytes, authorization: str) -> tuple[str, dict]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/oauth2/token",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = status

    content = b"".join(application(environ, start_response))
    return started["status"], json.loads(content)


def test_a_chunked_token_request_is_read(make_client):
    app = make_client(grant_types="client_credentials")

    status, document = call(b"grant_type=client_credentials", basic_authorization(app.client_id, app.raw_secret))

    assert status.startswith("200")
    assert document["token_type"] == "Bearer"


def test_an_oversized_chunked_body_is_refused_as_too_large(make_client):
    app = make_client(grant_types="client_credentials")

    status, document = call(
        b"grant_type=client_credentials&padding=" + b"a" * 3_000_000,
        basic_authorization(app.client_id, app.raw_secret),
    )

    assert status.startswith("400")
    assert document["error"] == "invalid_request"
    assert "exceeds" in document["error_description"]
