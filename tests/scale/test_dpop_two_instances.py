"""DPoP across two gateway instances on one PostgreSQL and one Redis: a proof is good once, a nonce everywhere.

Two real server processes (``gatewayproj.server``) on their own ports, as in
tests/scale/test_two_instances.py, both requiring server nonces at the token
endpoint and the API, and both with the one public name a load balancer gives
them (``OAUTHGW_ISSUER``), which is what clients sign in their proofs' ``htu``.
Each request may reach either: a proof accepted by one is refused by the other,
a nonce either issued is accepted by both, a token bound at one is bound at the
other.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.deployments import Gateway, scale_out_deployment
from tests.support.dpop_client import DPoPClient
from tests.support.processes import dev_authorization_server

pytestmark = pytest.mark.e2e

USER, PASSWORD = "abc123", "xyz456"
PUBLIC = "https://auth.example.com"
TOKEN_ENDPOINT = f"{PUBLIC}/oauth2/token"
HELLO = f"{PUBLIC}/helloworld/"
SETTINGS = {"OAUTHGW_DPOP_NONCE_REQUIRED": "1", "OAUTHGW_DPOP_API_NONCE_REQUIRED": "1"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    psycopg = pytest.importorskip("psycopg")
    users = tmp_path_factory.mktemp("scale-dpop") / "users.txt"
    users.write_text(f"{USER}:{PASSWORD}\n", encoding="utf-8")
    with dev_authorization_server(users) as token_url:
        try:
            with scale_out_deployment(token_url, **SETTINGS) as deployment:
                yield deployment
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL is not reachable: {exc}")


@pytest.fixture(scope="module")
def instances(deployment, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("scale-dpop-logs")
    pair = []
    try:
        for name in ("a", "b"):
            log = log_dir / f"{name}.log"
            pair.append(Gateway(deployment, log, workers=1, threads=4, extra_env={"OAUTHGW_ISSUER": PUBLIC}))
        yield pair
    finally:
        for instance in pair:
            instance.stop()


@pytest.fixture
def client(deployment) -> dict:
    return deployment.create_client(f"scale-dpop-{uuid.uuid4().hex[:8]}")


def auth(client: dict) -> tuple[str, str]:
    return client["client_id"], client["client_secret"]


def token(app: DPoPClient, instance: Gateway, client: dict, **form) -> requests.Response:
    return app.token(f"{instance.url}/oauth2/token", form, auth=auth(client), public_url=TOKEN_ENDPOINT)


def hello(app: DPoPClient, instance: Gateway, access_token: str) -> requests.Response:
    return app.call("GET", f"{instance.url}/helloworld/", access_token, public_url=HELLO)


def test_a_nonce_issued_by_one_instance_is_accepted_by_the_other(instances, client):
    a, b = instances
    app = DPoPClient()
    assert token(app, a, client, grant_type="client_credentials").status_code == 200
    assert app.retries == 1

    tokens = token(app, b, client, grant_type="client_credentials").json()
    called = hello(app, b, tokens["access_token"])

    assert tokens["token_type"] == "DPoP"
    assert called.status_code == 200, called.text
    assert app.retries == 1


def test_a_proof_sent_to_both_instances_at_once_is_accepted_once(instances, client):
    a, b = instances
    app = DPoPClient()
    token(app, a, client, grant_type="client_credentials")
    proof = app.proof("POST", TOKEN_ENDPOINT)

    def send(instance: Gateway):
        return requests.post(
            f"{instance.url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=auth(client),
            headers={"DPoP": proof},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(send, [a, b] * 4))

    assert sorted(response.status_code for response in answers) == [200] + [400] * 7
    refused = {response.json()["error_description"] for response in answers if response.status_code == 400}
    assert refused == {"The DPoP proof has been used before (its jti)."}


def test_a_token_bound_at_one_instance_is_bound_at_the_other_and_a_proof_there_is_good_once(instances, client):
    a, b = instances
    app, thief = DPoPClient(), DPoPClient()
    access_token = token(app, a, client, grant_type="client_credentials").json()["access_token"]
    headers = {"Authorization": f"DPoP {access_token}", "DPoP": app.proof("GET", HELLO, access_token=access_token)}

    first = requests.get(f"{b.url}/helloworld/", headers=headers, timeout=30)
    replayed = requests.get(f"{a.url}/helloworld/", headers=headers, timeout=30)
    as_bearer = requests.get(f"{b.url}/helloworld/", headers={"Authorization": f"Bearer {access_token}"}, timeout=30)
    thief.nonces = dict(app.nonces)
    with_another_key = hello(thief, a, access_token)

    assert first.status_code == 200, first.text
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_dpop_proof")
    assert as_bearer.status_code == 401
    assert (with_another_key.status_code, with_another_key.json()["error"]) == (401, "invalid_dpop_proof")


def test_a_refresh_at_the_other_instance_binds_its_new_token_to_the_key_of_its_proof(instances, client):
    a, b = instances
    app, thief = DPoPClient(), DPoPClient()
    login = token(app, a, client, grant_type="password", username=USER, password=PASSWORD).json()

    refreshed = token(app, b, client, grant_type="refresh_token", refresh_token=login["refresh_token"]).json()
    thief.nonces = dict(app.nonces)

    assert refreshed["token_type"] == "DPoP"
    assert hello(app, a, refreshed["access_token"]).status_code == 200
    assert hello(thief, a, refreshed["access_token"]).status_code == 401
    assert hello(app, b, login["access_token"]).status_code == 401
