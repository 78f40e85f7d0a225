"""Backups as docs/operations.md tells operators to take them: online, then restored into a fresh gateway.

A gateway serves (``python -m gatewayproj.server``, two workers: SQLite without Redis in
the embedded run, PostgreSQL with Redis in the scale-out run) while ``backup_database``
copies its database (SQLite's backup API, or ``pg_dump``) under a stream of token
requests. ``restore_database`` puts the copy into a new database (a new file, or a new
PostgreSQL database with ``pg_restore``) of a new deployment given the same keys, and
everything the backup held works there: the client's secret, its access token, its
refresh token, the session the authorization server vouched for (whose kept upstream
refresh token only the encryption key opens), a JWT signed by a stored key, and the
staff account that sees the session in the admin.
"""

import json
import re
import secrets
import threading
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet

from tests.support.admin_session import AdminSession
from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess

pytestmark = pytest.mark.e2e

PASSWORD = "a-password-for-every-user"
USERS = ("keeper", "busy")
STAFF, STAFF_PASSWORD = "operator", "a-long-staff-password-for-the-admin"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), dict.fromkeys(USERS, PASSWORD))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    """What an operator keeps apart from the backups; every deployment below gets them."""
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "OAUTHGW_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        # One name for every server below, as in production: the iss and aud of JWTs.
        "OAUTHGW_ISSUER": "https://gateway.example.com",
        # Every refresh asks the authorization server with the refresh token it issued at
        # login, which the gateway keeps encrypted: a restored session must still open it.
        "OAUTHGW_UPSTREAM_REVERIFY": "always",
    }


def login(gateway: Gateway, client: dict, username: str) -> dict:
    response = gateway.token(client, grant_type="password", username=username, password=PASSWORD)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(gateway: Gateway, client: dict, pair: dict) -> requests.Response:
    return gateway.token(client, grant_type="refresh_token", refresh_token=pair["refresh_token"])


def last_json_line(output: str):
    return json.loads(output.strip().splitlines()[-1])


def owner_and_sessions(deployment, username: str) -> tuple[int, list[str]]:
    """The resource owner's admin id and the token families of their sessions."""
    return tuple(
        last_json_line(
            deployment.shell(
                "import json\nfrom oauthgw.models import ResourceOwner, UpstreamSession\n"
                f"owner = ResourceOwner.objects.get(username={username!r})\n"
                "families = [str(s.family) for s in UpstreamSession.objects.filter(user_id=owner.user_id)]\n"
                "print(json.dumps([owner.pk, families]))\n"
            )
        )
    )


def client_names(deployment) -> list[str]:
    return last_json_line(
        deployment.shell(
            "import json\nfrom oauthgw.models import Application\n"
            "print(json.dumps(sorted(Application.objects.values_list('name', flat=True))))\n"
        )
    )


class TokenTraffic:
    """Clients keep asking for tokens (each a database write) until stopped."""

    def __init__(self, gateway: Gateway, client: dict):
        self.gateway = gateway
        self.client = client
        self.statuses: list[int] = []
        self.issued: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pair = None
        while not self._stop.is_set():
            if pair is None:
                response = self.gateway.token(self.client, grant_type="password", username="busy", password=PASSWORD)
            else:
                response = refresh(self.gateway, self.client, pair)
            self.statuses.append(response.status_code)
            pair = response.json() if response.status_code == 200 else None
            if pair:
                self.issued.append(pair["access_token"])
            answer = self.gateway.token(self.client, grant_type="client_credentials")
            self.statuses.append(answer.status_code)

    def __enter__(self) -> "TokenTraffic":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def test_a_backup_taken_while_the_gateway_serves_restores_into_a_fresh_gateway_where_everything_works(
    upstream, keys, tmp_path
):
    for name in ("backups", "before", "after"):
        (tmp_path / name).mkdir(mode=0o700)
    backups = tmp_path / "backups"
    with deployment_for_this_run(upstream.url, tmp_path / "before", **keys) as before:
        client = before.create_client()
        jwt_client = before.create_client(grant_types="client_credentials", token_format="jwt")
        staff = before.run_manage(
            "createsuperuser",
            "--noinput",
            "--username",
            STAFF,
            "--email",
            "ops@example.com",
            env={"DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
        )
        assert staff.returncode == 0, staff.stderr
        gateway = Gateway(before, tmp_path / "before.log", workers=2)
        try:
            pair = login(gateway, client, "keeper")
            pair = refresh(gateway, client, pair).json()  # the session was vouched for again
            jwt_token = gateway.token(jwt_client, grant_type="client_credentials").json()["access_token"]
            owner, families = owner_and_sessions(before, "keeper")

            with TokenTraffic(gateway, client) as traffic:
                while len(traffic.statuses) < 10:  # the backup starts while writes go on
                    threading.Event().wait(0.05)
                written = Path(before.manage("backup_database", str(backups)).strip())
                issued_after = len(traffic.issued)
                threading.Event().wait(0.5)
            assert set(traffic.statuses) == {200}, traffic.statuses
            later_token = traffic.issued[-1]
            assert len(traffic.issued) > issued_after, "no token was issued after the backup: nothing to lose"
        finally:
            gateway.stop()

    assert written.parent == backups
    assert written.stat().st_mode & 0o777 == 0o600
    assert not list(backups.glob("*.partial"))

    with deployment_for_this_run(upstream.url, tmp_path / "after", migrate=False, **keys) as after:
        restored = after.manage("restore_database", str(written))
        assert "2 clients" in restored, restored
        gateway = Gateway(after, tmp_path / "after.log", workers=2)
        try:
            asked = upstream.requests_served()
            hello = gateway.hello(pair["access_token"])
            refreshed = refresh(gateway, client, pair)
            credentials = gateway.token(client, grant_type="client_credentials")
            jwt_hello = gateway.hello(jwt_token)
            lost = gateway.hello(later_token)
            admin = AdminSession(gateway.url, STAFF, STAFF_PASSWORD)
            owner_page = admin.http.get(f"{gateway.url}/admin/oauthgw/resourceowner/{owner}/change/", timeout=30)
        finally:
            gateway.stop()

    assert hello.status_code == 200, hello.text
    assert hello.json()["username"] == "keeper"
    assert refreshed.status_code == 200, refreshed.text
    assert upstream.requests_served() == asked + 1, "the refresh did not re-verify the session upstream"
    assert credentials.status_code == 200, credentials.text
    assert jwt_hello.status_code == 200, jwt_hello.text
    # What the backup could not hold: a token issued after it.
    assert lost.status_code == 401
    assert owner_page.status_code == 200
    assert len(families) == 1
    assert families[0] in owner_page.text  # the session is listed, with its revoke button


def test_a_restore_under_other_keys_says_that_the_stored_secrets_cannot_be_opened(upstream, keys, tmp_path):
    with deployment_for_this_run(upstream.url, tmp_path, **keys) as before:
        client = before.create_client()
        gateway = Gateway(before, tmp_path / "gateway.log", workers=1)
        try:
            login(gateway, client, "keeper")
        finally:
            gateway.stop()
        # Any name: restore_database tells the kind of a backup from its content.
        written = before.manage("backup_database", str(tmp_path / "gateway-backup")).strip()

    other_keys = {**keys, "OAUTHGW_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    (tmp_path / "elsewhere").mkdir()
    with deployment_for_this_run(upstream.url, tmp_path / "elsewhere", migrate=False, **other_keys) as elsewhere:
        restored = elsewhere.run_manage("restore_database", written)

    assert restored.returncode != 0
    assert "stored secrets cannot be decrypted with OAUTHGW_ENCRYPTION_KEYS" in restored.stderr
    assert "oauthgw.UpstreamSession" in restored.stderr


def test_a_restore_over_a_database_with_tables_is_refused_unless_replace_which_backs_it_up_first(
    upstream, keys, tmp_path
):
    with deployment_for_this_run(upstream.url, tmp_path, **keys) as deployment:
        deployment.create_client("kept-in-the-backup")
        written = deployment.manage("backup_database", str(tmp_path)).strip()
        deployment.create_client("made-after-the-backup")

        refused = deployment.run_manage("restore_database", written)
        replaced = deployment.run_manage("restore_database", "--replace", written)
        names = client_names(deployment)
        safety_copy = re.search(r"backed up in (\S+)", replaced.stdout).group(1)
        back = deployment.run_manage("restore_database", "--replace", safety_copy)
        names_back = client_names(deployment)

    assert refused.returncode != 0
    assert "restore into a new, empty database, or pass --replace" in refused.stderr
    assert replaced.returncode == 0, replaced.stderr
    assert names == ["kept-in-the-backup"]
    assert back.returncode == 0, back.stderr
    assert names_back == ["kept-in-the-backup", "made-after-the-backup"]
