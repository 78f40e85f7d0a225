"""The circuit breaker: faults from many sources make it probe; only a failed probe opens it.

Time is moved through the module's clock seam; the probe is replaced by a fake
whose answer each test chooses, except in the token-endpoint tests at the end,
where it goes to the stubbed upstream like every other call.
"""

import logging
import threading
import time
from urllib.parse import parse_qsl

import pytest

from oauthgw.exceptions import CircuitOpen, UpstreamUnavailable
from oauthgw.upstream import breaker
from oauthgw.upstream.breaker import breaker_state
from oauthgw.upstream.client import UpstreamConfig, UpstreamProbe
from tests.oauthgw.conftest import PASSWORD, USERNAME

# Shared state is in the database without Redis.
pytestmark = pytest.mark.django_db

THRESHOLD = 3
WINDOW = 60
COOLDOWN = 30
PRIMARY = UpstreamConfig(name="primary", token_url="http://primary.test/token", client_id="gw")
SECONDARY = UpstreamConfig(name="secondary", token_url="http://secondary.test/token", client_id="gw")


@pytest.fixture(autouse=True)
def _breaker_settings(settings):
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        "UPSTREAM_BREAKER_THRESHOLD": THRESHOLD,
        "UPSTREAM_BREAKER_WINDOW": WINDOW,
        "UPSTREAM_BREAKER_COOLDOWN": COOLDOWN,
    }


@pytest.fixture
def clock(monkeypatch):
    """The breaker's wall clock, moved by hand: ``clock.now += 31``."""

    class Clock:
        now = 1_000_020.0  # 20 s into a window

    monkeypatch.setattr(breaker, "_clock", lambda: Clock.now)
    return Clock


@pytest.fixture
def probe(monkeypatch):
    """The breaker's probe, answering ``probe.verdict`` ("unreachable" unless a test says otherwise)."""

    class Probe:
        verdict = "unreachable"
        servers: list[str] = []

        @classmethod
        def run(cls, server):
            cls.servers.append(server.name)
            return UpstreamProbe(cls.verdict, 0.001, status=401 if cls.verdict == "ok" else None)

    Probe.servers = []
    monkeypatch.setattr(breaker, "probe_token_endpoint", Probe.run)
    return Probe


def call(server: UpstreamConfig = PRIMARY, *, fault: str | None = None, source: str = "someone") -> bool:
    """One guarded upstream call for ``source``; True if the block ran (the upstream was asked)."""
    ran = False
    with breaker.circuit_breaker(server, source=source):
        ran = True
        if fault:
            raise UpstreamUnavailable(fault, "a fault")
    return ran


def fail(sources: int, server: UpstreamConfig = PRIMARY, kind: str = "connection", first: int = 0) -> None:
    """A faulting call for each of ``sources`` distinct sources."""
    for n in range(first, first + sources):
        fail_from(f"source-{n}", 1, server=server, kind=kind)


def fail_from(source: str, times: int, server: UpstreamConfig = PRIMARY, kind: str = "timeout") -> None:
    for _ in range(times):
        with pytest.raises(UpstreamUnavailable) as caught:
            call(server, fault=kind, source=source)
        assert not isinstance(caught.value, CircuitOpen)


def test_a_new_circuit_is_closed(probe):
    assert breaker_state(PRIMARY.name) == "closed"
    assert call()
    assert probe.servers == []


def test_faults_from_fewer_sources_than_the_threshold_keep_it_closed_and_probe_nothing(clock, probe):
    fail(THRESHOLD - 1)
    assert breaker_state(PRIMARY.name) == "closed"
    assert call()
    assert probe.servers == []


def test_one_sources_faults_however_many_never_probe_nor_open_it(clock, probe):
    # A wrong password the upstream answers after the timeout, sent again and again.
    fail_from("one-patient-source", THRESHOLD * 10)

    assert probe.servers == []
    assert breaker_state(PRIMARY.name) == "closed"
    assert call(source="somebody-else")


def test_faults_from_threshold_sources_and_a_failed_probe_open_it(clock, probe):
    fail(THRESHOLD)
    assert probe.servers == [PRIMARY.name]
    assert breaker_state(PRIMARY.name) == "open"


def test_faults_the_probe_does_not_confirm_leave_it_closed_and_the_count_starts_again(clock, probe):
    # Callers' requests make the upstream fail; the upstream answers the probe.
    probe.verdict = "ok"
    fail(THRESHOLD)
    assert probe.servers == [PRIMARY.name]

    fail_from("source-0", 3)  # counted in this window already: no new probe
    fail(THRESHOLD - 1, first=THRESHOLD)
    assert probe.servers == [PRIMARY.name]
    fail(1, first=2 * THRESHOLD)

    assert probe.servers == [PRIMARY.name] * 2
    assert breaker_state(PRIMARY.name) == "closed"
    assert call()


def test_sources_are_counted_within_one_window(clock, probe):
    fail(THRESHOLD - 1)
    clock.now += WINDOW

    fail(1, first=THRESHOLD)

    assert probe.servers == []
    assert breaker_state(PRIMARY.name) == "closed"


def test_successful_calls_neither_count_nor_clear_faults(clock, probe):
    fail(THRESHOLD - 1)
    for n in range(5):
        assert call(source=f"happy-{n}")
    fail(1, first=THRESHOLD)

    assert probe.servers == [PRIMARY.name]
    assert breaker_state(PRIMARY.name) == "open"


def test_an_open_circuit_refuses_without_running_the_call_and_says_how_long(clock, probe):
    fail(THRESHOLD)
    clock.now += 10

    with pytest.raises(CircuitOpen) as caught:
        call()

    assert caught.value.retry_after == COOLDOWN - 10


def test_after_the_cooldown_a_probe_that_answers_closes_it_and_the_call_goes_on(clock, probe):
    fail(THRESHOLD)
    clock.now += COOLDOWN
    assert breaker_state(PRIMARY.name) == "half_open"
    probe.verdict = "ok"

    assert call()

    assert breaker_state(PRIMARY.name) == "closed"


def test_after_the_cooldown_a_failed_probe_opens_it_for_another_cooldown(clock, probe):
    fail(THRESHOLD)
    clock.now += COOLDOWN

    with pytest.raises(CircuitOpen) as caught:
        call()

    assert caught.value.retry_after == COOLDOWN
    assert breaker_state(PRIMARY.name) == "open"


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_concurrent_calls_probes(clock, monkeypatch):
    fail_with = threading.Event()
    probed = []

    def slow_probe(server):
        probed.append(server.name)
        fail_with.wait(5)
        return UpstreamProbe("ok", 0.001, status=400)

    monkeypatch.setattr(breaker, "probe_token_endpoint", lambda server: UpstreamProbe("unreachable", 0.001))
    monkeypatch.setattr(breaker, "_in_background", lambda function, *args: function(*args))
    fail(THRESHOLD)
    clock.now += COOLDOWN
    monkeypatch.setattr(breaker, "probe_token_endpoint", slow_probe)
    outcomes = []

    def attempt():
        try:
            call()
            outcomes.append("ran")
        except CircuitOpen:
            outcomes.append("refused")
            if outcomes.count("refused") == 7:
                fail_with.set()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["ran"] + ["refused"] * 7
    assert probed == [PRIMARY.name]


def test_each_authorization_server_has_its_own_circuit(clock, probe):
    fail(THRESHOLD, server=PRIMARY)
    assert breaker_state(PRIMARY.name) == "open"
    assert breaker_state(SECONDARY.name) == "closed"
    assert call(SECONDARY)


def test_threshold_zero_disables_the_breaker(clock, probe, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 0}
    fail(THRESHOLD * 3)
    assert breaker_state(PRIMARY.name) == "closed"
    assert probe.servers == []


def test_opening_and_closing_are_each_logged_once(clock, probe, caplog):
    caplog.set_level(logging.INFO, logger="oauthgw.upstream.breaker")
    fail(THRESHOLD)
    with pytest.raises(CircuitOpen):
        call()
    clock.now += COOLDOWN
    probe.verdict = "ok"
    call()
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert [message for message in warnings if "circuit" in message] == [
        f"circuit for authorization server primary opened after calls for {THRESHOLD} sources faulted "
        f"(last: connection); 503 for {COOLDOWN}s",
        "circuit for authorization server primary closed: it answers again",
    ]


# --- Through the token endpoint, probes and all --------------------------------------


def login(post_token, app, password: str = PASSWORD, username: str = USERNAME, **extra):
    return post_token({"grant_type": "password", "username": username, "password": password}, app=app, **extra)


def test_an_upstream_failing_everything_opens_it_and_then_nothing_is_sent(post_token, upstream, make_client):
    app = make_client()
    upstream.answers(502)
    for n in range(THRESHOLD):
        assert login(post_token, app, username=f"user-{n}").status_code == 503
    calls_before = len(upstream.calls)

    response = login(post_token, app)

    assert len(upstream.calls) == calls_before
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert 0 < int(response["Retry-After"]) <= COOLDOWN


def answer_like_a_token_endpoint(upstream, *, failing_usernames: str = "poison", slow_failures: float = 0) -> None:
    """A token endpoint that refuses an unknown grant type at once (the breaker's probe).

    Usernames starting with ``failing_usernames`` get a 500; ``alice`` with her
    password a token; every other password grant, one without a password
    included, is refused after ``slow_failures`` seconds (a tar pit).
    """

    def answer(request):
        form = dict(parse_qsl(request.body))
        if form["grant_type"] != "password":
            return (400, {}, '{"error": "unsupported_grant_type"}')
        if form["username"].startswith(failing_usernames):
            return (500, {}, "")
        if (form["username"], form.get("password")) == (USERNAME, PASSWORD):
            return (200, {}, '{"access_token": "upstream", "token_type": "bearer"}')
        time.sleep(slow_failures)
        return (400, {}, '{"error": "invalid_grant"}')

    upstream.mock.add_callback("POST", upstream.url, callback=answer)


def test_one_callers_fault_making_usernames_do_not_open_it_for_everyone(post_token, upstream, make_client, settings):
    """The upstream chokes on some usernames (500) and answers the rest: other clients keep logging in."""
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_FAILURES": 0, "THROTTLE_CLIENT_FAILURES": 0}
    attacker, victim = make_client(), make_client()
    answer_like_a_token_endpoint(upstream)

    for n in range(THRESHOLD * 4):
        assert login(post_token, attacker, username=f"poison-{n}", REMOTE_ADDR="203.0.113.9").status_code == 503

    assert breaker_state("default") == "closed"
    assert login(post_token, victim, REMOTE_ADDR="198.51.100.20").status_code == 200


def test_an_upstream_that_answers_failed_logins_after_the_timeout_keeps_it_closed(
    post_token, upstream, make_client, settings
):
    """The breaker's probe is answered at once where failed logins, a password-less one included, time out."""
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TIMEOUT": 0.2, "THROTTLE_IP_FAILURES": 0}
    attacker, victim = make_client(), make_client()
    answer_like_a_token_endpoint(upstream, slow_failures=0.5)

    for n in range(THRESHOLD * 2):
        response = login(post_token, attacker, username=f"guess-{n}", password="wrong", REMOTE_ADDR="203.0.113.9")
        assert response.status_code == 503

    probes = [call for call in upstream.calls if "grant_type=password" not in call.request.body]
    assert probes, "the breaker never probed"
    assert all("username" not in call.request.body for call in probes)
    assert breaker_state("default") == "closed"
    assert login(post_token, victim, REMOTE_ADDR="198.51.100.20").status_code == 200


def test_rejected_passwords_do_not_open_the_circuit(post_token, upstream, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 0, "THROTTLE_IP_FAILURES": 0}
    app = make_client()
    upstream.rejects()
    for n in range(THRESHOLD + 1):
        assert login(post_token, app, username=f"user-{n}", password="wrong").status_code == 401
    assert breaker_state("default") == "closed"


def test_endpoint_recovers_through_one_probe_after_the_cooldown(post_token, upstream, make_client, clock):
    app = make_client()
    upstream.answers(500)
    for n in range(THRESHOLD):
        login(post_token, app, username=f"user-{n}")
    assert breaker_state("default") == "open"
    upstream.mock.reset()
    answer_like_a_token_endpoint(upstream)
    clock.now += COOLDOWN

    response = login(post_token, app)

    assert response.status_code == 200
    assert breaker_state("default") == "closed"
