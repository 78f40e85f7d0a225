"""Migration 0005 encrypts the authorization servers' plain client secrets, and its reverse decrypts them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from oauthgw.encryption import decrypt, encrypt
from oauthgw.models import AuthorizationServer

BEFORE = [("oauthgw", "0004_client_details")]
AFTER = [("oauthgw", "0005_encrypted_upstream_secrets")]
PLAIN_SECRET = "a-plain-upstream-secret-from-before"


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


def table_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthorizationServer._meta.db_table}")  # noqa: S608
        return repr(cursor.fetchall())


@pytest.fixture
def at_0003(transactional_db):
    executor = migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_existing_plain_secrets_are_encrypted_and_still_read_back(at_0003):
    old_model = at_0003.get_model("oauthgw", "AuthorizationServer")
    legacy = old_model.objects.create(
        name="legacy", token_url="https://legacy.test/token", client_id="gw", client_secret=PLAIN_SECRET
    )
    # A client pointing at it: PostgreSQL refuses to alter a table with pending foreign-key checks.
    at_0003.get_model("oauthgw", "Application").objects.create(name="app", authorization_server=legacy)
    old_model.objects.create(name="no-secret", token_url="https://other.test/token", client_id="gw")
    assert PLAIN_SECRET in table_text()

    # The model as 0005 left it: later migrations add columns the current model has.
    servers = migrate(AFTER).loader.project_state(AFTER).apps.get_model("oauthgw", "AuthorizationServer")

    assert PLAIN_SECRET not in table_text()
    assert decrypt(servers.objects.get(name="legacy").encrypted_client_secret) == PLAIN_SECRET
    assert servers.objects.get(name="no-secret").encrypted_client_secret == ""


def test_the_reverse_migration_decrypts_them_back(at_0003):
    servers = migrate(AFTER).loader.project_state(AFTER).apps.get_model("oauthgw", "AuthorizationServer")
    servers.objects.create(
        name="partner",
        token_url="https://partner.test/token",
        client_id="gw",
        encrypted_client_secret=encrypt(PLAIN_SECRET),
    )

    old_model = migrate(BEFORE).loader.project_state(BEFORE).apps.get_model("oauthgw", "AuthorizationServer")

    assert old_model.objects.get(name="partner").client_secret == PLAIN_SECRET
