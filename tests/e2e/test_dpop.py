"""DPoP (RFC 9449) on a real deployment: real clients, two worker processes, the embedded default or PostgreSQL + Redis.

The gateway runs as operators run it (``gatewayproj.server``, two worker
processes, a fresh database: SQLite without Redis in the embedded run, PostgreSQL
and Redis in the scale-out run). Every call opens a new connection, so calls
spread over both processes; a rule that must hold "in every process" is checked
on sixteen calls. Two instances of the server share the deployment's database: one
as configured by default, one requiring server nonces at the token endpoint and the
API.

The clients: a Python application built on requests and joserfc
(``tests.support.dpop_client``), and oauth4webapi in Node (tests/js/dpop_clients.mjs)
with its own DPoP support. The code flow through a browser with both libraries is
in tests/e2e/test_code_flow_in_a_browser.py.
"""

import base64
import hashlib
import http.client
import json
import re
import secrets
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.dpop_client import DPoPClient
from tests.support.processes import ROOT, DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

USER, PASSWORD = "abc123", "xyz456"
CALLS = 16
REDIRECT_URI = "http://127.0.0.1/callback"
SCRIPT = ROOT / "tests" / "js" / "dpop_clients.mjs"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"
NONCES = {"OAUTHGW_DPOP_NONCE_REQUIRED": "1", "OAUTHGW_DPOP_API_NONCE_REQUIRED": "1"}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {USER: PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployment(upstream, tmp_path_factory):
    with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def gateway(deployment, tmp_path_factory):
    instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", workers=2, threads=4)
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def gateway_with_nonces(deployment, tmp_path_factory):
    log = tmp_path_factory.mktemp("gateway-nonces") / "gateway.log"
    instance = Gateway(deployment, log, workers=2, threads=4, extra_env=NONCES)
    yield instance
    instance.stop()


def create_client(deployment, *options: str) -> dict:
    name = f"dpop-{uuid.uuid4().hex[:8]}"
    return json.loads(deployment.manage("create_client", name, *options, "--json"))


@pytest.fixture
def machine(deployment) -> dict:
    return create_client(deployment, "--grant-types", "password,refresh_token,client_credentials")


@pytest.fixture
def public_client(deployment) -> dict:
    return create_client(
        deployment,
        "--grant-types",
        "authorization_code,refresh_token",
        "--redirect-uris",
        REDIRECT_URI,
        "--public",
        "--skip-consent",
    )


def auth(client: dict) -> tuple[str, str]:
    return client["client_id"], client["client_secret"]


def token_url(gateway: Gateway) -> str:
    return f"{gateway.url}/oauth2/token"


def hello_url(gateway: Gateway) -> str:
    return f"{gateway.url}/helloworld/"


def at_once(calls) -> list[requests.Response]:
    """Run the calls concurrently, each on a new connection."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


# --- The code flow without a browser: the login form posted as a person would ------------------


def sign_in(gateway: Gateway, client: dict) -> tuple[str, str]:
    """(the code, the PKCE verifier) of a signed-in authorization request of ``client``."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "scope": "hello",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    browser = requests.Session()
    page = browser.get(f"{gateway.url}/oauth2/authorize?{urlencode(query)}", timeout=30)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    response = browser.post(
        f"{gateway.url}/oauth2/login",
        data={**fields, "username": USER, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    # The gateway's own redirects, up to the one that leaves for the application.
    while response.headers["Location"].startswith("/"):
        response = browser.get(f"{gateway.url}{response.headers['Location']}", allow_redirects=False, timeout=30)
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return parse_qs(urlsplit(location).query)["code"][0], verifier


# --- A Python client built on joserfc ---------------------------------------------------


def test_a_joserfc_client_gets_dpop_tokens_by_client_credentials_password_and_refresh(gateway, machine):
    app = DPoPClient()

    machine_tokens = app.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(machine)).json()
    login = app.token(
        token_url(gateway), {"grant_type": "password", "username": USER, "password": PASSWORD}, auth=auth(machine)
    ).json()
    refreshed = app.token(
        token_url(gateway), {"grant_type": "refresh_token", "refresh_token": login["refresh_token"]}, auth=auth(machine)
    ).json()

    assert [machine_tokens["token_type"], login["token_type"], refreshed["token_type"]] == ["DPoP"] * 3
    for tokens in (machine_tokens, refreshed):
        assert app.call("GET", hello_url(gateway), tokens["access_token"]).status_code == 200
    assert app.call("GET", hello_url(gateway), login["access_token"]).status_code == 401
    assert app.call("GET", hello_url(gateway), refreshed["access_token"]).json()["username"] == USER


def test_a_joserfc_client_exchanges_a_code_and_refreshes_with_its_key(gateway, public_client):
    app = DPoPClient()
    code, verifier = sign_in(gateway, public_client)
    form = {"client_id": public_client["client_id"]}

    tokens = app.token(
        token_url(gateway),
        {
            **form,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    ).json()
    refreshed = app.token(
        token_url(gateway), {**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    ).json()

    assert (tokens["token_type"], refreshed["token_type"]) == ("DPoP", "DPoP")
    assert app.call("GET", hello_url(gateway), refreshed["access_token"]).status_code == 200


def test_a_jwt_access_tokens_cnf_is_the_clients_key_thumbprint(gateway, deployment):
    client = create_client(deployment, "--grant-types", "client_credentials", "--token-format", "jwt")
    app = DPoPClient()

    tokens = app.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(client)).json()

    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["cnf"] == {"jkt": app.jkt}
    assert app.call("GET", hello_url(gateway), tokens["access_token"]).status_code == 200


# --- Stolen tokens -------------------------------------------------------------------------


def test_a_stolen_bound_access_token_is_useless_without_the_key(gateway, machine):
    owner, thief = DPoPClient(), DPoPClient()
    access_token = owner.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(machine)).json()[
        "access_token"
    ]

    as_bearer = [requests.get(hello_url(gateway), headers={"Authorization": f"Bearer {access_token}"}, timeout=30)]
    with_a_key = [thief.call("GET", hello_url(gateway), access_token) for _ in range(CALLS // 2)]

    assert {response.status_code for response in as_bearer + with_a_key} == {401}
    assert {response.json()["error"] for response in with_a_key} == {"invalid_dpop_proof"}
    assert owner.call("GET", hello_url(gateway), access_token).status_code == 200


def test_a_stolen_bound_refresh_token_is_useless_without_the_key(gateway, public_client):
    owner, thief = DPoPClient(), DPoPClient()
    code, verifier = sign_in(gateway, public_client)
    form = {"client_id": public_client["client_id"]}
    tokens = owner.token(
        token_url(gateway),
        {
            **form,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
    ).json()
    refresh = {**form, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}

    with_a_key = thief.token(token_url(gateway), refresh)
    without_a_proof = requests.post(token_url(gateway), data=refresh, timeout=30)

    assert (with_a_key.json()["error"], without_a_proof.json()["error"]) == ("invalid_grant", "invalid_grant")
    assert owner.token(token_url(gateway), refresh).json()["token_type"] == "DPoP"


def test_two_dpop_header_fields_are_refused_whatever_the_server_makes_of_them(gateway, machine):
    # RFC 9449 section 4.3, check 1: not more than one DPoP header field.
    app = DPoPClient()
    credentials = base64.b64encode(f"{machine['client_id']}:{machine['client_secret']}".encode()).decode()
    connection = http.client.HTTPConnection(urlsplit(gateway.url).netloc, timeout=30)
    body = "grant_type=client_credentials"
    connection.putrequest("POST", "/oauth2/token")
    for name, value in (
        ("Authorization", f"Basic {credentials}"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(body))),
        ("DPoP", app.proof("POST", token_url(gateway))),
        ("DPoP", app.proof("POST", token_url(gateway))),
    ):
        connection.putheader(name, value)
    connection.endheaders(body.encode())
    response = connection.getresponse()

    assert response.status == 400
    assert json.loads(response.read())["error"] == "invalid_dpop_proof"
    connection.close()


# --- Replay across the worker processes ---------------------------------------------------------


def test_a_proof_sent_to_both_processes_at_once_is_accepted_once(gateway, machine):
    app = DPoPClient()
    proof = app.proof("POST", token_url(gateway))

    def send():
        return requests.post(
            token_url(gateway),
            data={"grant_type": "client_credentials"},
            auth=auth(machine),
            headers={"DPoP": proof},
            timeout=30,
        )

    answers = at_once([send] * CALLS)

    assert sorted(response.status_code for response in answers) == [200] + [400] * (CALLS - 1)
    refused = {response.json()["error_description"] for response in answers if response.status_code == 400}
    assert refused == {"The DPoP proof has been used before (its jti)."}


def test_a_proof_at_the_api_is_accepted_once_in_every_process(gateway, machine):
    app = DPoPClient()
    access_token = app.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(machine)).json()[
        "access_token"
    ]
    headers = {
        "Authorization": f"DPoP {access_token}",
        "DPoP": app.proof("GET", hello_url(gateway), access_token=access_token),
    }

    answers = at_once([lambda: requests.get(hello_url(gateway), headers=headers, timeout=30)] * CALLS)

    assert sorted(response.status_code for response in answers) == [200] + [401] * (CALLS - 1)


def test_the_per_client_modes_hold_in_every_process(gateway, deployment):
    required = create_client(deployment, "--grant-types", "client_credentials", "--dpop", "required")
    off = create_client(deployment, "--grant-types", "client_credentials", "--dpop", "off")
    app = DPoPClient()

    without = at_once([lambda: gateway.token(required, grant_type="client_credentials")] * (CALLS // 2))
    ignored = [app.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(off)) for _ in range(4)]

    assert {response.json()["error"] for response in without} == {"invalid_dpop_proof"}
    assert {response.json()["token_type"] for response in ignored} == {"Bearer"}


# --- Server nonces: issued by one process, accepted by every other ------------------------------


def test_a_nonce_issued_by_one_process_is_accepted_by_every_process(gateway_with_nonces, machine):
    gateway = gateway_with_nonces
    app = DPoPClient()
    first = app.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(machine))
    assert (first.status_code, app.retries) == (200, 1)
    nonce = app.nonces[urlsplit(gateway.url).netloc]

    def with_the_nonce():
        other = DPoPClient(app.key)
        other.nonces = {urlsplit(gateway.url).netloc: nonce}
        return other.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(machine)), other

    answers = at_once([with_the_nonce] * CALLS)

    assert {response.status_code for response, _ in answers} == {200}
    assert {client.retries for _, client in answers} == {0}


def test_the_api_accepts_the_nonce_the_token_endpoint_gave(gateway_with_nonces, machine):
    gateway = gateway_with_nonces
    app = DPoPClient()
    access_token = app.token(token_url(gateway), {"grant_type": "client_credentials"}, auth=auth(machine)).json()[
        "access_token"
    ]
    retries = app.retries

    answers = [app.call("GET", hello_url(gateway), access_token) for _ in range(CALLS // 2)]

    assert {response.status_code for response in answers} == {200}
    assert app.retries == retries


def test_without_the_nonce_each_process_asks_for_one(gateway_with_nonces, machine):
    gateway = gateway_with_nonces

    def without_a_nonce():
        app = DPoPClient()
        return requests.post(
            token_url(gateway),
            data={"grant_type": "client_credentials"},
            auth=auth(machine),
            headers={"DPoP": app.proof("POST", token_url(gateway))},
            timeout=30,
        )

    answers = at_once([without_a_nonce] * (CALLS // 2))

    assert {(response.status_code, response.json()["error"]) for response in answers} == {(400, "use_dpop_nonce")}
    assert all(response.headers["DPoP-Nonce"] for response in answers)


# --- oauth4webapi ------------------------------------------------------------------------------


@pytest.mark.parametrize("instance", ["gateway", "gateway_with_nonces"])
def test_oauth4webapi_gets_uses_and_refreshes_dpop_tokens(request, machine, instance):
    gateway = request.getfixturevalue(instance)
    node = shutil.which("node")
    assert node and (NODE_MODULES / "oauth4webapi").is_dir(), "run scripts/install-js-deps.sh"
    finished = subprocess.run(
        [node, str(SCRIPT), gateway.url, machine["client_id"], machine["client_secret"], USER, PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    seen = json.loads(finished.stdout)

    assert "unexpected" not in seen, seen
    assert "ES256" in seen["dpop_algs"]
    assert seen["client_credentials"] == {"token_type": "dpop", "hello": 200}
    assert seen["password"] == {"token_type": "dpop", "hello": 200}
    assert seen["refresh"]["token_type"] == "dpop"
    assert (seen["refresh"]["new_access_token"], seen["refresh"]["hello"]) == (True, 200)
    assert seen["refresh"]["old_access_token"]["status"] == 401
    assert seen["stolen_access_token"] == {
        "raised": "WWWAuthenticateChallengeError",
        "status": 401,
        "scheme": "dpop",
        "error": "invalid_dpop_proof",
    }
    assert seen["stolen_as_bearer"] == 401
    # With nonces required, the library learnt one from the first refusal and then from each answer.
    assert seen["nonce_retries"] == (1 if instance == "gateway_with_nonces" else 0)
