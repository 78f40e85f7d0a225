"""Every worker process of a deployment agrees at once, on the embedded default as on PostgreSQL + Redis.

The gateway runs as operators run it: ``gatewayproj.server`` with two worker processes of
four threads, on SQLite in a file with no Redis (what ``make run`` serves) in
the embedded test run, on a fresh PostgreSQL database with Redis in the
scale-out run. Every call opens a new connection, so calls spread over both
processes; a check that must hold "in every process" is made on sixteen calls.
"""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.admin_session import AdminSession, form_fields
from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

USER, PASSWORD = "abc123", "xyz456"
STAFF, STAFF_PASSWORD = "operator", "a long staff password 42"
USERNAME_LIMIT = 10
REUSE_INTERVAL = 3
CALLS = 16


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), {USER: PASSWORD})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def deployment(upstream, tmp_path_factory):
    settings = {
        "OAUTHGW_THROTTLE_USERNAME_FAILURES": str(USERNAME_LIMIT),
        "OAUTHGW_REFRESH_REUSE_INTERVAL": str(REUSE_INTERVAL),
    }
    with deployment_for_this_run(upstream.url, tmp_path_factory.mktemp("deployment"), **settings) as deployment:
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
def client(deployment):
    return deployment.create_client()


@pytest.fixture(scope="module")
def introspector(deployment):
    return deployment.create_client(grant_types="client_credentials", can_introspect=True)


def login(gateway, client) -> dict:
    response = gateway.token(client, grant_type="password", username=USER, password=PASSWORD)
    assert response.status_code == 200, response.text
    return response.json()


def statuses_of_calls(gateway, access_token: str) -> list[int]:
    return [gateway.hello(access_token).status_code for _ in range(CALLS)]


def active(gateway, introspector, token: str) -> bool:
    return gateway.post("/oauth2/introspect", introspector, token=token).json()["active"]


def at_once(calls) -> list:
    """Run the calls together, released by one barrier."""
    start = threading.Barrier(len(calls))

    def run(call):
        start.wait(10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


# --- Concurrency -----------------------------------------------------------------------


def test_twenty_four_token_requests_at_once_are_all_answered(gateway, client):
    refresh_tokens = [login(gateway, client)["refresh_token"] for _ in range(8)]
    calls = (
        [lambda: gateway.token(client, grant_type="password", username=USER, password=PASSWORD)] * 8
        + [lambda: gateway.token(client, grant_type="client_credentials")] * 8
        + [
            (lambda token=token: gateway.token(client, grant_type="refresh_token", refresh_token=token))
            for token in refresh_tokens
        ]
    )

    responses = at_once(calls)

    assert [response.status_code for response in responses] == [200] * 24, [r.text for r in responses]


def test_refreshing_under_client_credentials_load_never_fails(gateway, client):
    stop = threading.Event()
    machine_statuses: list[int] = []

    def load():
        while not stop.is_set():
            machine_statuses.append(gateway.token(client, grant_type="client_credentials").status_code)

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    refresh_statuses = []
    refresh_token = login(gateway, client)["refresh_token"]
    deadline = time.monotonic() + 8
    try:
        while time.monotonic() < deadline:
            response = gateway.token(client, grant_type="refresh_token", refresh_token=refresh_token)
            refresh_statuses.append(response.status_code)
            if response.status_code == 200:
                refresh_token = response.json()["refresh_token"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert refresh_statuses and set(refresh_statuses) == {200}, refresh_statuses
    assert machine_statuses and set(machine_statuses) == {200}


def test_eight_refreshes_of_one_token_at_once_leave_one_winner_whose_pair_works(gateway, client):
    refresh_token = login(gateway, client)["refresh_token"]

    responses = at_once([lambda: gateway.token(client, grant_type="refresh_token", refresh_token=refresh_token)] * 8)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 7, [response.text for response in responses]
    assert {response.json()["error"] for response in responses if response.status_code != 200} == {"invalid_grant"}
    winner = next(response.json() for response in responses if response.status_code == 200)
    assert set(statuses_of_calls(gateway, winner["access_token"])) == {200}
    assert gateway.token(client, grant_type="refresh_token", refresh_token=winner["refresh_token"]).status_code == 200


# --- Disabling and revoking reach every process -----------------------------------------


def disable_with_the_admin_form(deployment, gateway, client) -> None:
    staff = AdminSession(gateway.url, STAFF, STAFF_PASSWORD)
    pk = client_pk(deployment, client)
    answer = staff.submit_form(f"/admin/oauthgw/application/{pk}/change/", {"enabled": None}, {"_save": "Save"})
    assert answer.status_code == 200 and "/change/" not in answer.url, answer.url


def disable_with_the_admin_action(deployment, gateway, client) -> None:
    staff = AdminSession(gateway.url, STAFF, STAFF_PASSWORD)
    answer = staff.run_action("/admin/oauthgw/application/", "disable_clients", [client_pk(deployment, client)])
    assert answer.status_code == 200


def disable_with_model_save_in_a_shell(deployment, gateway, client) -> None:
    deployment.shell(
        "from oauthgw.models import Application\n"
        f"client = Application.objects.get(client_id={client['client_id']!r})\n"
        "client.enabled = False\n"
        "client.save()\n"
    )


def disable_with_the_management_command(deployment, gateway, client) -> None:
    deployment.manage("disable_client", client["client_id"])


def client_pk(deployment, client) -> int:
    code = (
        f"from oauthgw.models import Application; print(Application.objects.get(client_id={client['client_id']!r}).pk)"
    )
    return int(deployment.shell(code).strip())


@pytest.mark.parametrize(
    "disable",
    [
        disable_with_the_admin_form,
        disable_with_the_admin_action,
        disable_with_model_save_in_a_shell,
        disable_with_the_management_command,
    ],
    ids=["admin form", "admin action", "Model.save()", "disable_client"],
)
def test_a_disabled_clients_tokens_are_refused_by_every_process_at_once(
    deployment, gateway, client, introspector, disable
):
    machine = gateway.token(client, grant_type="client_credentials").json()["access_token"]
    person = login(gateway, client)
    for token in (machine, person["access_token"]):
        assert set(statuses_of_calls(gateway, token)) == {200}
        assert active(gateway, introspector, token)

    disable(deployment, gateway, client)

    for token in (machine, person["access_token"]):
        assert set(statuses_of_calls(gateway, token)) == {401}
        assert not active(gateway, introspector, token)
    assert gateway.token(client, grant_type="client_credentials").status_code == 401
    refreshed = gateway.token(client, grant_type="refresh_token", refresh_token=person["refresh_token"])
    assert refreshed.status_code == 401


def test_a_client_enabled_again_gets_none_of_its_old_tokens_back(deployment, gateway, client):
    token = gateway.token(client, grant_type="client_credentials").json()["access_token"]
    deployment.manage("disable_client", client["client_id"])

    deployment.manage("enable_client", client["client_id"])

    assert set(statuses_of_calls(gateway, token)) == {401}
    assert gateway.token(client, grant_type="client_credentials").status_code == 200


def test_a_client_disabled_with_sql_gets_no_token_at_once_and_its_tokens_stop_within_a_second(
    deployment, gateway, client
):
    token = gateway.token(client, grant_type="client_credentials").json()["access_token"]
    assert set(statuses_of_calls(gateway, token)) == {200}

    # Plain SQL, as a DBA would run it: no model, no signal.
    sql = "UPDATE oauthgw_application SET enabled = %s WHERE client_id = %s"
    deployment.shell(
        f"from django.db import connection\nconnection.cursor().execute({sql!r}, [False, {client['client_id']!r}])\n"
    )
    disabled_at = time.monotonic()

    assert gateway.token(client, grant_type="client_credentials").status_code == 401
    time.sleep(max(0.0, 1.0 - (time.monotonic() - disabled_at)))
    assert set(statuses_of_calls(gateway, token)) == {401}


def test_a_revoked_access_token_is_refused_by_every_process(gateway, client):
    token = gateway.token(client, grant_type="client_credentials").json()["access_token"]
    assert set(statuses_of_calls(gateway, token)) == {200}

    assert gateway.post("/oauth2/revoke", client, token=token).status_code == 200

    assert set(statuses_of_calls(gateway, token)) == {401}


def test_a_replayed_refresh_token_stops_the_familys_access_token_in_every_process(gateway, client):
    first = login(gateway, client)
    rotated = gateway.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"]).json()
    assert set(statuses_of_calls(gateway, rotated["access_token"])) == {200}
    time.sleep(REUSE_INTERVAL + 0.1)

    replay = gateway.token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])

    assert replay.status_code == 401
    assert set(statuses_of_calls(gateway, rotated["access_token"])) == {401}


# --- Deleting a client reaches every process ----------------------------------------------


def delete_from_the_clients_page(deployment, gateway, client) -> None:
    staff = AdminSession(gateway.url, STAFF, STAFF_PASSWORD)
    answer = staff.submit_form(f"/admin/oauthgw/application/{client_pk(deployment, client)}/delete/", {})
    assert answer.status_code == 200 and answer.url.endswith("/admin/oauthgw/application/"), answer.url


def delete_with_the_list_action(deployment, gateway, client) -> None:
    staff = AdminSession(gateway.url, STAFF, STAFF_PASSWORD)
    page = staff.run_action("/admin/oauthgw/application/", "delete_clients", [client_pk(deployment, client)])
    assert "Delete these clients?" in page.text
    url = f"{gateway.url}/admin/oauthgw/application/"
    answer = staff.http.post(url, data=form_fields(page.text), headers={"Referer": url}, timeout=30)
    assert answer.status_code == 200 and "Deleted 1 client" in answer.text


def delete_with_the_management_command(deployment, gateway, client) -> None:
    deployment.manage("delete_client", client["client_id"], "--no-input")


@pytest.mark.parametrize(
    "delete",
    [delete_from_the_clients_page, delete_with_the_list_action, delete_with_the_management_command],
    ids=["client's page", "list action", "delete_client"],
)
def test_a_deleted_clients_credentials_and_tokens_are_refused_by_every_process_at_once(
    deployment, gateway, client, introspector, delete
):
    machine = gateway.token(client, grant_type="client_credentials").json()["access_token"]
    person = login(gateway, client)
    for token in (machine, person["access_token"]):
        assert set(statuses_of_calls(gateway, token)) == {200}
        assert active(gateway, introspector, token)
    pk = client_pk(deployment, client)
    name = deployment.shell(
        f"from oauthgw.models import Application; print(Application.objects.get(pk={pk}).name)"
    ).strip()

    delete(deployment, gateway, client)

    for token in (machine, person["access_token"]):
        assert set(statuses_of_calls(gateway, token)) == {401}
        assert not active(gateway, introspector, token)
    for form in (
        {"grant_type": "client_credentials"},
        {"grant_type": "refresh_token", "refresh_token": person["refresh_token"]},
    ):
        refused = [gateway.token(client, **form) for _ in range(CALLS)]
        assert {(answer.status_code, answer.json()["error"]) for answer in refused} == {(401, "invalid_client")}
    remains = deployment.shell(
        "from oauthgw.models import Application, AuditEvent, DeletedClient, UpstreamSession\n"
        f"client_id = {client['client_id']!r}\n"
        "print(Application.objects.filter(client_id=client_id).count(), UpstreamSession.objects.filter(client_id="
        f"{pk}).count(), AuditEvent.objects.filter(client_id=client_id, outcome='issued').count(), "
        "DeletedClient.objects.get(client_id=client_id).name)\n"
    ).split()
    assert remains == ["0", "0", "2", name]


# --- Limits count across processes ------------------------------------------------------


def test_thirty_wrong_passwords_reach_the_upstream_no_more_often_than_the_limit(gateway, client, upstream):
    guessed = f"victim-{uuid.uuid4().hex[:8]}"
    before = upstream.requests_served()

    statuses = [
        gateway.token(client, grant_type="password", username=guessed, password=f"guess-{n}").status_code
        for n in range(30)
    ]

    assert upstream.requests_served() - before <= USERNAME_LIMIT
    assert statuses[:USERNAME_LIMIT] == [401] * USERNAME_LIMIT
    assert set(statuses[USERNAME_LIMIT:]) == {429}
