"""The gateway's tables stay bounded on their own, over real HTTP, with two worker processes.

A flood of token requests with client ids nobody registered, from one address,
writes a bounded number of audit rows (one per source and minute, with a count)
whichever worker answers each request; and rows past their time (an expired
token, an audit event past the retention) disappear without anyone running a
command. The run's deployment: SQLite without Redis, or PostgreSQL with Redis.
"""

import secrets
import time

import pytest
import requests

from tests.support.deployments import Gateway, deployment_for_this_run
from tests.support.faulty_servers import closed_port_url

pytestmark = pytest.mark.e2e

FLOOD = 300

COUNT_ROWS = (
    "from oauthgw.models import AuditEvent\n"
    "rows = AuditEvent.objects.filter(client_ip='{address}')\n"
    "print(rows.count(), sum(rows.values_list('count', flat=True)))\n"
)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    # No password grant here: an upstream that is not there is enough.
    with deployment_for_this_run(closed_port_url(), tmp_path_factory.mktemp("deployment")) as deployment:
        yield deployment


@pytest.fixture(scope="module")
def gateway(deployment, tmp_path_factory):
    instance = Gateway(deployment, tmp_path_factory.mktemp("gateway") / "gateway.log", workers=2)
    yield instance
    instance.stop()


def test_a_flood_of_unknown_client_ids_writes_a_bounded_number_of_audit_rows(gateway, deployment):
    # Requests come from 127.0.0.1; every one opens its own connection, so both workers answer some.
    for _ in range(FLOOD):
        response = requests.post(
            f"{gateway.url}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(secrets.token_urlsafe(12), "guess"),
            timeout=30,
        )
        assert response.status_code == 401

    rows, requests_counted = map(int, deployment.shell(COUNT_ROWS.format(address="127.0.0.1")).split())

    assert rows <= 3  # one per minute the flood lasted
    assert requests_counted == FLOOD


EXPIRED_ROWS = """
from datetime import timedelta
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauthgw.models import Application, AuditEvent
app = Application.objects.get(client_id={client_id!r})
get_access_token_model().objects.create(
    application=app, token_checksum="0" * 64, expires=timezone.now() - timedelta(hours=1), scope="hello"
)
AuditEvent.objects.create(time=timezone.now() - timedelta(days=100), outcome="issued", status=200, latency_ms=1)
"""

LEFT = """
from datetime import timedelta
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauthgw.models import AuditEvent
old = AuditEvent.objects.filter(time__lt=timezone.now() - timedelta(days=90)).count()
print(get_access_token_model().objects.count(), old)
"""


def test_expired_rows_disappear_without_a_command(tmp_path):
    with deployment_for_this_run(closed_port_url(), tmp_path) as deployment:
        client = deployment.create_client(grant_types="client_credentials")
        deployment.shell(EXPIRED_ROWS.format(client_id=client["client_id"]))
        assert deployment.shell(LEFT).split() == ["1", "1"]
        gateway = Gateway(deployment, tmp_path / "gateway.log", workers=2)
        try:
            # Any request: after it, its worker looks whether a purge is due, in the background.
            assert requests.get(f"{gateway.url}/healthz", timeout=30).status_code == 200
            deadline = time.monotonic() + 20
            while deployment.shell(LEFT).split() != ["0", "0"] and time.monotonic() < deadline:
                time.sleep(0.5)
            assert deployment.shell(LEFT).split() == ["0", "0"]
        finally:
            gateway.stop()
