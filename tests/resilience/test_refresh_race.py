"""Sixteen concurrent refreshes of one refresh token, on PostgreSQL and on SQLite alike.

Exactly one request gets a new pair, the fifteen others get invalid_grant, and
exactly one live refresh token (the winner's) remains in the family. Two ways to
be concurrent:

- queued: the test holds the lock the requests need until all sixteen wait on
  it inside the database (PostgreSQL: the token's row lock; SQLite: the
  database's write lock, held for a while), then lets go;
- a burst: sixteen threads fire at once. Requests a loaded machine delays past
  the rotation come within the reuse interval, so they are not replays either.

A replay sent after the reuse interval revokes the family.
"""

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection, transaction
from oauth2_provider.models import get_refresh_token_model

from tests.oauthgw.conftest import basic_authorization

CONCURRENCY = 16
# SQLite cannot tell how many requests wait for its lock: hold it this long.
SQLITE_HOLD_SECONDS = 2.0


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        # Activity is snapshotted once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def hold_row_lock(pk, queued: threading.Event, released: threading.Event) -> None:
    """Hold what the refresh grant must lock until ``CONCURRENCY`` requests wait for it."""
    try:
        with transaction.atomic():
            # PostgreSQL: the token's row. SQLite: IMMEDIATE takes the whole database's write lock.
            get_refresh_token_model().objects.select_for_update().get(pk=pk)
            queued.set()
            if connection.vendor != "postgresql":
                time.sleep(SQLITE_HOLD_SECONDS)
                return
            deadline = time.monotonic() + 20
            while waiting_on_locks() < CONCURRENCY and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        released.set()
        connection.close()


@pytest.fixture
def family(transactional_db, live_server, make_client, password_login, upstream):
    """A client and a fresh password-grant pair, committed so the live server sees them."""
    app = make_client()
    tokens = password_login(app)
    upstream.mock.add_passthru(live_server.url)
    return app, tokens


def refresh(url: str, app, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        headers={"Authorization": basic_authorization(app.client_id, app.raw_secret)},
        timeout=30,
    )


def race(live_server, app, refresh_token: str) -> list[requests.Response]:
    row = get_refresh_token_model().objects.get(token_checksum=checksum(refresh_token))
    queued, released = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_row_lock, args=(row.pk, queued, released))
    holder.start()
    assert queued.wait(10)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        responses = list(pool.map(lambda _: refresh(live_server.url, app, refresh_token), range(CONCURRENCY)))
    holder.join(30)
    return responses


def burst(live_server, app, refresh_token: str) -> list[requests.Response]:
    start = threading.Barrier(CONCURRENCY)

    def fire(_):
        start.wait(10)
        return refresh(live_server.url, app, refresh_token)

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return list(pool.map(fire, range(CONCURRENCY)))


def family_of(refresh_token: str):
    return get_refresh_token_model().objects.get(token_checksum=checksum(refresh_token)).token_family


def assert_one_winner_and_one_live_token(live_server, app, family_id, responses) -> None:
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (CONCURRENCY - 1)
    assert {response.json()["error"] for response in responses if response.status_code != 200} == {"invalid_grant"}
    winner = next(response.json() for response in responses if response.status_code == 200)
    live = get_refresh_token_model().objects.filter(token_family=family_id, revoked__isnull=True)
    assert [token.token_checksum for token in live] == [checksum(winner["refresh_token"])]
    hello = requests.get(
        f"{live_server.url}/helloworld/", headers={"Authorization": f"Bearer {winner['access_token']}"}, timeout=10
    )
    assert hello.status_code == 200
    assert refresh(live_server.url, app, winner["refresh_token"]).status_code == 200


def test_sixteen_refreshes_queued_on_the_row_lock_leave_one_winner_and_one_live_token(live_server, family):
    app, tokens = family
    family_id = family_of(tokens["refresh_token"])

    responses = race(live_server, app, tokens["refresh_token"])

    assert_one_winner_and_one_live_token(live_server, app, family_id, responses)


def test_a_burst_of_sixteen_refreshes_leaves_one_winner_and_one_live_token(live_server, family):
    app, tokens = family
    family_id = family_of(tokens["refresh_token"])

    responses = burst(live_server, app, tokens["refresh_token"])

    assert_one_winner_and_one_live_token(live_server, app, family_id, responses)


def test_a_replay_after_the_reuse_interval_revokes_the_family(live_server, family, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "REFRESH_REUSE_INTERVAL": 1}
    app, tokens = family
    family_id = family_of(tokens["refresh_token"])
    burst(live_server, app, tokens["refresh_token"])
    time.sleep(1.1)

    replay = refresh(live_server.url, app, tokens["refresh_token"])

    assert replay.status_code == 401
    assert not get_refresh_token_model().objects.filter(token_family=family_id, revoked__isnull=True).exists()
