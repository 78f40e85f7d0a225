"""A client's password-grant sunset on a real deployment: its headers, its refusal, its sessions, its dashboard.

The gateway runs as operators run it (``gatewayproj.server``, two worker
processes) on the embedded default in the embedded test run and on PostgreSQL +
Redis in the scale-out run, in front of the development authorization server.
The last day is set and cleared with ``update_client`` as an operator would, and
every check is made on several calls so that both worker processes answer.
"""

import json
import re
from datetime import UTC, date, datetime, timedelta

import http_sf
import pytest
import requests
from requests.utils import parse_header_links

from tests.support.admin_session import AdminSession
from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import ROOT, DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

USER, PASSWORD = "abc123", "xyz456"
STAFF, STAFF_PASSWORD = "operator", "a long staff password 42"
CALLS = 6
GUIDE_PATH = "/docs/migrating-off-password-grant.md"


def utc_today() -> date:
    return datetime.now(UTC).date()


def midnight_after(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {USER: PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployment(upstream, tmp_path_factory):
    with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment")) as deployment:
        deployment.shell(
            "from django.contrib.auth import get_user_model\n"
            f"get_user_model().objects.create_superuser({STAFF!r}, 'ops@example.com', {STAFF_PASSWORD!r})\n"
        )
        yield deployment


@pytest.fixture(scope="module")
def gateway(deployment, tmp_path_factory):
    instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", workers=2, threads=4)
    yield instance
    instance.stop()


@pytest.fixture
def legacy(deployment, request):
    """A password client whose last day is a month away, registered with create_client."""
    name = f"legacy-{request.node.name[-40:]}".replace("[", "-").replace("]", "")
    last_day = (utc_today() + timedelta(days=30)).isoformat()
    created = deployment.manage("create_client", name, "--password-grant-until", last_day, "--json")
    return {**json.loads(created.strip().splitlines()[-1]), "name": name}


def set_last_day(deployment, client: dict, value: str) -> str:
    return deployment.manage("update_client", client["name"], "--password-grant-until", value)


def log_in(gateway, client, password: str = PASSWORD) -> requests.Response:
    return gateway.token(client, grant_type="password", username=USER, password=password)


def announced(response: requests.Response) -> tuple[datetime, datetime, list[dict]]:
    deprecation, parameters = http_sf.parse(response.headers["Deprecation"].encode("ascii"), tltype="item")
    assert isinstance(deprecation, datetime) and parameters == {}
    sunset = datetime.strptime(response.headers["Sunset"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    return deprecation, sunset, parse_header_links(response.headers["Link"])


def test_until_the_last_day_every_answer_announces_it_and_links_to_the_guide_the_gateway_serves(gateway, legacy):
    last_day = utc_today() + timedelta(days=30)

    answers = [log_in(gateway, legacy) for _ in range(CALLS)] + [log_in(gateway, legacy, "wrong")]

    assert [answer.status_code for answer in answers] == [200] * CALLS + [401]
    readings = {announced(answer)[:2] for answer in answers}
    assert len(readings) == 1
    [(deprecation, sunset)] = readings
    assert sunset == midnight_after(last_day)
    assert abs(datetime.now(UTC) - deprecation) < timedelta(minutes=5)
    links = announced(answers[0])[2]
    assert [(link["rel"], link["type"]) for link in links] == [
        ("deprecation", "text/markdown"),
        ("sunset", "text/markdown"),
    ]
    assert {link["url"] for link in links} == {f"{gateway.url}{GUIDE_PATH}"}
    guide = requests.get(links[0]["url"], timeout=30)
    assert guide.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert guide.content == (ROOT / "docs" / "migrating-off-password-grant.md").read_bytes()


def test_on_its_last_day_the_grant_still_works(deployment, gateway, legacy):
    # The day is today unless the day is about to end while this test runs.
    today = utc_today()
    last_day = today if midnight_after(today) - datetime.now(UTC) > timedelta(minutes=5) else today + timedelta(days=1)
    set_last_day(deployment, legacy, last_day.isoformat())

    answers = [log_in(gateway, legacy) for _ in range(CALLS)]

    assert {answer.status_code for answer in answers} == {200}
    assert {announced(answer)[1] for answer in answers} == {midnight_after(last_day)}


def test_after_the_last_day_every_process_refuses_it_without_asking_the_upstream_and_clearing_it_rolls_back(
    deployment, gateway, upstream, legacy
):
    yesterday = utc_today() - timedelta(days=1)
    printed = set_last_day(deployment, legacy, yesterday.isoformat())
    asked = upstream.requests_served()

    refusals = [log_in(gateway, legacy) for _ in range(CALLS)]

    assert "refused since" in printed
    assert {answer.status_code for answer in refusals} == {400}
    assert {json.dumps(answer.json()) for answer in refusals} == {
        json.dumps(
            {
                "error": "unauthorized_client",
                "error_description": "This client may no longer use the password grant: its last day was "
                f"{yesterday.isoformat()} (UTC). Use the authorization code flow with PKCE instead: "
                f"{gateway.url}{GUIDE_PATH}",
            }
        )
    }
    assert {announced(answer)[1] for answer in refusals} == {midnight_after(yesterday)}
    assert upstream.requests_served() == asked
    recorded = deployment.shell(
        "from oauthgw.models import AuditEvent\n"
        f"print(AuditEvent.objects.filter(client_id={legacy['client_id']!r}, outcome='password_grant_ended').count())"
    )
    assert recorded.strip() == str(CALLS)

    set_last_day(deployment, legacy, "none")
    answers = [log_in(gateway, legacy) for _ in range(CALLS)]
    assert {answer.status_code for answer in answers} == {200}
    assert not any("Sunset" in answer.headers or "Deprecation" in answer.headers for answer in answers)


def test_sessions_of_password_logins_refresh_after_the_sunset_unless_told_to_end_there(
    deployment, gateway, legacy, tmp_path
):
    pairs = [log_in(gateway, legacy).json() for _ in range(2)]
    set_last_day(deployment, legacy, (utc_today() - timedelta(days=1)).isoformat())
    ending = Gateway(
        deployment,
        tmp_path / "ending.log",
        workers=1,
        extra_env={"OAUTHGW_PASSWORD_GRANT_SUNSET_ENDS_SESSIONS": "1"},
    )
    try:
        kept = gateway.token(legacy, grant_type="refresh_token", refresh_token=pairs[0]["refresh_token"])
        ended = ending.token(legacy, grant_type="refresh_token", refresh_token=pairs[1]["refresh_token"])
        ended_access = ending.hello(pairs[1]["access_token"])
    finally:
        ending.stop()

    assert kept.status_code == 200, kept.text
    assert ended.status_code == 401
    assert ended.json()["error"] == "invalid_grant"
    assert ended_access.status_code == 401


def test_the_dashboard_counts_the_clients_password_logins_of_today(deployment, gateway, legacy):
    for _ in range(3):
        assert log_in(gateway, legacy).status_code == 200
    assert log_in(gateway, legacy, "wrong").status_code == 401
    staff = AdminSession(gateway.url, STAFF, STAFF_PASSWORD)

    page = staff.http.get(f"{gateway.url}/admin/", timeout=30).text

    row = re.search(rf'data-client-id="{re.escape(legacy["client_id"])}">(.*?)</tr>', page, flags=re.S)
    assert row, "the client is listed"
    assert re.search(r'class="gw-total" href="[^"]+">3<', row.group(1))
    today = utc_today().isoformat()
    assert re.search(rf'data-day="{today}"><span class="gw-count">{today}: 3<', row.group(1))
    assert (utc_today() + timedelta(days=30)).isoformat() in row.group(1)
