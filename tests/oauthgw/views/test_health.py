"""GET /healthz and GET /readyz as a load balancer sees them.

In-transaction tests would hold SQLite's write lock themselves, which the readiness
probe rightly reports: these run without a test transaction.
"""

import socket
import threading

import pytest
from django.test import Client


@pytest.fixture
def listening_upstream(settings):
    """A TCP port that accepts connections and records what it receives."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept():
        server.settimeout(5)
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(0.5)
            try:
                received.append(connection.recv(1024))
            except OSError:
                received.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{port}/token"}

    def bytes_received() -> list[bytes]:
        thread.join(timeout=5)
        return received

    yield bytes_received
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def closed_upstream(settings):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        "UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{port}/token",
        "READINESS_TIMEOUT": 0.5,
    }


def test_healthz_answers_while_the_process_runs(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_when_database_cache_and_upstream_answer(client, listening_upstream):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "upstream": "ok"}}


@pytest.mark.django_db(transaction=True)
def test_readyz_sends_nothing_to_the_upstream(client, listening_upstream):
    assert client.get("/readyz").status_code == 200

    assert listening_upstream() == [b""]


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unavailable_when_no_upstream_accepts_connections(client, closed_upstream):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["upstream"] == "failed"
    assert response.json()["status"] == "unavailable"


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unavailable_when_the_cache_is_down(client, listening_upstream, settings):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        dead_port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{dead_port}/0",
        }
    }

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failed", "upstream": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_when_any_enabled_authorization_server_answers(client, settings):
    from oauthgw.models import AuthorizationServer

    with socket.create_server(("127.0.0.1", 0)) as listening, socket.create_server(("127.0.0.1", 0)) as probe:
        dead_port = probe.getsockname()[1]
        probe.close()
        settings.OAUTHGW = {
            **settings.OAUTHGW,
            "UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{dead_port}/token",
            "READINESS_TIMEOUT": 0.5,
        }
        AuthorizationServer.objects.create(
            name="second", token_url=f"http://127.0.0.1:{listening.getsockname()[1]}/token", client_id="gw"
        )

        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["upstream"] == "ok"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_answer_head(client, listening_upstream, path):
    assert client.head(path).status_code == 200


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_refuse_writes_with_a_json_405(path, method):
    # A real client has no CSRF cookie: the refusal is the method, not CSRF, and never an HTML page.
    response = getattr(Client(enforce_csrf_checks=True), method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "method_not_allowed"
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
