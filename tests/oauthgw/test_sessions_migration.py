"""Migration 0007: every token family alive before sessions existed becomes a session."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("oauthgw", "0006_resource_owner_identity"), ("oauth2_provider", "0022_refreshtoken_token_family_index")]
AFTER = [("oauthgw", "0007_upstream_sessions")]


@pytest.fixture
def at_0006(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield MigrationExecutor(connection)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_live_families_become_sessions_started_at_their_oldest_token(at_0006):
    apps = at_0006.loader.project_state(BEFORE).apps
    user = apps.get_model("auth", "User").objects.create(username="ro:1")
    apps.get_model("oauthgw", "ResourceOwner").objects.create(
        user=user, authorization_server="partner", subject="alice", last_seen=timezone.now()
    )
    client = apps.get_model("oauthgw", "Application").objects.create(name="app", client_id="app-id")
    refresh_tokens = apps.get_model("oauth2_provider", "RefreshToken")
    live, dead = uuid.uuid4(), uuid.uuid4()
    first = timezone.now() - timedelta(days=3)
    for number, (family, revoked) in enumerate([(live, timezone.now()), (live, None), (dead, timezone.now())]):
        token = refresh_tokens.objects.create(
            user=user, application=client, token_family=family, token_checksum=f"{number:064}", revoked=revoked
        )
        refresh_tokens.objects.filter(pk=token.pk).update(created=first + timedelta(days=number))

    at_0006.loader.build_graph()
    at_0006.migrate(AFTER)

    sessions = at_0006.loader.project_state(AFTER).apps.get_model("oauthgw", "UpstreamSession")
    session = sessions.objects.get()
    assert (session.family, session.client_id, session.user_id) == (live, client.pk, user.pk)
    assert (session.authorization_server, session.started, session.encrypted_refresh_token) == ("partner", first, "")
