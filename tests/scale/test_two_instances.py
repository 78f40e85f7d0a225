"""Two gateway instances behind one load balancer: one PostgreSQL, one Redis, no sticky sessions.

Each instance is a real gunicorn process on its own port, started from this
checkout with the production settings; both use the same database (a fresh one
made for this module) and the same Redis database. What a client does at one
instance holds at the other at once: tokens, revocations, disabled clients,
failed-login counters and the circuit breaker.
"""

import json
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.support.processes import DEV_AUTH_CLIENT, ROOT, dev_authorization_server, free_port, wait_for_port

pytestmark = pytest.mark.e2e

POSTGRES = os.environ.get("SCALE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SCALE_TEST_REDIS", "redis://127.0.0.1:6379/13")
USER, PASSWORD = "abc123", "xyz456"
BREAKER_THRESHOLD = 2
USERNAME_LIMIT = 5


def _postgres_admin():
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: {exc}")


def _flush_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).flushdb()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS}: {exc}")


class Deployment:
    """The shared environment and a way to run management code against it."""

    def __init__(self, env: dict):
        self.env = env

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)


class Instance:
    def __init__(self, env: dict, name: str, log_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (log_dir / f"{name}.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "gatewayproj.wsgi"],
            cwd=ROOT,
            env={
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{self.port}",
                "WEB_CONCURRENCY": "1",
                "GUNICORN_THREADS": "4",
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        wait_for_port(self.port, timeout=30)

    def token(self, client: dict, **form) -> requests.Response:
        return requests.post(
            f"{self.url}/oauth2/token", data=form, auth=(client["client_id"], client["client_secret"]), timeout=10
        )

    def hello(self, access_token: str) -> requests.Response:
        return requests.get(f"{self.url}/helloworld/", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    database = f"oauthgw_scale_{uuid.uuid4().hex[:8]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    _flush_redis()
    users = tmp_path_factory.mktemp("scale") / "users.txt"
    users.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    try:
        with dev_authorization_server(users) as token_url:
            env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
            env.update(
                {
                    "DJANGO_SETTINGS_MODULE": "gatewayproj.settings",
                    "DJANGO_DEBUG": "0",
                    "DATABASE_URL": f"{POSTGRES}/{database}",
                    "REDIS_URL": REDIS,
                    "OAUTHGW_UPSTREAM_TOKEN_URL": token_url,
                    "OAUTHGW_UPSTREAM_CLIENT_ID": DEV_AUTH_CLIENT[0],
                    "OAUTHGW_UPSTREAM_CLIENT_SECRET": DEV_AUTH_CLIENT[1],
                    "OAUTHGW_UPSTREAM_TIMEOUT": "2",
                    "OAUTHGW_UPSTREAM_BREAKER_THRESHOLD": str(BREAKER_THRESHOLD),
                    "OAUTHGW_UPSTREAM_BREAKER_COOLDOWN": "60",
                    "OAUTHGW_THROTTLE_USERNAME_FAILURES": str(USERNAME_LIMIT),
                    "GUNICORN_ACCESS_LOG": "0",
                }
            )
            env.pop("PROMETHEUS_MULTIPROC_DIR", None)
            shared = Deployment(env)
            shared.manage("migrate", "-v0")
            yield shared
    finally:
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def instances(deployment, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("scale-logs")
    pair = [Instance(deployment.env, name, log_dir) for name in ("a", "b")]
    try:
        for instance in pair:
            instance.wait_ready()
        yield pair
    finally:
        for instance in pair:
            instance.stop()


@pytest.fixture
def make_client(deployment):
    def create(*, grant_types: str = "password,refresh_token,client_credentials") -> dict:
        name = f"scale-{uuid.uuid4().hex[:8]}"
        output = deployment.manage("create_client", name, "--grant-types", grant_types, "--scopes", "hello", "--json")
        return json.loads(output)

    return create


def test_a_token_issued_by_one_instance_works_at_the_other(instances, make_client):
    a, b = instances
    client = make_client()

    machine = a.token(client, grant_type="client_credentials")
    person = a.token(client, grant_type="password", username=USER, password=PASSWORD)

    assert machine.status_code == 200, machine.text
    assert person.status_code == 200, person.text
    assert b.hello(machine.json()["access_token"]).status_code == 200
    assert b.hello(person.json()["access_token"]).json()["username"] == USER


def test_a_refresh_token_rotated_at_one_instance_is_spent_at_the_other(instances, make_client):
    a, b = instances
    client = make_client()
    login = a.token(client, grant_type="password", username=USER, password=PASSWORD).json()

    rotated = b.token(client, grant_type="refresh_token", refresh_token=login["refresh_token"])
    replayed = a.token(client, grant_type="refresh_token", refresh_token=login["refresh_token"])

    assert rotated.status_code == 200, rotated.text
    assert replayed.status_code == 401
    assert replayed.json()["error"] == "invalid_grant"


def test_a_revocation_at_one_instance_is_honoured_at_the_other_at_once(instances, make_client):
    a, b = instances
    client = make_client()
    access_token = a.token(client, grant_type="client_credentials").json()["access_token"]
    # The first check puts the token in the shared cache, the second in b's own memory.
    assert b.hello(access_token).status_code == 200
    assert b.hello(access_token).status_code == 200

    revoked = requests.post(
        f"{a.url}/oauth2/revoke",
        data={"token": access_token},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )

    assert revoked.status_code == 200
    assert b.hello(access_token).status_code == 401
    assert a.hello(access_token).status_code == 401


def test_disabling_a_client_stops_its_tokens_at_every_instance_at_once(instances, make_client, deployment):
    a, b = instances
    client = make_client()
    access_token = a.token(client, grant_type="client_credentials").json()["access_token"]
    # Twice each: the token and the client are then in each instance's own memory too.
    for instance in (a, b, a, b):
        assert instance.hello(access_token).status_code == 200
    assert b.token(client, grant_type="client_credentials").status_code == 200

    deployment.shell(
        "from oauthgw.models import Application\n"
        f"client = Application.objects.get(client_id={client['client_id']!r})\n"
        "client.enabled = False\n"
        "client.save()\n"
    )

    assert a.hello(access_token).status_code == 401
    assert b.hello(access_token).status_code == 401
    assert b.token(client, grant_type="client_credentials").status_code == 401


def test_failed_logins_are_counted_across_instances(instances, make_client):
    a, b = instances
    client = make_client()
    guesser = f"guess-{uuid.uuid4().hex[:8]}"

    statuses = [
        instance.token(client, grant_type="password", username=guesser, password=f"wrong-{n}").status_code
        for n, instance in enumerate([a, b, a, b, a, b])
    ]

    # The username limit is 5 failures: the sixth attempt, wherever it lands, is refused unasked.
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429


def _circuit_state(instance: Instance, server: str) -> float | None:
    exposition = requests.get(f"{instance.url}/metrics", timeout=10).text
    match = re.search(rf'^oauthgw_upstream_circuit_state\{{server="{server}"\}} (\S+)$', exposition, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_the_circuit_breaker_opened_by_one_instance_protects_the_other(instances, make_client, deployment):
    a, b = instances
    dead_port = free_port()
    server = f"dead-{uuid.uuid4().hex[:6]}"
    client = make_client(grant_types="password")
    deployment.shell(
        "from oauthgw.models import Application, AuthorizationServer\n"
        f"server = AuthorizationServer.objects.create(name={server!r}, "
        f"token_url='http://127.0.0.1:{dead_port}/token', client_id='gw', timeout=1.0)\n"
        f"app = Application.objects.get(client_id={client['client_id']!r})\n"
        "app.authorization_server = server\n"
        "app.save()\n"
    )
    assert _circuit_state(b, server) == 0

    for _ in range(BREAKER_THRESHOLD):
        assert a.token(client, grant_type="password", username=USER, password=PASSWORD).status_code == 503

    started = time.monotonic()
    refused = b.token(client, grant_type="password", username=USER, password=PASSWORD)
    assert refused.status_code == 503
    assert refused.json()["error"] == "temporarily_unavailable"
    assert int(refused.headers["Retry-After"]) > 1  # the cool-down's remainder, not the upstream timeout
    assert time.monotonic() - started < 1.0
    assert _circuit_state(b, server) == 2
