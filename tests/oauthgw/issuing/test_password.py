"""The password grant's policy: whom a login vouches for, and what it costs in shared-state round trips.

Each shared-state call is one Redis round trip (or one SQL statement without
Redis); the login limits and the circuit breaker run on every password login, so
their cost is counted here.
"""

import pytest

from oauthgw.caching import shared_state
from oauthgw.exceptions import Throttled
from oauthgw.issuing.password import resource_owner_authenticate
from tests.oauthgw.conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_calls(monkeypatch):
    """The name of every shared-state operation, in order (each is one round trip)."""
    calls: list[str] = []
    for name in ("get", "get_many", "add", "put", "delete_many", "counter_add", "counters_add"):
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


def test_a_returning_users_login_costs_three_round_trips(upstream, make_client, cache_calls):
    # Read the counters and the breaker; reserve a place; give it back once the upstream said yes.
    app = make_client()
    upstream.accepts()
    authenticate(app)  # the first login creates the resource owner and marks the address known
    cache_calls.clear()

    assert authenticate(app) is not None

    assert cache_calls == ["get_many", "counters_add", "counters_add"]


def test_a_first_login_from_an_address_also_marks_it_known(upstream, make_client, cache_calls):
    app = make_client()
    upstream.accepts()

    assert authenticate(app) is not None

    assert cache_calls == ["get_many", "counters_add", "counters_add", "put"]


def test_a_wrong_password_costs_two_round_trips(upstream, make_client, cache_calls):
    app = make_client()
    upstream.rejects()

    assert authenticate(app, password="wrong") is None

    assert cache_calls == ["get_many", "counters_add"]


def test_a_throttled_login_only_reads(upstream, make_client, cache_calls, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "THROTTLE_USERNAME_FAILURES": 1}
    app = make_client()
    upstream.rejects()
    authenticate(app, password="wrong")
    cache_calls.clear()

    with pytest.raises(Throttled):
        authenticate(app, password="wrong")

    assert cache_calls == ["get_many"]


def test_the_resource_owner_is_who_the_upstream_vouched_for(upstream, make_client):
    app = make_client()
    body = {"access_token": "upstream", "token_type": "bearer", "sub": "u-81", "username": "Alice"}
    upstream.mock.add("POST", upstream.url, json=body)

    user = authenticate(app).user

    assert (user.resource_owner.subject, user.resource_owner.username) == ("u-81", "Alice")


def test_spellings_of_one_username_are_one_resource_owner_when_the_upstream_names_none(upstream, make_client):
    app = make_client()
    upstream.accepts()

    users = [
        resource_owner_authenticate(client=app, username=spelling, password=PASSWORD, client_ip="192.0.2.1").user
        for spelling in ("ABC123", " abc123", "abc123")
    ]

    assert len({user.pk for user in users}) == 1
    assert users[0].resource_owner.subject == "abc123"
