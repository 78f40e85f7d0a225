"""Token lookups stay index lookups however large the token tables grow (PostgreSQL).

bench/token_table.py measures it with a million rows; this checks the plan of the
queries the gateway runs, with sequential scans disabled so that the planner's
choice on a tiny test table cannot hide a missing index.
"""

import hashlib

import pytest
from django.db import connection, transaction
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

pytestmark = pytest.mark.django_db

CHECKSUM = hashlib.sha256(b"any token").hexdigest()


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("query plans are checked on PostgreSQL, the production database")


def plan_without_seqscan(queryset) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_an_access_token_is_found_by_its_checksum_through_an_index():
    queryset = get_access_token_model().objects.select_related("application", "user").filter(token_checksum=CHECKSUM)

    plan = plan_without_seqscan(queryset)

    assert "oauth2_provider_accesstoken" in plan
    assert "Index" in plan
    assert "Seq Scan on oauth2_provider_accesstoken" not in plan


def test_a_refresh_token_is_found_by_its_checksum_through_an_index():
    queryset = get_refresh_token_model().objects.filter(token_checksum=CHECKSUM)

    plan = plan_without_seqscan(queryset)

    assert "Index" in plan
    assert "Seq Scan on oauth2_provider_refreshtoken" not in plan
