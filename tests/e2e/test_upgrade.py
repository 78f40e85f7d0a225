"""An upgrade from the previous release, as docs/operations.md orders it, and its rollback.

The previous release (the last line of deploy/releases.txt) is taken from git history
and run with its own code: its migrations, its ``create_client``, its server issuing a
password login, a refresh the authorization server vouched for (its refresh token
kept encrypted), a JWT signed by a stored key. Then, while it serves, this code backs
the database up and migrates it, and the old server keeps working on the new schema
(instances are upgraded one by one). This code's server then honours everything the
old one issued. Rolled back (the backup restored, the old code started), what was
issued before the backup works again and what came after is gone.

SQLite without Redis in the embedded run, PostgreSQL with Redis in the scale-out run.
"""

import json
import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.e2e.test_backup_restore import STAFF, STAFF_PASSWORD, login, owner_and_sessions, refresh
from tests.support.admin_session import AdminSession
from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.processes import DevAuthorizationServerProcess
from tests.support.releases import previous_release_commit, release_checkout

pytestmark = pytest.mark.e2e

PASSWORD = "a-password-for-every-user"
USERS = ("keeper", "newcomer", "during")

ROLLING = (
    "the previous release stopped working on this release's schema: instances cannot be upgraded one by one. "
    "Make the migration safe for code that does not know it (docs/operations.md, 'Upgrading'), or say there "
    "that this release needs every instance stopped before migrate"
)


def audited(deployment) -> list[str]:
    """The outcomes in the audit trail, oldest first."""
    out = deployment.shell(
        "import json\nfrom oauthgw.models import AuditEvent\n"
        "print(json.dumps(list(AuditEvent.objects.order_by('pk').values_list('outcome', flat=True))))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def errors_logged(log: Path) -> list[str]:
    return [line for line in log.read_text(encoding="utf-8").splitlines() if '"level": "ERROR"' in line]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = DevAuthorizationServerProcess(tmp_path_factory.mktemp("upstream"), dict.fromkeys(USERS, PASSWORD))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory):
    return release_checkout(previous_release_commit(), tmp_path_factory.mktemp("previous-release") / "oauthgw")


def test_tokens_and_sessions_of_the_previous_release_survive_the_upgrade_and_a_rollback_restores_its_state(
    upstream, previous_release, tmp_path
):
    keys = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "OAUTHGW_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        # One name for every server below, as in production: the iss and aud of JWTs.
        "OAUTHGW_ISSUER": "https://gateway.example.com",
        "OAUTHGW_UPSTREAM_REVERIFY": "always",
    }
    (tmp_path / "backups").mkdir()
    with deployment_for_this_run(upstream.url, tmp_path, migrate=False, **keys) as current:
        old = current.with_code(previous_release.root, previous_release.python)

        # The previous release, as it ran in production.
        old.manage("migrate", "-v0")
        client = old.create_client()
        jwt_client = old.create_client(grant_types="client_credentials", token_format="jwt")
        staff = old.run_manage(
            "createsuperuser",
            "--noinput",
            "--username",
            STAFF,
            "--email",
            "ops@example.com",
            env={"DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
        )
        assert staff.returncode == 0, staff.stderr
        old_gateway = Gateway(old, tmp_path / "old.log", workers=2)
        try:
            pair = refresh(old_gateway, client, login(old_gateway, client, "keeper")).json()
            jwt_token = old_gateway.token(jwt_client, grant_type="client_credentials").json()["access_token"]

            # The upgrade, while the old release serves: backup, then migrate with the new code.
            backup = current.manage("backup_database", str(tmp_path / "backups")).strip()
            current.manage("migrate", "-v0")
            assert not current.run_manage("migrate", "--check").returncode, "migrations left unapplied"

            # Other instances still run the old code on the new schema until their turn.
            audited_before = len(audited(current))
            during = login(old_gateway, client, "during")
            during_hello = old_gateway.hello(during["access_token"])
            during_refresh = refresh(old_gateway, client, during)
        finally:
            old_gateway.stop()
        assert during_hello.status_code == 200, ROLLING
        assert during_refresh.status_code == 200, f"{ROLLING}: {during_refresh.text}"
        # Not only the answers: what the old code writes on the side (the audit trail) still lands.
        assert audited(current)[audited_before:] == ["issued", "issued"], ROLLING
        assert errors_logged(tmp_path / "old.log") == [], ROLLING

        # As docs/operations.md says for this release: JWTs the previous one issued name the issuer
        # as their audience, and HelloWorld accepts it too until they have expired.
        new_gateway = Gateway(
            current, tmp_path / "new.log", workers=2, extra_env={"HELLOWORLD_MORE_AUDIENCES": keys["OAUTHGW_ISSUER"]}
        )
        try:
            asked = upstream.requests_served()
            hello = new_gateway.hello(pair["access_token"])
            refreshed = refresh(new_gateway, client, pair)
            reverified = upstream.requests_served() - asked
            credentials = new_gateway.token(client, grant_type="client_credentials")
            jwt_hello = new_gateway.hello(jwt_token)
            after_upgrade = login(new_gateway, client, "newcomer")
            owner, families = owner_and_sessions(current, "keeper")
            admin = AdminSession(new_gateway.url, STAFF, STAFF_PASSWORD)
            owner_page = admin.http.get(f"{new_gateway.url}/admin/oauthgw/resourceowner/{owner}/change/", timeout=30)
        finally:
            new_gateway.stop()

        assert hello.status_code == 200, hello.text
        assert refreshed.status_code == 200, refreshed.text
        assert reverified == 1, "the refresh did not re-verify the session with the kept upstream token"
        assert credentials.status_code == 200, credentials.text
        assert jwt_hello.status_code == 200, jwt_hello.text
        assert owner_page.status_code == 200
        assert families and all(family in owner_page.text for family in families)

        # The rollback: the backup taken before migrate, restored by the new code, served by the old.
        restored = current.run_manage("restore_database", "--replace", backup)
        assert restored.returncode == 0, restored.stderr
        old_gateway = Gateway(old, tmp_path / "rolled-back.log", workers=2)
        try:
            rolled_back_hello = old_gateway.hello(pair["access_token"])
            rolled_back_credentials = old_gateway.token(client, grant_type="client_credentials")
            lost_login = old_gateway.hello(after_upgrade["access_token"])
            lost_refresh = refresh(old_gateway, client, refreshed.json())
        finally:
            old_gateway.stop()

    assert rolled_back_hello.status_code == 200, rolled_back_hello.text
    assert rolled_back_credentials.status_code == 200, rolled_back_credentials.text
    # What a rollback loses: everything issued after the backup.
    assert lost_login.status_code == 401
    assert lost_refresh.status_code == 401
