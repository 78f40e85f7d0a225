"""Two gateway instances behind one load balancer: one PostgreSQL, one Redis, no sticky sessions.

Each instance is a real server process (``gatewayproj.server``) on its own port, started from this
checkout with the production settings; both use the same database (a fresh one
made for this module) and the same Redis database. What a client does at one
instance holds at the other at once: tokens, revocations, disabled clients,
failed-login counters and the circuit breaker.
"""

import re
import time
import uuid

import pytest
import requests

from tests.support.deployments import Gateway, scale_out_deployment
from tests.support.processes import dev_authorization_server, free_port

pytestmark = pytest.mark.e2e

USER, PASSWORD = "abc123", "xyz456"
BREAKER_THRESHOLD = 2
USERNAME_LIMIT = 5


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    psycopg = pytest.importorskip("psycopg")
    users = tmp_path_factory.mktemp("scale") / "users.txt"
    users.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    settings = {
        "OAUTHGW_UPSTREAM_BREAKER_THRESHOLD": str(BREAKER_THRESHOLD),
        "OAUTHGW_UPSTREAM_BREAKER_COOLDOWN": "60",
        "OAUTHGW_THROTTLE_USERNAME_FAILURES": str(USERNAME_LIMIT),
    }
    with dev_authorization_server(users) as token_url:
        try:
            with scale_out_deployment(token_url, **settings) as deployment:
                yield deployment
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL is not reachable: {exc}")


@pytest.fixture(scope="module")
def instances(deployment, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("scale-logs")
    pair = []
    try:
        for name in ("a", "b"):
            pair.append(Gateway(deployment, log_dir / f"{name}.log", workers=1, threads=4))
        yield pair
    finally:
        for instance in pair:
            instance.stop()


@pytest.fixture
def make_client(deployment):
    def create(*, grant_types: str = "password,refresh_token,client_credentials") -> dict:
        return deployment.create_client(f"scale-{uuid.uuid4().hex[:8]}", grant_types=grant_types)

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


def test_a_client_disabled_with_sql_gets_no_token_at_either_instance_and_its_tokens_stop_within_a_second(
    instances, make_client, deployment
):
    a, b = instances
    client = make_client()
    access_token = a.token(client, grant_type="client_credentials").json()["access_token"]
    for instance in (a, b, a, b):
        assert instance.hello(access_token).status_code == 200

    deployment.shell(
        "from oauthgw.models import Application\n"
        f"Application.objects.filter(client_id={client['client_id']!r}).update(enabled=False)\n"
    )
    disabled_at = time.monotonic()

    assert a.token(client, grant_type="client_credentials").status_code == 401
    assert b.token(client, grant_type="client_credentials").status_code == 401
    time.sleep(max(0.0, 1.0 - (time.monotonic() - disabled_at)))
    assert a.hello(access_token).status_code == 401
    assert b.hello(access_token).status_code == 401


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


def _circuit_state(instance: Gateway, server: str) -> float | None:
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

    # The logins of as many users as the threshold fail (the breaker's probe finds the server dead too).
    for n in range(BREAKER_THRESHOLD):
        assert a.token(client, grant_type="password", username=f"user-{n}", password=PASSWORD).status_code == 503

    started = time.monotonic()
    refused = b.token(client, grant_type="password", username=USER, password=PASSWORD)
    assert refused.status_code == 503
    assert refused.json()["error"] == "temporarily_unavailable"
    assert int(refused.headers["Retry-After"]) > 1  # the cool-down's remainder, not the upstream timeout
    assert time.monotonic() - started < 1.0
    assert _circuit_state(b, server) == 2
