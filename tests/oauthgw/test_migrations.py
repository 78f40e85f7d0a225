"""Migrations that change existing rows: run them on data an older release could hold."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("oauthgw", "0003_shared_values")]
AFTER = [("oauthgw", "0004_client_details")]


@pytest.fixture
def at_0003(transactional_db):
    """The schema before 0004; the latest schema is restored afterwards."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    yield MigrationExecutor(connection)
    executor = MigrationExecutor(connection)
    executor.migrate(latest)


def test_clients_without_a_name_or_sharing_one_are_renamed_before_names_become_unique(at_0003):
    old = at_0003.loader.project_state(BEFORE).apps.get_model("oauthgw", "Application")
    names = ["billing", "Billing", "billing", "", "  ", "billing (2)"]
    for number, name in enumerate(names):
        old.objects.create(name=name, client_id=f"client-{number}-id", client_secret="x")

    at_0003.loader.build_graph()
    at_0003.migrate(AFTER)

    new = at_0003.loader.project_state(AFTER).apps.get_model("oauthgw", "Application")
    renamed = list(new.objects.order_by("pk").values_list("name", flat=True))
    assert renamed == ["billing", "Billing (3)", "billing (4)", "client client-3", "client client-4", "billing (2)"]
