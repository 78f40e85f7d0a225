"""The circuit breaker: it opens after consecutive faults, refuses at once, tries once, closes.

Time is moved through the module's clock seam; the state lives in the test cache
(emptied around every test).
"""

import logging
import threading

import pytest

from oauthgw import circuit_breaker
from oauthgw.circuit_breaker import CircuitOpen, breaker_state
from oauthgw.upstream import UpstreamUnavailable
from tests.oauthgw.conftest import PASSWORD, USERNAME

# Shared state is in the database without Redis.
pytestmark = pytest.mark.django_db

SERVER = "primary"
THRESHOLD = 3
COOLDOWN = 30


@pytest.fixture(autouse=True)
def _breaker_settings(settings):
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        "UPSTREAM_BREAKER_THRESHOLD": THRESHOLD,
        "UPSTREAM_BREAKER_COOLDOWN": COOLDOWN,
    }


@pytest.fixture
def clock(monkeypatch):
    """The breaker's wall clock, moved by hand: ``clock.now += 31``."""

    class Clock:
        now = 1_000_000.0

    monkeypatch.setattr(circuit_breaker, "_clock", lambda: Clock.now)
    return Clock


def call(server: str = SERVER, *, fault: bool = False) -> bool:
    """One guarded upstream call; True if the block ran (the upstream was asked)."""
    ran = False
    with circuit_breaker.circuit_breaker(server):
        ran = True
        if fault:
            raise UpstreamUnavailable("connection", "ConnectionError")
    return ran


def fail(times: int, server: str = SERVER) -> None:
    for _ in range(times):
        with pytest.raises(UpstreamUnavailable) as caught:
            call(server, fault=True)
        assert not isinstance(caught.value, CircuitOpen)


def test_a_new_circuit_is_closed():
    assert breaker_state(SERVER) == "closed"
    assert call()


def test_faults_below_the_threshold_keep_it_closed(clock):
    fail(THRESHOLD - 1)
    assert breaker_state(SERVER) == "closed"
    assert call()


def test_threshold_consecutive_faults_open_it(clock):
    fail(THRESHOLD)
    assert breaker_state(SERVER) == "open"


def test_an_open_circuit_refuses_without_running_the_call_and_says_how_long(clock):
    fail(THRESHOLD)
    clock.now += 10
    ran = []
    with pytest.raises(CircuitOpen) as caught, circuit_breaker.circuit_breaker(SERVER):
        ran.append(True)
    assert ran == []
    assert caught.value.retry_after == COOLDOWN - 10


def test_a_clear_answer_resets_the_count_of_consecutive_faults(clock):
    fail(THRESHOLD - 1)
    assert call()
    fail(THRESHOLD - 1)
    assert breaker_state(SERVER) == "closed"


def test_after_the_cooldown_it_is_half_open_and_lets_one_trial_through(clock):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    assert breaker_state(SERVER) == "half_open"
    assert call()


def test_while_the_trial_is_in_flight_other_calls_are_refused(clock):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    with circuit_breaker.circuit_breaker(SERVER):
        with pytest.raises(CircuitOpen):
            call()


def test_a_successful_trial_closes_it(clock):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    assert call()
    assert breaker_state(SERVER) == "closed"
    fail(THRESHOLD - 1)
    assert breaker_state(SERVER) == "closed"


def test_a_failed_trial_opens_it_for_another_cooldown(clock):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    fail(1)
    assert breaker_state(SERVER) == "open"
    with pytest.raises(CircuitOpen) as caught:
        call()
    assert caught.value.retry_after == COOLDOWN


def test_a_trial_that_breaks_for_another_reason_gives_the_trial_back(clock):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    with pytest.raises(KeyError), circuit_breaker.circuit_breaker(SERVER):
        raise KeyError("a bug, not the upstream")
    assert breaker_state(SERVER) == "half_open"
    assert call()


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_concurrent_calls_becomes_the_trial(clock):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    refused = threading.Semaphore(0)
    outcomes = []

    def attempt():
        try:
            with circuit_breaker.circuit_breaker(SERVER):
                # Hold the trial open until every other call has been turned away.
                for _ in range(7):
                    refused.acquire(timeout=5)
                outcomes.append("trial")
        except CircuitOpen:
            outcomes.append("refused")
            refused.release()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["refused"] * 7 + ["trial"]


def test_each_authorization_server_has_its_own_circuit(clock):
    fail(THRESHOLD, server="primary")
    assert breaker_state("primary") == "open"
    assert breaker_state("secondary") == "closed"
    assert call("secondary")


def test_threshold_zero_disables_the_breaker(clock, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 0}
    fail(THRESHOLD * 3)
    assert breaker_state(SERVER) == "closed"


def test_opening_and_closing_are_each_logged_once(clock, caplog):
    caplog.set_level(logging.INFO, logger="oauthgw.circuit_breaker")
    fail(THRESHOLD)
    with pytest.raises(CircuitOpen):
        call()
    clock.now += COOLDOWN
    call()
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "opened after 3 consecutive faults (last: connection)" in warnings[0]
    assert "closed" in warnings[1]


# --- Through the token endpoint ------------------------------------------------------


def login(post_token, app, password: str = PASSWORD):
    return post_token({"grant_type": "password", "username": USERNAME, "password": password}, app=app)


def test_endpoint_answers_503_at_once_without_calling_the_upstream_once_open(post_token, upstream, make_client):
    app = make_client()
    upstream.answers(502)
    for _ in range(THRESHOLD):
        assert login(post_token, app).status_code == 503
    calls_before = len(upstream.calls)

    response = login(post_token, app)

    assert len(upstream.calls) == calls_before
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert 0 < int(response["Retry-After"]) <= COOLDOWN


def test_rejected_passwords_do_not_open_the_circuit(post_token, upstream, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 0, "THROTTLE_IP_FAILURES": 0}
    app = make_client()
    upstream.rejects()
    for _ in range(THRESHOLD + 1):
        assert login(post_token, app, password="wrong").status_code == 401
    assert breaker_state("default") == "closed"


def test_endpoint_recovers_through_one_trial_after_the_cooldown(post_token, upstream, make_client, clock):
    app = make_client()
    upstream.answers(500)
    for _ in range(THRESHOLD):
        login(post_token, app)
    upstream.mock.reset()
    upstream.accepts()
    clock.now += COOLDOWN

    response = login(post_token, app)

    assert response.status_code == 200
    assert breaker_state("default") == "closed"
