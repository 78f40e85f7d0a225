"""GET /metrics: Prometheus text for allowed addresses or a token, with the gateway's own series."""

import pytest
from prometheus_client import REGISTRY

from tests.oauthgw.conftest import basic_authorization

pytestmark = pytest.mark.django_db


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def issue_client_credentials(client, app):
    return client.post(
        "/oauth2/token",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )


def test_metrics_are_served_to_loopback_in_prometheus_format(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"# TYPE oauthgw_token_request_duration_seconds histogram" in response.content


def test_metrics_are_refused_to_an_address_outside_the_allow_list(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


def test_an_allowed_network_admits_its_addresses(client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "METRICS_ALLOWED_IPS": "10.0.0.0/8"}

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_the_metrics_token_admits_a_scraper_from_anywhere(client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "METRICS_TOKEN": "scrape-me-0123456789"}

    allowed = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-me-0123456789")
    refused = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer wrong")

    assert allowed.status_code == 200
    assert refused.status_code == 403


def test_issued_tokens_are_counted_by_grant_and_client(client, make_client):
    app = make_client()
    before = sample("oauthgw_tokens_issued_total", grant_type="client_credentials", client_id=app.client_id)

    assert issue_client_credentials(client, app).status_code == 200

    after = sample("oauthgw_tokens_issued_total", grant_type="client_credentials", client_id=app.client_id)
    assert after == before + 1
    exposition = client.get("/metrics").content.decode()
    assert f'oauthgw_tokens_issued_total{{client_id="{app.client_id}",grant_type="client_credentials"}}' in exposition


def test_refusals_are_counted_by_reason_without_a_client_label(client, make_client):
    app = make_client()
    app.raw_secret = "wrong-secret"
    before = sample("oauthgw_token_failures_total", grant_type="client_credentials", reason="invalid_client")

    assert issue_client_credentials(client, app).status_code == 401

    assert sample("oauthgw_token_failures_total", grant_type="client_credentials", reason="invalid_client") == (
        before + 1
    )


def test_an_unknown_grant_type_does_not_create_a_label_per_value(client, make_client):
    app = make_client()
    client.post(
        "/oauth2/token",
        "grant_type=made-up-by-a-scanner",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )

    exposition = client.get("/metrics").content.decode()
    assert "made-up-by-a-scanner" not in exposition


def test_upstream_faults_are_counted_by_kind_and_timed(client, make_client, upstream):
    app = make_client()
    upstream.answers(502, body=b"bad gateway")
    errors_before = sample("oauthgw_upstream_errors_total", server="default", kind="status")
    timed_before = sample("oauthgw_upstream_request_duration_seconds_count", server="default")

    response = client.post(
        "/oauth2/token",
        "grant_type=password&username=alice&password=pw",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )

    assert response.status_code == 503
    assert sample("oauthgw_upstream_errors_total", server="default", kind="status") == errors_before + 1
    assert sample("oauthgw_upstream_request_duration_seconds_count", server="default") == timed_before + 1


def test_the_circuit_breaker_state_of_each_server_is_exposed(client):
    exposition = client.get("/metrics").content.decode()

    assert 'oauthgw_upstream_circuit_state{server="default"} 0.0' in exposition


def test_throttled_logins_are_counted(client, make_client, upstream, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 1}
    app = make_client()
    upstream.rejects()
    before = sample("oauthgw_throttled_total", grant_type="password")

    def login():
        return client.post(
            "/oauth2/token",
            "grant_type=password&username=mallory&password=guess",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        )

    assert login().status_code == 401
    assert login().status_code == 429

    assert sample("oauthgw_throttled_total", grant_type="password") == before + 1
    assert sample("oauthgw_token_failures_total", grant_type="password", reason="throttled") >= 1
