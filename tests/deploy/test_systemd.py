"""deploy/systemd/: the units verify, and their commands run as systemd would run them.

systemd is installed but is not PID 1 here, so the service is started the way the unit
says (its ExecStartPre lines, then ExecStart, in the environment its Environment= and
EnvironmentFile= give) and driven with its ExecReload and its KillMode. The gateway is
set up with deploy/oauthgw-manage, as docs/operations.md tells operators to.
"""

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support.installation import (
    PUBLIC_HOST,
    SYSTEMD,
    Installation,
    environment_file,
    production_environment,
    proxied,
    wait_until,
)

pytestmark = pytest.mark.e2e

DAY = 24 * 3600


@pytest.fixture
def installation(tmp_path):
    with production_environment(tmp_path) as values:
        yield Installation(tmp_path, values)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """One installation, migrated with oauthgw-manage, shared by the tests that run its gateway."""
    directory = tmp_path_factory.mktemp("installed")
    with production_environment(directory) as values:
        installation = Installation(directory, values)
        migrate = installation.manage("migrate", "--noinput")
        assert migrate.returncode == 0, migrate.stderr
        yield installation


def create_client(installation: Installation) -> dict:
    made = installation.manage("create_client", "deploy-test", "--grant-types", "client_credentials", "--json")
    assert made.returncode == 0, made.stderr
    return json.loads(made.stdout)


def test_every_unit_passes_systemd_analyze_verify(installation):
    units = sorted(str(path) for path in installation.units.iterdir())
    assert {Path(unit).name for unit in units} == {path.name for path in SYSTEMD.iterdir()}

    verified = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60)

    # Unknown or misspelt settings are only warnings: any output fails the test.
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_the_service_stops_its_workers_within_the_time_systemd_gives_it(installation):
    service = installation.service("oauthgw.service")
    graceful = float(installation.service_environment("oauthgw.service")["GATEWAY_GRACEFUL_TIMEOUT"])

    assert float(service["TimeoutStopSec"][0]) > graceful
    assert service["KillMode"] == ["mixed"]


def test_the_service_refuses_to_start_with_the_example_environment_file_as_it_comes(tmp_path):
    installation = Installation(tmp_path, {})  # the keys still empty

    [check] = installation.run("oauthgw.service", "ExecStartPre")

    assert check.returncode != 0
    assert "security.W009" in check.stderr  # DJANGO_SECRET_KEY
    assert "oauthgw.W005" in check.stderr  # OAUTHGW_ENCRYPTION_KEYS


def test_the_service_refuses_to_start_on_a_database_its_migrations_have_not_reached(installation):
    check, migrations = installation.run("oauthgw.service", "ExecStartPre")

    assert check.returncode == 0, check.stderr
    assert migrations.returncode != 0


def test_the_service_serves_reloads_without_refusing_a_request_and_stops_gracefully(migrated, tmp_path):
    client = create_client(migrated)
    with migrated.service_running(tmp_path / "service.log") as service:
        token = proxied(
            migrated,
            "POST",
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert token.status_code == 200, token.text
        access = token.json()["access_token"]
        hello = proxied(migrated, "GET", "/helloworld/", headers={"Authorization": f"Bearer {access}"})
        assert hello.status_code == 200, hello.text
        # docs/operations.md's check on the machine itself: plain HTTP, by address.
        health = requests.get(f"{migrated.url}/healthz", timeout=10)
        assert health.json() == {"status": "ok"}

        # systemctl reload: every worker replaced, while requests keep being answered.
        before = service.workers()
        failures: list[str] = []
        stop = threading.Event()

        def keep_calling():
            while not stop.is_set():
                try:
                    answer = proxied(migrated, "GET", "/helloworld/", headers={"Authorization": f"Bearer {access}"})
                    if answer.status_code != 200:
                        failures.append(str(answer.status_code))
                except OSError as exc:
                    failures.append(repr(exc))

        caller = threading.Thread(target=keep_calling)
        caller.start()
        try:
            service.reload()
            wait_until(lambda: service.workers() and not (service.workers() & before), timeout=60)
            time.sleep(0.5)
        finally:
            stop.set()
            caller.join(30)
        assert failures == []

        # systemctl stop: a request whose body is still arriving is answered, then the service exits.
        body = b"grant_type=client_credentials"
        with socket.create_connection(("127.0.0.1", migrated.port), timeout=30) as slow:
            slow.sendall(
                b"POST /oauth2/token HTTP/1.1\r\nHost: " + PUBLIC_HOST.encode() + b"\r\n"
                b"X-Forwarded-Proto: https\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n"
            )
            time.sleep(0.5)
            stopping = threading.Thread(target=service.stop, args=(45,))
            stopping.start()
            time.sleep(0.5)
            slow.sendall(body)
            answer = slow.recv(65536)
            stopping.join(60)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]  # an answer (no credentials), not a reset
        assert service.process.returncode == 0


def test_the_backup_unit_writes_a_backup_and_deletes_those_older_than_two_weeks(migrated):
    old = migrated.backups / "oauthgw-20200101T000000Z.sqlite3"
    recent = migrated.backups / "oauthgw-20200102T000000Z.sqlite3"
    for path, age in ((old, 15 * DAY), (recent, 13 * DAY)):
        path.write_bytes(b"an earlier backup")
        os.utime(path, (time.time() - age, time.time() - age))

    results = migrated.run("oauthgw-backup.service", "ExecStart") + migrated.run(
        "oauthgw-backup.service", "ExecStartPost"
    )

    assert [result.returncode for result in results] == [0, 0], [result.stderr for result in results]
    written = Path(results[0].stdout.strip())
    assert written.parent == migrated.backups
    restored = migrated.manage("restore_database", "--replace", str(written))
    assert restored.returncode == 0, restored.stderr
    assert not old.exists()
    assert recent.exists()


def test_the_maintenance_unit_runs_every_command(migrated):
    results = migrated.run("oauthgw-maintenance.service", "ExecStart")

    assert [result.returncode for result in results] == [0, 0, 0], [result.stderr for result in results]


def test_the_example_environment_file_reads_the_same_in_systemd_and_in_oauthgw_manage(tmp_path):
    installation = Installation(tmp_path, {"OAUTHGW_REALM": "'two words'"})
    shown = installation.manage("shell", "--no-imports", "-c", "import os; print(repr(os.environ['OAUTHGW_REALM']))")

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == repr("two words")
    assert environment_file(installation.env_file.read_text())["OAUTHGW_REALM"] == "two words"
