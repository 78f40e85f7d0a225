"""Sessions bound to the upstream's verdict, over real HTTP, in every deployment.

The gateway runs as operators run it (gunicorn, two worker processes; SQLite
without Redis in the embedded run, PostgreSQL with Redis in the scale-out run)
in front of the project's development authorization server, which issues
rotating refresh tokens and can disable a user while it runs. The default server
re-verifies ``never``; a second server row, the same development server behind a
TCP forwarder that can be cut, re-verifies ``always``.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DEV_AUTH_CLIENT, DevAuthorizationServerProcess
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

PASSWORD = "a-password-for-every-user"
USERS = ("steady", "leaver", "flaky", "racer")
CALLS = 16  # every call opens a new connection: both worker processes answer some


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), dict.fromkeys(USERS, PASSWORD))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(upstream):
    forwarder = TcpProxy(("127.0.0.1", upstream.port))
    yield forwarder
    forwarder.close()


@pytest.fixture(scope="module")
def deployment(upstream, proxy, tmp_path_factory):
    with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
        deployment.shell(
            "from oauthgw.models import AuthorizationServer\n"
            "AuthorizationServer.objects.create(name='reverifying', "
            f"token_url='http://127.0.0.1:{proxy.port}/token', client_id={DEV_AUTH_CLIENT[0]!r}, "
            f"client_secret={DEV_AUTH_CLIENT[1]!r}, timeout=2.0, reverify='always')\n"
        )
        yield deployment


@pytest.fixture(scope="module")
def gateway(deployment, tmp_path_factory):
    instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gunicorn.log", workers=2, threads=4)
    yield instance
    instance.stop()


@pytest.fixture
def never_client(deployment):
    return deployment.create_client()


@pytest.fixture
def always_client(deployment):
    client = deployment.create_client()
    deployment.shell(
        "from oauthgw.models import Application, AuthorizationServer\n"
        f"Application.objects.filter(client_id={client['client_id']!r})"
        ".update(authorization_server=AuthorizationServer.objects.get(name='reverifying'))\n"
    )
    return client


def login(gateway, client, username: str) -> dict:
    response = gateway.token(client, grant_type="password", username=username, password=PASSWORD)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(gateway, client, pair: dict) -> requests.Response:
    return gateway.token(client, grant_type="refresh_token", refresh_token=pair["refresh_token"])


def hello_statuses(gateway, pair: dict) -> set[int]:
    return {gateway.hello(pair["access_token"]).status_code for _ in range(CALLS)}


def set_enabled(upstream, username: str, enabled: bool) -> None:
    action = "enable" if enabled else "disable"
    response = requests.post(
        f"http://127.0.0.1:{upstream.port}/admin/users/{username}/{action}", auth=DEV_AUTH_CLIENT, timeout=10
    )
    assert response.status_code == 200, response.text


def kept_upstream_tokens(deployment) -> list[str]:
    """The upstream refresh tokens the gateway keeps, decrypted: what must appear nowhere else."""
    out = deployment.shell(
        "import json\nfrom oauthgw.models import UpstreamSession\n"
        "print(json.dumps([s.refresh_token for s in UpstreamSession.objects.all()]))\n"
    )
    return [token for token in json.loads(out.strip().splitlines()[-1]) if token]


def audit_outcomes(deployment, client) -> list[str]:
    out = deployment.shell(
        "import json\nfrom oauthgw.models import AuditEvent\n"
        f"print(json.dumps(list(AuditEvent.objects.filter(client_id={client['client_id']!r})"
        ".order_by('pk').values_list('outcome', flat=True))))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def test_with_never_a_refresh_asks_the_upstream_nothing(gateway, never_client, upstream):
    pair = login(gateway, never_client, "steady")
    asked = upstream.requests_served()

    refreshed = refresh(gateway, never_client, pair)

    assert refreshed.status_code == 200, refreshed.text
    assert upstream.requests_served() == asked


def test_a_user_disabled_upstream_loses_the_session_at_the_next_refresh_in_every_process(
    gateway, deployment, always_client, upstream
):
    pair = login(gateway, always_client, "leaver")
    asked = upstream.requests_served()
    pair = refresh(gateway, always_client, pair).json()
    assert upstream.requests_served() == asked + 1
    assert hello_statuses(gateway, pair) == {200}

    set_enabled(upstream, "leaver", False)
    try:
        refused = refresh(gateway, always_client, pair)
        statuses = hello_statuses(gateway, pair)
        login_again = gateway.token(always_client, grant_type="password", username="leaver", password=PASSWORD)
    finally:
        set_enabled(upstream, "leaver", True)

    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_grant"
    assert statuses == {401}
    assert login_again.status_code == 401
    assert "session_rejected" in audit_outcomes(deployment, always_client)
    assert refresh(gateway, always_client, pair).status_code == 401  # the family stays dead


def test_an_upstream_outage_is_503_and_the_same_refresh_token_works_once_it_is_back(gateway, always_client, proxy):
    pair = login(gateway, always_client, "flaky")

    proxy.cut()
    try:
        outage = refresh(gateway, always_client, pair)
    finally:
        proxy.restore()
    later = refresh(gateway, always_client, pair)

    assert outage.status_code == 503
    assert outage.json()["error"] == "temporarily_unavailable"
    assert int(outage.headers["Retry-After"]) > 0
    assert later.status_code == 200, later.text
    assert hello_statuses(gateway, later.json()) == {200}


def test_eight_refreshes_of_one_token_at_once_leave_one_winner_whose_session_goes_on(gateway, always_client, upstream):
    # The development server rotates its refresh tokens and refuses a used one: if two
    # requests sent it the same kept token, the second would revoke the session.
    pair = login(gateway, always_client, "racer")

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: refresh(gateway, always_client, pair), range(8)))

    winners = [answer.json() for answer in answers if answer.status_code == 200]
    assert len(winners) == 1, [answer.status_code for answer in answers]
    assert {answer.status_code for answer in answers if answer.status_code != 200} == {401}
    assert refresh(gateway, always_client, winners[0]).status_code == 200


def test_the_upstreams_refresh_tokens_are_in_no_log_line_and_not_in_the_database_in_clear(
    gateway, deployment, always_client
):
    pair = login(gateway, always_client, "steady")
    refresh(gateway, always_client, pair)
    kept = kept_upstream_tokens(deployment)
    dump = deployment.manage("dumpdata", "oauthgw", "oauth2_provider")

    assert kept, "no upstream refresh token was kept: the scan would prove nothing"
    logged = gateway.log_path.read_text(encoding="utf-8", errors="replace")
    for token in kept:
        assert token not in dump
        assert token not in logged
