"""JWT access tokens across the worker processes of the embedded default (SQLite, no Redis).

Each process keeps its own copy of the key schedule (oauthgw.signing_keys), so
what must hold is checked on sixteen calls, spread over both processes: the
first key is made once however many processes need it at the same moment; a
revoked JWT is refused by every process at once; a compromised rotation, made
by a management command in a third process, reaches every process within
seconds.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from oauthgw.signing_keys import KEY_SET_SECONDS
from tests.support.deployments import Gateway, embedded_deployment
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

CALLS = 16


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {"abc123": "xyz456"})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployment(upstream, tmp_path_factory):
    with embedded_deployment(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def gateway(deployment, tmp_path_factory):
    instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gunicorn.log", workers=2, threads=4)
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def jwt_client(deployment, gateway):
    return deployment.create_client(grant_types="client_credentials", token_format="jwt")


def issue(gateway, client) -> str:
    response = gateway.token(client, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def statuses(gateway, token: str) -> set[int]:
    return {gateway.hello(token).status_code for _ in range(CALLS)}


def test_processes_that_all_need_the_first_key_at_once_make_one(gateway, jwt_client, deployment):
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda _: issue(gateway, jwt_client), range(CALLS)))

    assert len({kid(token) for token in tokens}) == 1
    assert deployment.shell("from oauthgw.models import SigningKey; print(SigningKey.objects.count())").strip() == "1"
    assert statuses(gateway, tokens[0]) == {200}


def test_a_revoked_jwt_is_refused_by_every_process_at_once(gateway, jwt_client):
    token = issue(gateway, jwt_client)
    assert statuses(gateway, token) == {200}

    assert gateway.post("/oauth2/revoke", jwt_client, token=token).status_code == 200

    assert statuses(gateway, token) == {401}


def test_a_compromised_rotation_reaches_every_process_within_seconds(gateway, jwt_client, deployment):
    old = issue(gateway, jwt_client)
    assert statuses(gateway, old) == {200}

    deployment.manage("rotate_signing_key", "--compromised")
    rotated = time.monotonic()
    while statuses(gateway, old) != {401} and time.monotonic() - rotated < KEY_SET_SECONDS + 3:
        time.sleep(0.5)

    assert statuses(gateway, old) == {401}
    new_kids = {kid(issue(gateway, jwt_client)) for _ in range(CALLS)}
    assert new_kids != {kid(old)} and len(new_kids) == 1
