"""Password-guessing limits that stop the guesser, not the people the guesser aims at.

The sliding window is moved through the module's clock seam; counters live in the
shared state (Redis, or the database without it), emptied around every test.
"""

import threading
import time

import pytest
import requests
import responses
from django.db import connection

from oauthgw.caching import shared_state
from oauthgw.exceptions import Throttled
from oauthgw.issuing import throttling
from oauthgw.issuing.password import resource_owner_authenticate
from oauthgw.models import SharedValue
from oauthgw.signals import token_request_finished
from tests.oauthgw.conftest import PASSWORD, USERNAME
from tests.support.stub_upstream import StubUpstream

# Shared state is in the database without Redis.
pytestmark = pytest.mark.django_db

WINDOW = 900
BUCKET = 60
OWNER_ADDRESS = "192.0.2.1"


@pytest.fixture
def clock(monkeypatch):
    """The throttle's wall clock, moved by hand; starts on a bucket boundary."""

    class Clock:
        now = 1_800_000.0

    monkeypatch.setattr(throttling, "_clock", lambda: Clock.now)
    return Clock


@pytest.fixture(autouse=True)
def tested_limits(settings):
    """The limits these tests count against, whatever the shipped defaults are."""
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        "THROTTLE_USERNAME_FAILURES": 5,
        "THROTTLE_USERNAME_CEILING": 12,
        "THROTTLE_IP_FAILURES": 20,
    }


@pytest.fixture
def limits(settings):
    def set_limits(**values):
        settings.OAUTHGW = {**settings.OAUTHGW, **{f"THROTTLE_{key.upper()}": value for key, value in values.items()}}

    return set_limits


def login(post_token, app, *, username: str = USERNAME, password: str = PASSWORD, address=OWNER_ADDRESS, **extra):
    data = {"grant_type": "password", "username": username, "password": password}
    return post_token(data, app=app, REMOTE_ADDR=address, **extra)


def fail_logins(post_token, upstream, app, times: int, **kwargs) -> None:
    upstream.rejects()
    for _ in range(times):
        response = login(post_token, app, password="wrong", **kwargs)
        assert response.status_code == 401, response.content


def answer_with(upstream, status: int, **kwargs) -> None:
    upstream.mock.reset()
    upstream.answers(status, **kwargs) if status != 200 else upstream.accepts()


def start(username: str = USERNAME, *, client_id: str = "app", client_ip: str = OWNER_ADDRESS):
    limits = throttling.password_limits(
        server_name="default", username=username, client_id=client_id, client_ip=client_ip
    )
    return limits.start(shared_state.get_many(limits.keys))


# --- The guesser's own lane: one username from one address ----------------------------------


def test_a_username_over_its_limit_from_one_address_gets_429_slow_down_and_no_upstream_call(
    post_token, upstream, make_client, clock
):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    calls_before = len(upstream.calls)

    response = login(post_token, app, password="wrong")

    assert len(upstream.calls) == calls_before
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "slow_down"
    assert isinstance(body["error_description"], str)
    assert response["Retry-After"] == str(WINDOW)
    assert response["Cache-Control"] == "no-store"


def test_even_the_right_password_waits_there_while_the_limit_holds(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    answer_with(upstream, 200)
    calls_before = len(upstream.calls)

    assert login(post_token, app).status_code == 429
    assert len(upstream.calls) == calls_before


def test_the_limit_lifts_as_the_failures_leave_the_window(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 3)
    clock.now += 5 * BUCKET
    fail_logins(post_token, upstream, app, 2)
    assert login(post_token, app).status_code == 429

    clock.now += WINDOW - 5 * BUCKET
    answer_with(upstream, 200)
    assert login(post_token, app).status_code == 200


def test_retry_after_says_when_the_oldest_failures_leave_the_window(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    clock.now += 100

    response = login(post_token, app)

    assert response["Retry-After"] == str(WINDOW - 100)


def test_other_usernames_are_not_held_back_by_one_users_limit(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    answer_with(upstream, 200)
    assert login(post_token, app, username="bob").status_code == 200


# --- A guesser cannot lock out the owner ---------------------------------------------------


def test_a_guesser_at_another_address_does_not_lock_the_owner_out(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5, address="203.0.113.66")
    assert login(post_token, app, address="203.0.113.66").status_code == 429

    answer_with(upstream, 200)
    assert login(post_token, app).status_code == 200


def test_guessers_at_many_addresses_hit_the_ceiling_but_the_owner_logs_in_where_known(
    post_token, upstream, make_client, clock
):
    app = make_client()
    answer_with(upstream, 200)
    assert login(post_token, app).status_code == 200  # the owner's usual address is now known
    upstream.mock.reset()
    for n in range(12):  # the ceiling, spread over addresses that each stay under their own limit
        fail_logins(post_token, upstream, app, 1, address=f"203.0.113.{n + 10}")

    assert login(post_token, app, password="wrong", address="203.0.113.99").status_code == 429
    answer_with(upstream, 200)
    assert login(post_token, app).status_code == 200
    # The trade-off: from an address where it never logged in, the owner waits too.
    assert login(post_token, app, address="198.51.100.200").status_code == 429


def test_a_look_alike_accounts_success_resets_nobodys_counters(post_token, upstream, make_client, clock):
    # VICTIM7 is the guesser's own account at an upstream where case matters.
    app = make_client()
    fail_logins(post_token, upstream, app, 4, username="victim7")
    answer_with(upstream, 200)
    assert login(post_token, app, username="VICTIM7").status_code == 200
    fail_logins(post_token, upstream, app, 1, username="victim7")

    assert login(post_token, app, username="victim7", password="wrong").status_code == 429


def test_a_username_counts_whatever_its_spelling(post_token, upstream, make_client, clock):
    app = make_client()
    upstream.rejects()
    spellings = ["alice", "Alice", " ALICE", "\uff41\uff4c\uff49\uff43\uff45", "alic\u0065\u0301", "alice\ufe0f"]
    for spelling in spellings[:5]:
        assert login(post_token, app, username=spelling, password="wrong").status_code == 401
    assert login(post_token, app, username=spellings[5]).status_code == 429


@pytest.mark.parametrize("invisible", ["\u200b", "\u200d", "\u202e", "\ufeff", "\x00", "\r\n"])
def test_a_username_with_an_invisible_or_control_character_is_invalid_request(
    post_token, upstream, make_client, invisible
):
    app = make_client()

    response = login(post_token, app, username=f"victim{invisible}")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert upstream.calls == []


# --- The address: spraying slows down, the people behind it do not ------------------------------


def test_an_address_over_its_limit_refuses_usernames_unknown_there(post_token, upstream, make_client, clock, limits):
    limits(username_failures=0)
    app = make_client()
    upstream.rejects()
    for n in range(20):
        assert login(post_token, app, username=f"user{n}", password="wrong").status_code == 401
    calls_before = len(upstream.calls)

    response = login(post_token, app, username="someone-new")

    assert response.status_code == 429
    assert response.json()["error"] == "slow_down"
    assert len(upstream.calls) == calls_before


def test_people_who_logged_in_from_a_spraying_address_before_keep_logging_in(
    post_token, upstream, make_client, clock, limits
):
    limits(username_failures=0, ip_failures=3)
    app = make_client()
    answer_with(upstream, 200)
    assert login(post_token, app, username="colleague").status_code == 200
    upstream.mock.reset()
    for n in range(3):
        fail_logins(post_token, upstream, app, 1, username=f"sprayed{n}")
    answer_with(upstream, 200)

    assert login(post_token, app, username="colleague").status_code == 200
    assert login(post_token, app, username="newcomer").status_code == 429


def test_the_address_limit_never_refuses_refresh_or_client_credentials(
    post_token, upstream, make_client, clock, limits
):
    limits(username_failures=0, ip_failures=2)
    app = make_client()
    answer_with(upstream, 200)
    refresh_token = login(post_token, app).json()["refresh_token"]
    upstream.mock.reset()
    for n in range(2):
        fail_logins(post_token, upstream, app, 1, username=f"sprayed{n}")

    assert post_token({"grant_type": "client_credentials"}, app=app, REMOTE_ADDR=OWNER_ADDRESS).status_code == 200
    refreshed = post_token(
        {"grant_type": "refresh_token", "refresh_token": refresh_token}, app=app, REMOTE_ADDR=OWNER_ADDRESS
    )
    assert refreshed.status_code == 200


def test_another_address_is_not_held_back_by_one_addresss_limit(post_token, upstream, make_client, clock, limits):
    limits(username_failures=0, ip_failures=3)
    app = make_client()
    fail_logins(post_token, upstream, app, 3, address="198.51.100.7")
    answer_with(upstream, 200)
    assert login(post_token, app, address="198.51.100.7").status_code == 429
    assert login(post_token, app, address="198.51.100.8").status_code == 200


def test_failed_client_authentication_does_not_count_against_the_address(
    post_token, upstream, make_client, clock, limits
):
    # A client retrying with a stale secret must not lock its users' address out.
    limits(ip_failures=3)
    app = make_client()
    for _ in range(5):
        assert login(post_token, app, secret="not-the-secret").status_code == 401
    upstream.accepts()

    assert login(post_token, app).status_code == 200


def test_a_caller_without_the_client_secret_cannot_lock_a_user_out(post_token, upstream, make_client, clock):
    app = make_client()
    for _ in range(30):
        assert login(post_token, app, secret="not-the-secret").status_code == 401
    upstream.accepts()

    assert login(post_token, app).status_code == 200


def test_client_over_its_limit_refuses_its_users_unknown_where_they_are(
    post_token, upstream, make_client, clock, limits
):
    limits(username_failures=0, ip_failures=0, client_failures=3)
    app, other_app = make_client(), make_client()
    upstream.rejects()
    for n in range(3):
        login(post_token, app, username=f"user{n}", password="wrong", address=f"192.0.2.{n + 10}")
    answer_with(upstream, 200)

    assert login(post_token, app, username="fresh", address="192.0.2.99").status_code == 429
    assert login(post_token, other_app, username="fresh", address="192.0.2.99").status_code == 200


def test_a_forged_x_forwarded_for_neither_dodges_nor_resets_the_limit(post_token, upstream, make_client, clock, limits):
    limits(username_failures=0, ip_failures=3)
    app = make_client()
    upstream.rejects()
    for n in range(3):
        login(post_token, app, username=f"u{n}", password="wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")

    response = login(post_token, app, username="u9", HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert response.status_code == 429


def test_behind_a_trusted_proxy_a_forged_leftmost_hop_cannot_dodge_the_limit(
    post_token, upstream, make_client, clock, limits, settings
):
    limits(username_failures=0, ip_failures=3)
    settings.OAUTHGW = {**settings.OAUTHGW, "TRUSTED_PROXY_COUNT": 1}
    app = make_client()
    upstream.rejects()
    # The client forges the first hop; the trusted proxy appends the address it saw.
    for n in range(3):
        forwarded = f"1.2.3.{n}, 203.0.113.5"
        login(post_token, app, username=f"u{n}", password="wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    forged = login(post_token, app, username="u9", address="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.99, 203.0.113.5")
    someone_else = login(post_token, app, username="u9", address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.6")

    assert forged.status_code == 429
    assert someone_else.status_code == 401


# --- What counts ---------------------------------------------------------------------------


def test_unknown_user_and_wrong_password_get_the_same_answer(post_token, upstream, make_client, clock):
    app = make_client()
    # Upstreams answer the two differently; the gateway must not.
    upstream.answers(400, json={"error": "invalid_grant", "error_description": "no such user"})
    unknown = login(post_token, app, username="nobody", password="x")
    upstream.mock.reset()
    upstream.rejects()
    wrong = login(post_token, app, username=USERNAME, password="x")

    assert (unknown.status_code, unknown.content) == (wrong.status_code, wrong.content)
    headers = ["Content-Type", "WWW-Authenticate", "Cache-Control", "Pragma"]
    assert [unknown.get(name) for name in headers] == [wrong.get(name) for name in headers]


def test_throttled_requests_are_announced_as_throttled(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    seen = []

    def receiver(sender, outcome, **kwargs):
        seen.append(outcome)

    token_request_finished.connect(receiver)
    try:
        login(post_token, app)
    finally:
        token_request_finished.disconnect(receiver)
    assert [(outcome.outcome, outcome.status) for outcome in seen] == [("throttled", 429)]


def test_an_upstream_that_refuses_connections_counts_no_failure(post_token, upstream, make_client, clock, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 0}
    app = make_client()
    upstream.mock.add(responses.POST, upstream.url, body=requests.ConnectionError("refused"))
    for _ in range(8):
        assert login(post_token, app).status_code == 503
    answer_with(upstream, 200)
    assert login(post_token, app).status_code == 200


@pytest.mark.parametrize("fault", [500, 502, "slow"])
def test_an_answer_the_input_can_cause_counts_like_a_failure(post_token, upstream, make_client, clock, settings, fault):
    # An upstream that answers wrong passwords slowly (past the timeout) is no free oracle.
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 0, "UPSTREAM_TIMEOUT": 0.2}
    app = make_client()
    if fault == "slow":
        upstream.mock.add_callback(
            responses.POST, upstream.url, callback=lambda request: time.sleep(0.5) or (200, {}, "")
        )
    else:
        upstream.answers(fault)
    for _ in range(5):
        assert login(post_token, app, password="wrong").status_code == 503
    calls_before = len(upstream.calls)

    assert login(post_token, app, password="wrong").status_code == 429
    assert len(upstream.calls) == calls_before


@pytest.mark.parametrize(
    ("scope", "usernames", "addresses"),
    [
        (throttling.PAIR, ["victim"] * 4, ["198.51.100.1"] * 4),
        (throttling.USERNAME, ["victim"] * 4, [f"198.51.100.{n}" for n in range(4)]),
        (throttling.CLIENT_IP, [f"user-{n}" for n in range(4)], ["198.51.100.1"] * 4),
        (throttling.CLIENT, [f"user-{n}" for n in range(4)], [f"198.51.100.{n}" for n in range(4)]),
    ],
)
def test_a_timeout_is_charged_to_each_counter_of_the_request_that_caused_it(
    post_token, upstream, make_client, clock, settings, scope, usernames, addresses
):
    # The upstream answers wrong passwords after the timeout: each timeout is a failure of its username,
    # address and client, so the limit of whichever of them the requests share stops the next one.
    names = {
        throttling.PAIR: "USERNAME_FAILURES",
        throttling.USERNAME: "USERNAME_CEILING",
        throttling.CLIENT_IP: "IP_FAILURES",
        throttling.CLIENT: "CLIENT_FAILURES",
    }
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        **{f"THROTTLE_{name}": (3 if key == scope else 0) for key, name in names.items()},
        "UPSTREAM_BREAKER_THRESHOLD": 0,
        "UPSTREAM_TIMEOUT": 0.1,
    }
    app = make_client()
    upstream.mock.add_callback(responses.POST, upstream.url, callback=lambda request: time.sleep(0.3) or (403, {}, ""))
    statuses = [
        login(post_token, app, username=username, password="wrong", address=address).status_code
        for username, address in zip(usernames, addresses, strict=True)
    ]
    time.sleep(0.3)  # the abandoned calls end before the mock goes

    assert statuses == [503, 503, 503, 429]


# --- Upstream calls in flight per address, in this process -------------------------------------


@pytest.fixture
def slow_upstream(settings):
    """A real HTTP upstream that answers ``slow-…`` usernames after a second (two thirds of the timeout)."""
    stub = StubUpstream({USERNAME: PASSWORD, **{f"user-{n}": PASSWORD for n in range(8)}}, slow_seconds=1.0)
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": stub.url, "UPSTREAM_TIMEOUT": 1.5}
    yield stub
    stub.close()


def mark_slow(client_ip: str) -> None:
    throttling.password_limits(server_name="default", username="x", client_id="app", client_ip=client_ip).timed(
        1.0, timeout=1.0
    )


@pytest.mark.django_db(transaction=True)
def test_a_slow_address_holds_at_most_its_share_of_calls_in_flight_and_others_go_on(
    make_client, slow_upstream, settings
):
    # An upstream that answers this address's wrong passwords slowly: each waits in a server thread.
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_CONCURRENCY": 2}
    app = make_client()
    outcomes = []

    def guess(n: int) -> None:
        try:
            resource_owner_authenticate(client=app, username=f"slow-{n}", password="wrong", client_ip="203.0.113.5")
            outcomes.append("asked")
        except Throttled as exc:
            outcomes.append(exc.scope)

    def guess_in_a_thread(n: int) -> None:
        try:
            guess(n)
        finally:
            connection.close()

    guess(0)  # one slow answer marks the address
    waiting = [threading.Thread(target=guess_in_a_thread, args=(n,)) for n in (1, 2)]
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 5
    while slow_upstream.count("slow-1") + slow_upstream.count("slow-2") < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

    guess(3)  # a fourth and a fifth from the same address, while two wait
    guess(4)
    started = time.monotonic()
    owner = resource_owner_authenticate(client=app, username=USERNAME, password=PASSWORD, client_ip=OWNER_ADDRESS)
    owner_waited = time.monotonic() - started
    for thread in waiting:
        thread.join(10)
    guess(5)  # the places are free again

    assert outcomes[0] == "asked"
    assert outcomes[1:3] == [throttling.CONCURRENT] * 2
    assert (slow_upstream.count("slow-3"), slow_upstream.count("slow-4")) == (0, 0)
    assert owner is not None and owner_waited < 0.5
    assert outcomes[3:] == ["asked"] * 3


@pytest.mark.django_db(transaction=True)
def test_an_address_answered_promptly_may_log_in_many_users_at_once(make_client, slow_upstream, settings):
    # An office behind one NAT address, a backend logging its users in: never capped.
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_CONCURRENCY": 1}
    app = make_client()
    start_together = threading.Barrier(8)
    outcomes = []

    def login_user(n: int) -> None:
        start_together.wait(10)
        try:
            login = resource_owner_authenticate(
                client=app, username=f"user-{n}", password=PASSWORD, client_ip="198.51.100.80"
            )
            outcomes.append("in" if login else "refused")
        except Throttled as exc:
            outcomes.append(exc.scope)
        finally:
            connection.close()

    threads = [threading.Thread(target=login_user, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcomes == ["in"] * 8


def test_a_call_that_takes_half_the_timeout_marks_its_address_slow_for_the_window():
    limits = throttling.password_limits(server_name="default", username="x", client_id="app", client_ip="192.0.2.7")
    limits.timed(0.49, timeout=1.0)
    assert not limits.slowed(shared_state.get_many(limits.keys))

    limits.timed(0.5, timeout=1.0)

    assert limits.slowed(shared_state.get_many(limits.keys))
    other = throttling.password_limits(server_name="default", username="y", client_id="b", client_ip="192.0.2.7")
    assert other.slowed(shared_state.get_many(other.keys))  # the address, whoever logs in from it


def test_an_ipv6_client_counts_per_64_for_calls_in_flight(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_CONCURRENCY": 1}

    with throttling.upstream_call_slot(client_ip="2001:db8:1:2::1", capped=True):
        with (
            pytest.raises(Throttled) as caught,
            throttling.upstream_call_slot(client_ip="2001:db8:1:2::ffff", capped=True),
        ):
            pass
        with throttling.upstream_call_slot(client_ip="2001:db8:1:3::1", capped=True):
            pass

    assert caught.value.retry_after == 1
    assert "at once" in caught.value.description


def test_zero_lifts_the_cap_on_calls_in_flight(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_CONCURRENCY": 0}

    with (
        throttling.upstream_call_slot(client_ip="203.0.113.5", capped=True),
        throttling.upstream_call_slot(client_ip="203.0.113.5", capped=True),
    ):
        pass


def test_calls_of_a_slow_address_over_the_cap_are_answered_429_at_once(post_token, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_CONCURRENCY": 1}
    app = make_client()
    mark_slow("203.0.113.5")

    with throttling.upstream_call_slot(client_ip="203.0.113.5", capped=True):
        response = login(post_token, app, address="203.0.113.5")

    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "error": "slow_down",
        "error_description": "Too many logins from this address at once; try again in a moment.",
    }


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_concurrent_guesses_reaches_the_upstream_no_more_than_the_limit(
    make_client, upstream, clock, settings
):
    # The failure counters alone (the cap on calls in flight would refuse most of the burst first).
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_IP_CONCURRENCY": 0}
    app = make_client()
    calls = []

    def slow_rejection(request):
        calls.append(1)
        time.sleep(0.2)
        return (403, {}, "")

    upstream.mock.add_callback(responses.POST, upstream.url, callback=slow_rejection)
    outcomes = []
    start_together = threading.Barrier(32)

    def guess(n: int) -> None:
        start_together.wait(10)
        try:
            resource_owner_authenticate(client=app, username=USERNAME, password=f"guess-{n}", client_ip=OWNER_ADDRESS)
            outcomes.append("asked")
        except Throttled:
            outcomes.append("throttled")
        finally:
            connection.close()  # else PostgreSQL cannot drop the test database afterwards

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(calls) == 5
    assert sorted(outcomes) == ["asked"] * 5 + ["throttled"] * 27


def _shared_keys() -> list[str]:
    """Every key of the shared state, from Redis or from the database."""
    if not shared_state.uses_redis():
        return list(SharedValue.objects.values_list("key", flat=True))
    from django.core.cache import cache

    return [key.decode() for key in cache._cache.get_client().keys("*")]


def test_the_shared_state_holds_no_username_or_address_in_the_clear(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 1, address="198.51.100.23")
    answer_with(upstream, 200)
    assert login(post_token, app, address="198.51.100.23").status_code == 200

    keys = _shared_keys()

    assert keys
    assert not [key for key in keys if USERNAME in key or "198.51.100.23" in key]


# --- The counters themselves ----------------------------------------------------------


def test_attempts_in_flight_hold_their_places_so_a_burst_cannot_overshoot(clock):
    attempts = [start() for _ in range(5)]

    with pytest.raises(Throttled) as caught:
        start()

    assert caught.value.scope == throttling.PAIR
    for attempt in attempts:
        attempt.accepted()
    start()


def test_an_abandoned_attempt_counts_no_failure(clock):
    for _ in range(8):
        start().abandoned()
    start()


def test_an_accepted_attempt_counts_no_failure_anywhere(clock, limits):
    limits(username_failures=2, ip_failures=2, client_failures=2)
    for _ in range(5):
        start().accepted()
    start()


def test_rejected_attempts_count_up_to_the_limit(clock):
    for _ in range(5):
        start().rejected()
    with pytest.raises(Throttled) as caught:
        start()
    assert caught.value.scope == throttling.PAIR


def test_a_fault_counts_only_when_the_input_can_cause_it(clock):
    for _ in range(8):
        start().faulted(input_dependent=False)
    for _ in range(5):
        start().faulted(input_dependent=True)
    with pytest.raises(Throttled):
        start()


def test_ipv6_addresses_in_one_64_share_a_counter(clock, limits):
    limits(username_failures=0, username_ceiling=0, ip_failures=2)
    start("a", client_ip="2001:db8:1:2::1").rejected()
    start("b", client_ip="2001:db8:1:2:ffff::9").rejected()
    with pytest.raises(Throttled):
        start("c", client_ip="2001:db8:1:2::abcd")
    start("c", client_ip="2001:db8:1:3::1")


def test_zero_disables_every_counter(clock, limits):
    limits(username_failures=0, username_ceiling=0, ip_failures=0, client_failures=0)
    for _ in range(50):
        start().rejected()
    start()
