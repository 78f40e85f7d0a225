"""Every response carries an X-Request-ID, and every log line of the request carries the same id."""

import json
import logging

import pytest

from oauthgw.observability.json_logs import JsonFormatter
from oauthgw.observability.request_id import RequestIdFilter


@pytest.fixture
def json_log_lines():
    """Log lines as the production handler writes them (JSON, request id filter)."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)


def test_a_response_gets_a_fresh_request_id_when_none_was_sent(client):
    response = client.get("/healthz")

    assert len(response["X-Request-ID"]) == 32


def test_an_incoming_request_id_is_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abcd")

    assert response["X-Request-ID"] == "lb-1234.abcd"


@pytest.mark.parametrize("forged", ["a" * 129, "two words", "line\nbreak", '{"json": 1}', "é"])
def test_an_incoming_request_id_that_is_not_a_plain_token_is_replaced(client, forged):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=forged)

    assert response["X-Request-ID"] != forged
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_every_log_line_of_a_request_carries_its_id(client, json_log_lines):
    client.get("/helloworld/", HTTP_X_REQUEST_ID="req-42", HTTP_AUTHORIZATION="Bearer not-a-token")

    records = [json.loads(line) for line in json_log_lines]
    assert records, "the refused call should log at least django.request's warning"
    assert {record["request_id"] for record in records} == {"req-42"}


def test_log_lines_outside_a_request_have_a_null_request_id(json_log_lines):
    logging.getLogger("oauthgw.test").warning("outside %s", "any request")

    record = json.loads(json_log_lines[-1])
    assert record["request_id"] is None
    assert record["message"] == "outside any request"
    assert record["level"] == "WARNING"
