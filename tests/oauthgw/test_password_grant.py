"""The password grant's policy: what a login costs in shared-cache round trips.

Each cache call is a Redis round trip in production; the login throttle and the
circuit breaker run on every password login, so their cost is counted here at the
cache the shared state goes through.
"""

import pytest

from oauthgw import shared_state
from oauthgw.password_grant import resource_owner_authenticate
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_calls(monkeypatch):
    """The name of every shared-state operation, in order (each is one round trip)."""
    calls: list[str] = []
    for name in ("get", "get_many", "add", "put", "delete_many", "counter_add"):
        real = getattr(shared_state, name)

        def counted(*args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(shared_state, name, counted)
    return calls


@pytest.fixture(autouse=True)
def _breaker_on(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_BREAKER_THRESHOLD": 3}


def authenticate(app, password: str = PASSWORD):
    return resource_owner_authenticate(client=app, username=USERNAME, password=password, client_ip="192.0.2.1")


def test_a_login_reads_the_throttle_and_the_breaker_in_one_round_trip_and_writes_nothing(
    upstream, make_client, cache_calls
):
    app = make_client()
    upstream.accepts()
    authenticate(app)  # the first login creates the resource owner
    cache_calls.clear()

    assert authenticate(app) is not None

    assert cache_calls == ["get_many"]


def test_a_login_after_failures_forgets_them_in_one_more_round_trip(upstream, make_client, cache_calls):
    app = make_client()
    upstream.accepts()
    authenticate(app)  # the first login creates the resource owner
    upstream.mock.reset()
    upstream.rejects()
    assert authenticate(app, password="wrong") is None
    upstream.mock.reset()
    upstream.accepts()
    cache_calls.clear()

    assert authenticate(app) is not None

    assert cache_calls == ["get_many", "delete_many"]
