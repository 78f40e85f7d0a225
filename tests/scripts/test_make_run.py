"""``make run`` as an operator meets it on the second day: signals, a port in use, files and commands.

Each test runs ``make run`` in the fresh clone of tests/scripts/conftest.py (on
free ports) and does what the README says an operator may do.
"""

import os
import signal
import stat
import subprocess
import time

import pytest
import requests

from tests.scripts.test_readme_try_it import STOP_SECONDS, _port_open, _session_members, running_make_run

pytestmark = pytest.mark.e2e


def assert_everything_stopped(make_run) -> None:
    deadline = time.monotonic() + STOP_SECONDS
    while _session_members(make_run.process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_members(make_run.process.pid) == []
    assert not _port_open(make_run.gateway_port)
    assert not _port_open(make_run.dev_auth_port)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP, signal.SIGTERM], ids=lambda s: s.name)
def test_each_signal_the_readme_names_sent_to_make_stops_both_servers(fresh_clone, signum):
    with running_make_run(fresh_clone) as make_run:
        make_run.process.send_signal(signum)  # `kill -INT <pid of make>`, to make alone

        make_run.process.wait(STOP_SECONDS)

        assert_everything_stopped(make_run)
        assert "stopping" in "".join(make_run.output)


def test_a_second_make_run_on_ports_in_use_stops_at_once_and_the_first_serves_on(fresh_clone):
    with running_make_run(fresh_clone) as first:
        started = time.monotonic()
        second = subprocess.run(
            ["make", "--no-print-directory", "run"],
            cwd=fresh_clone,
            env=first.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

        assert second.returncode != 0
        assert time.monotonic() - started < 30
        assert f"port {first.gateway_port} on 127.0.0.1 is already in use" in second.stderr
        assert f"port {first.dev_auth_port} on 127.0.0.1 is already in use" in second.stderr
        assert "oauthgw is starting" not in second.stdout
        assert requests.get(f"http://127.0.0.1:{first.gateway_port}/healthz", timeout=10).status_code == 200
        first.process.send_signal(signal.SIGTERM)
        first.process.wait(STOP_SECONDS)
    # One terminal, one format: the access log's lines are plain like the application's.
    lines = "".join(first.output).splitlines()
    assert any("gatewayproj.access" in line and "/healthz 200" in line for line in lines)
    assert not [line for line in lines if line.startswith("{")]


def test_the_database_and_the_demo_secret_are_readable_by_the_service_user_only(fresh_clone):
    with running_make_run(fresh_clone) as make_run:
        var = fresh_clone / "var"
        files = [var / "db.sqlite3", var / "demo-client.json", *var.glob("db.sqlite3-*")]
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files if path.exists()}
        make_run.process.send_signal(signal.SIGTERM)
        make_run.process.wait(STOP_SECONDS)

    assert modes["db.sqlite3"] == 0o600
    assert set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(var.stat().st_mode) == 0o700


def test_scripts_manage_sh_never_migrates_on_its_own(fresh_clone, tmp_path):
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("OAUTHGW_", "DJANGO_", "REDIS_URL"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"

    shown = subprocess.run(
        ["scripts/manage.sh", "showmigrations", "oauthgw"],
        cwd=fresh_clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert shown.returncode == 0, shown.stderr
    assert "[ ] 0001_initial" in shown.stdout  # nothing was applied behind the operator's back
