"""Password-guessing limits: per username, per client IP, per client; 429 and no upstream call.

The sliding window is moved through the module's clock seam; counters live in the
test cache (emptied around every test).
"""

import pytest
from django.conf import settings as django_settings

from oauthgw import shared_state, throttling
from oauthgw.models import SharedValue
from oauthgw.outcomes import token_request_finished
from tests.oauthgw.conftest import PASSWORD, USERNAME

# Shared state is in the database without Redis.
pytestmark = pytest.mark.django_db

WINDOW = 900
BUCKET = 60


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
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 5, "THROTTLE_IP_FAILURES": 20}


@pytest.fixture
def limits(settings):
    def set_limits(**values):
        settings.OAUTHGW = {**settings.OAUTHGW, **{f"THROTTLE_{key.upper()}": value for key, value in values.items()}}

    return set_limits


def login(post_token, app, *, username: str = USERNAME, password: str = PASSWORD, **extra):
    return post_token({"grant_type": "password", "username": username, "password": password}, app=app, **extra)


def fail_logins(post_token, upstream, app, times: int, **kwargs) -> None:
    upstream.rejects()
    for _ in range(times):
        response = login(post_token, app, password="wrong", **kwargs)
        assert response.status_code == 401, response.content


def start(username: str = USERNAME, *, client_id: str = "app", client_ip: str = "192.0.2.1"):
    return throttling.password_attempt_start(
        server_name="default", username=username, client_id=client_id, client_ip=client_ip
    )


# --- Through the token endpoint ------------------------------------------------------


def test_username_over_its_limit_gets_429_slow_down_and_no_upstream_call(post_token, upstream, make_client, clock):
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


def test_even_the_right_password_waits_while_the_limit_holds(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    upstream.accepts()
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
    upstream.accepts()
    assert login(post_token, app).status_code == 200


def test_retry_after_says_when_the_oldest_failures_leave_the_window(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    clock.now += 100

    response = login(post_token, app)

    assert response["Retry-After"] == str(WINDOW - 100)


def test_a_success_resets_the_usernames_counter(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 4)
    upstream.mock.reset()
    upstream.accepts()
    assert login(post_token, app).status_code == 200
    upstream.mock.reset()
    fail_logins(post_token, upstream, app, 4)
    upstream.mock.reset()
    upstream.accepts()
    assert login(post_token, app).status_code == 200


def test_other_usernames_are_not_held_back_by_one_users_limit(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 5)
    upstream.mock.reset()
    upstream.accepts()
    assert login(post_token, app, username="bob").status_code == 200


def test_a_username_counts_whatever_its_case(post_token, upstream, make_client, clock):
    app = make_client()
    upstream.rejects()
    for spelling in ["alice", "Alice", "ALICE", "aLiCe", "\uff41\uff4c\uff49\uff43\uff45"]:
        assert login(post_token, app, username=spelling, password="wrong").status_code == 401
    assert login(post_token, app, username="AlIcE").status_code == 429


def test_client_ip_over_its_limit_gets_429_for_any_username(post_token, upstream, make_client, clock, limits):
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


def test_another_address_is_not_held_back_by_one_addresss_limit(post_token, upstream, make_client, clock, limits):
    limits(username_failures=0, ip_failures=3)
    app = make_client()
    fail_logins(post_token, upstream, app, 3, REMOTE_ADDR="198.51.100.7")
    upstream.mock.reset()
    upstream.accepts()
    assert login(post_token, app, REMOTE_ADDR="198.51.100.7").status_code == 429
    assert login(post_token, app, REMOTE_ADDR="198.51.100.8").status_code == 200


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


def test_the_address_limit_is_checked_for_every_grant(post_token, upstream, make_client, clock, limits):
    limits(username_failures=0, ip_failures=2)
    app = make_client()
    fail_logins(post_token, upstream, app, 2)

    response = post_token({"grant_type": "client_credentials"}, app=app)

    assert response.status_code == 429


def test_a_caller_without_the_client_secret_cannot_lock_a_user_out(post_token, upstream, make_client, clock):
    app = make_client()
    for _ in range(30):
        response = login(post_token, app, secret="not-the-secret", REMOTE_ADDR="203.0.113.66")
        assert response.status_code == 401
    upstream.accepts()

    assert login(post_token, app, REMOTE_ADDR="192.0.2.10").status_code == 200


def test_client_over_its_limit_gets_429_for_every_user_and_address(post_token, upstream, make_client, clock, limits):
    limits(username_failures=0, ip_failures=0, client_failures=3)
    app, other_app = make_client(), make_client()
    upstream.rejects()
    for n in range(3):
        login(post_token, app, username=f"user{n}", password="wrong", REMOTE_ADDR=f"192.0.2.{n + 1}")
    upstream.mock.reset()
    upstream.accepts()

    assert login(post_token, app, username="fresh", REMOTE_ADDR="192.0.2.99").status_code == 429
    assert login(post_token, other_app, username="fresh", REMOTE_ADDR="192.0.2.99").status_code == 200


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
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    # The client forges the first hop; the trusted proxy appends the address it saw.
    for n in range(3):
        login(
            post_token, app, username=f"u{n}", password="wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 203.0.113.5", **proxy
        )

    forged = login(post_token, app, username="u9", HTTP_X_FORWARDED_FOR="1.2.3.99, 203.0.113.5", **proxy)
    someone_else = login(post_token, app, username="u9", HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy)

    assert forged.status_code == 429
    assert someone_else.status_code == 401


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


def test_an_upstream_outage_counts_no_failure(post_token, upstream, make_client, clock, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 0}
    app = make_client()
    upstream.answers(503)
    for _ in range(8):
        assert login(post_token, app).status_code == 503
    upstream.mock.reset()
    upstream.accepts()
    assert login(post_token, app).status_code == 200


def _shared_keys() -> list[str]:
    """Every key of the shared state, from Redis or from the database."""
    if not shared_state.uses_redis():
        return list(SharedValue.objects.values_list("key", flat=True))
    from django.core.cache import cache

    return [key.decode() for key in cache._cache.get_client().keys("*")]


def test_the_cache_holds_no_username_or_address_in_the_clear(post_token, upstream, make_client, clock):
    app = make_client()
    fail_logins(post_token, upstream, app, 1, REMOTE_ADDR="198.51.100.23")
    keys = _shared_keys()
    assert keys
    assert not [key for key in keys if USERNAME in key or "198.51.100.23" in key]


# --- The counters themselves ----------------------------------------------------------


def test_logins_in_flight_count_no_failure_so_concurrent_good_logins_all_pass(clock):
    # Sixteen logins of one user at once, none answered yet: none is refused.
    attempts = [start() for _ in range(16)]

    for attempt in attempts:
        attempt.accepted()
    start()


def test_an_abandoned_attempt_counts_no_failure(clock):
    for _ in range(5):
        start().abandoned()
    start()


def test_an_accepted_attempt_counts_no_failure_on_the_address_or_client(clock, limits):
    limits(username_failures=0, ip_failures=2, client_failures=2)
    for _ in range(5):
        start().accepted()
    start()


def test_rejected_attempts_count_up_to_the_limit(clock):
    for _ in range(5):
        start().rejected()
    with pytest.raises(throttling.Throttled) as caught:
        start()
    assert caught.value.scope == throttling.USERNAME


def test_ipv6_addresses_in_one_64_share_a_counter(clock, limits):
    limits(username_failures=0, ip_failures=2)
    start("a", client_ip="2001:db8:1:2::1").rejected()
    start("b", client_ip="2001:db8:1:2:ffff::9").rejected()
    with pytest.raises(throttling.Throttled):
        throttling.client_ip_check("2001:db8:1:2::abcd")
    throttling.client_ip_check("2001:db8:1:3::1")


def test_zero_disables_every_counter(clock, limits):
    limits(username_failures=0, ip_failures=0, client_failures=0)
    for _ in range(50):
        start().rejected()
    throttling.client_ip_check("192.0.2.1")


# --- The address check's copies (with Redis) -------------------------------------------

needs_redis = pytest.mark.skipif(
    django_settings.CACHES["default"]["BACKEND"] != "gatewayproj.cache.GatewayRedisCache",
    reason="needs Redis (REDIS_URL): copies are only kept when Redis can invalidate them",
)


@needs_redis
def test_an_address_under_its_limit_is_checked_again_without_reading_the_cache(clock, monkeypatch):
    throttling.client_ip_check("192.0.2.7")
    monkeypatch.setattr(shared_state, "get_many", lambda keys: pytest.fail("read the shared cache"))

    throttling.client_ip_check("192.0.2.7")


@needs_redis
def test_a_failure_recorded_anywhere_reaches_the_next_address_check(clock, limits):
    limits(username_failures=0, ip_failures=2)
    throttling.client_ip_check("192.0.2.8")  # under the limit: remembered

    for _ in range(2):
        start(client_ip="192.0.2.8").rejected()

    with pytest.raises(throttling.Throttled):
        throttling.client_ip_check("192.0.2.8")
