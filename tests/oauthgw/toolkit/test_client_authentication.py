"""Client authentication takes the same work, and time, whether or not the client id exists.

Otherwise how long a refusal takes tells an attacker which client ids are real.
The work is counted exactly (queries, hash verifications); the time is measured
in process, known and unknown interleaved, medians compared.
"""

import statistics
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from oauthgw.hashers import ClientSecretHasher
from oauthgw.issuing.clients import client_secret_rotate
from tests.oauthgw.conftest import FORM, TOKEN_URL, basic_authorization

pytestmark = pytest.mark.django_db

CLIENT_CREDENTIALS = urlencode({"grant_type": "client_credentials"})
WRONG_SECRET = "w" * 128


@pytest.fixture
def refuse(client):
    """POST a client_credentials request with these Basic credentials; assert it is refused."""

    def post(client_id: str, secret: str):
        response = client.post(
            TOKEN_URL, CLIENT_CREDENTIALS, content_type=FORM, HTTP_AUTHORIZATION=basic_authorization(client_id, secret)
        )
        assert response.status_code == 401, response.content
        return response

    return post


@pytest.fixture
def verifications(monkeypatch):
    """How many client-secret hashes were verified."""
    calls = []
    original = ClientSecretHasher.verify

    def verify(self, password, encoded):
        calls.append(encoded)
        return original(self, password, encoded)

    monkeypatch.setattr(ClientSecretHasher, "verify", verify)
    return calls


def work(refuse, verifications, client_id: str) -> tuple[int, int]:
    verifications.clear()
    with CaptureQueriesContext(connection) as captured:
        refuse(client_id, WRONG_SECRET)
    client_queries = [query for query in captured.captured_queries if "oauthgw_application" in query["sql"]]
    return len(client_queries), len(verifications)


def test_an_unknown_client_id_costs_the_same_queries_and_hash_checks_as_a_wrong_secret(
    refuse, verifications, make_client
):
    known = make_client()

    assert work(refuse, verifications, "no-such-client") == work(refuse, verifications, known.client_id) == (1, 2)


def test_a_client_in_a_rotation_grace_period_costs_the_same_as_one_without(refuse, verifications, make_client):
    plain, rotating = make_client(), make_client()
    client_secret_rotate(client=rotating, grace=timedelta(hours=1))

    assert work(refuse, verifications, plain.client_id) == work(refuse, verifications, rotating.client_id)


def test_a_disabled_client_costs_the_same_as_an_unknown_one(refuse, verifications, make_client):
    disabled = make_client(enabled=False)

    assert work(refuse, verifications, disabled.client_id) == work(refuse, verifications, "no-such-client")


def test_unknown_and_known_client_ids_take_the_same_time_to_refuse(refuse, make_client):
    known = make_client().client_id
    unknown = "no-such-client-" + known[:20]

    def timed(client_id: str) -> float:
        started = time.perf_counter()
        refuse(client_id, WRONG_SECRET)
        return time.perf_counter() - started

    for _ in range(30):  # warm up: connections, caches, lazily built objects
        timed(known)
        timed(unknown)
    known_times, unknown_times = [], []
    for round_ in range(200):
        # Alternate which goes first, so a slow moment of a shared machine hits both.
        first, second = (known, unknown) if round_ % 2 else (unknown, known)
        for client_id in (first, second):
            (known_times if client_id == known else unknown_times).append(timed(client_id))

    known_median, unknown_median = statistics.median(known_times), statistics.median(unknown_times)
    ratio = unknown_median / known_median
    assert 0.8 <= ratio <= 1.25, (
        f"unknown {unknown_median * 1000:.2f} ms, known {known_median * 1000:.2f} ms (ratio {ratio:.2f})"
    )
