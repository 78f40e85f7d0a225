"""The gateway's database stops answering mid-run, then comes back: 503s meanwhile, no restart after.

In the embedded run another process holds SQLite's write lock past the busy
timeout; in the scale-out run PostgreSQL refuses connections (a forwarder in
front of it is cut). Either way every request gets a JSON 503 with Retry-After
(RFC 6749's ``temporarily_unavailable`` at the token endpoint), nothing is
half-written, /readyz says so, and the same processes serve again afterwards.
"""

import sqlite3
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run, runs_scale_out
from tests.support.processes import DevAuthorizationServerProcess
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

USER, PASSWORD = "abc123", "xyz456"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    upstream = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {USER: PASSWORD})
    upstream.start()
    try:
        with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
            yield deployment
    finally:
        upstream.stop()


def assert_unavailable(response, *, oauth: bool) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"] == "temporarily_unavailable"
    if oauth:
        assert response.headers["Cache-Control"] == "no-store"


def access_tokens_of(deployment, client) -> int:
    code = (
        "from oauth2_provider.models import get_access_token_model\n"
        f"print(get_access_token_model().objects.filter(application__client_id={client['client_id']!r}).count())"
    )
    return int(deployment.shell(code).strip())


@pytest.mark.skipif(runs_scale_out(), reason="SQLite's file lock exists only in the embedded deployment")
def test_sqlite_locked_by_another_process_gets_503s_then_the_same_processes_serve_again(deployment, tmp_path):
    gateway = Gateway(deployment, tmp_path / "gateway.log", extra_env={"DJANGO_SQLITE_TIMEOUT": "1"})
    try:
        client = deployment.create_client()
        login = gateway.token(client, grant_type="password", username=USER, password=PASSWORD).json()
        assert gateway.hello(login["access_token"]).status_code == 200
        tokens_before = access_tokens_of(deployment, client)
        holder = sqlite3.connect(urlsplit(deployment.env["DATABASE_URL"]).path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            assert_unavailable(gateway.token(client, grant_type="client_credentials"), oauth=True)
            refresh = gateway.token(client, grant_type="refresh_token", refresh_token=login["refresh_token"])
            assert_unavailable(refresh, oauth=True)
            ready = gateway_get(gateway, "/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "failed"
            # Readers go on in WAL mode: the API still answers.
            assert gateway.hello(login["access_token"]).status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        assert access_tokens_of(deployment, client) == tokens_before
        refreshed = gateway.token(client, grant_type="refresh_token", refresh_token=login["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        assert gateway.hello(refreshed.json()["access_token"]).status_code == 200
        assert gateway_get(gateway, "/readyz").status_code == 200
    finally:
        gateway.stop()


@pytest.mark.skipif(not runs_scale_out(), reason="a refused database connection exists only with PostgreSQL")
def test_postgresql_refusing_connections_gets_503s_then_the_same_processes_serve_again(deployment, tmp_path):
    database = urlsplit(deployment.env["DATABASE_URL"])
    proxy = TcpProxy((database.hostname, database.port or 5432))
    through_proxy = database._replace(netloc=f"{database.username}@127.0.0.1:{proxy.port}").geturl()
    gateway = Gateway(deployment, tmp_path / "gateway.log", extra_env={"DATABASE_URL": through_proxy})
    try:
        client = deployment.create_client()
        login = gateway.token(client, grant_type="password", username=USER, password=PASSWORD).json()
        unseen = gateway.token(client, grant_type="client_credentials").json()["access_token"]
        tokens_before = access_tokens_of(deployment, client)

        proxy.cut()
        try:
            assert_unavailable(gateway.token(client, grant_type="client_credentials"), oauth=True)
            refresh = gateway.token(client, grant_type="refresh_token", refresh_token=login["refresh_token"])
            assert_unavailable(refresh, oauth=True)
            # A token no process has cached must be read from the database.
            assert_unavailable(gateway.hello(unseen), oauth=False)
            ready = gateway_get(gateway, "/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "failed"
        finally:
            proxy.restore()

        assert access_tokens_of(deployment, client) == tokens_before
        refreshed = gateway.token(client, grant_type="refresh_token", refresh_token=login["refresh_token"])
        assert refreshed.status_code == 200, refreshed.text
        assert gateway.hello(unseen).status_code == 200
        assert gateway_get(gateway, "/readyz").status_code == 200
    finally:
        gateway.stop()
        proxy.close()


def gateway_get(gateway, path: str):
    return requests.get(f"{gateway.url}{path}", timeout=30)
