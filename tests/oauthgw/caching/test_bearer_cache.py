"""The bearer-token cache: with Redis a token check costs no query; in every deployment changes act at once."""

import pickle
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from oauthgw.caching import bearer_cache, shared_state
from oauthgw.models import Application
from tests.oauthgw.conftest import basic_authorization
from tests.support.dpop import DPoPKey

pytestmark = pytest.mark.django_db

needs_redis = pytest.mark.skipif(
    not shared_state.uses_redis(), reason="the bearer cache exists only with Redis (REDIS_URL)"
)
without_redis = pytest.mark.skipif(
    shared_state.uses_redis(), reason="with Redis (REDIS_URL) the bearer cache answers instead"
)

AccessToken = get_access_token_model()


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def issue_token(post_token):
    def issue(app) -> str:
        response = post_token({"grant_type": "client_credentials"}, app=app)
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


def hello(client, token: str):
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}")


@needs_redis
def test_a_token_checked_once_is_checked_again_without_any_query(
    client, make_client, issue_token, django_assert_num_queries
):
    token = issue_token(make_client())
    # The first check reads the token; the next, the set of disabled clients (once a second).
    assert hello(client, token).status_code == 200
    assert hello(client, token).status_code == 200

    with django_assert_num_queries(0):
        response = hello(client, token)

    assert response.status_code == 200
    assert response.json()["client_id"]


@without_redis
def test_without_redis_every_check_reads_the_token_row_in_one_query(
    client, make_client, issue_token, django_assert_num_queries
):
    token = issue_token(make_client())
    assert hello(client, token).status_code == 200

    with django_assert_num_queries(1):
        assert hello(client, token).status_code == 200


def test_a_token_of_a_client_disabled_by_a_queryset_update_is_refused_within_a_second(client, make_client, issue_token):
    app = make_client()
    token = issue_token(app)
    assert hello(client, token).status_code == 200

    Application.objects.filter(pk=app.pk).update(enabled=False)
    time.sleep(bearer_cache.DISABLED_CLIENTS_SECONDS)

    assert hello(client, token).status_code == 401


def test_a_revoked_token_is_refused_although_it_was_cached(client, make_client, issue_token):
    app = make_client()
    token = issue_token(app)
    assert hello(client, token).status_code == 200

    revoked = client.post(
        "/oauth2/revoke",
        f"token={token}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )

    assert revoked.status_code == 200
    response = hello(client, token)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_token_of_a_client_disabled_since_it_was_cached_is_refused(client, make_client, issue_token):
    app = make_client()
    token = issue_token(app)
    assert hello(client, token).status_code == 200

    app.enabled = False
    app.save()

    assert hello(client, token).status_code == 401


def test_a_cached_token_is_refused_once_it_expires(client, make_client, issue_token, monkeypatch):
    token = issue_token(make_client(access_token_lifetime=60))
    assert hello(client, token).status_code == 200

    later = timezone.now() + timedelta(seconds=61)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert hello(client, token).status_code == 401


def test_a_request_that_read_the_token_before_its_revocation_cannot_cache_it_again(
    make_client, issue_token, django_capture_on_commit_callbacks
):
    token = issue_token(make_client())
    checksum = bearer_cache.token_checksum(token)
    read_before_revocation = bearer_cache._token_from_db(checksum)

    with django_capture_on_commit_callbacks(execute=True):
        AccessToken.objects.get(token_checksum=checksum).revoke()
    bearer_cache._remember(checksum, read_before_revocation)

    assert bearer_cache.access_token_load(token) is None


@needs_redis
def test_the_cache_never_holds_the_client_secret_hash(client, make_client, issue_token):
    app = make_client()
    token = issue_token(app)
    assert hello(client, token).status_code == 200
    stored_hash = type(app).objects.get(pk=app.pk).client_secret

    entry = cache.get(f"oauthgw:bearer:v2:{bearer_cache.token_checksum(token)}")

    assert entry is not None
    assert entry.application.client_id == app.client_id
    assert stored_hash.encode() not in pickle.dumps(entry)


def test_a_request_that_read_the_client_just_before_it_was_disabled_cannot_cache_it(
    make_client, issue_token, django_capture_on_commit_callbacks
):
    app = make_client()
    token = issue_token(app)
    checksum = bearer_cache.token_checksum(token)
    read_before_the_change = bearer_cache._token_from_db(checksum)

    with django_capture_on_commit_callbacks(execute=True):
        app.enabled = False
        app.save()
    bearer_cache._remember(checksum, read_before_the_change)

    # Disabling revoked the token: its tombstone keeps the stale copy out.
    assert bearer_cache.access_token_load(token) is None


def test_with_the_cache_off_every_check_reads_the_database(
    client, make_client, issue_token, settings, django_assert_num_queries
):
    settings.OAUTHGW = {**settings.OAUTHGW, "BEARER_CACHE_SECONDS": 0}
    token = issue_token(make_client())
    assert hello(client, token).status_code == 200

    with django_assert_num_queries(1):
        assert hello(client, token).status_code == 200


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_database_read_gives_the_token_its_client_user_and_owner_as_the_orm_does(
    make_client, password_login, django_assert_num_queries
):
    checksum = bearer_cache.token_checksum(password_login(make_client())["access_token"])
    expected = AccessToken.objects.select_related("application", "user", "user__resource_owner").get(
        token_checksum=checksum
    )

    with django_assert_num_queries(1):
        token = bearer_cache._token_from_db(checksum)
        owner = token.user.resource_owner

    assert _fields(token) == _fields(expected)
    assert token.expires.tzinfo is not None
    assert _fields(token.application) == _fields(expected.application)
    assert _fields(token.user) == _fields(expected.user)
    assert _fields(owner) == _fields(expected.user.resource_owner)


def test_the_database_read_of_an_unknown_token_is_none():
    assert bearer_cache._token_from_db(bearer_cache.token_checksum("no-such-token")) is None


# --- DPoP bindings ------------------------------------------------------------------------


@pytest.fixture
def bound_token(post_token):
    """A client_credentials token bound to a DPoP key, and the key."""

    def issue(app) -> tuple[str, DPoPKey]:
        key = DPoPKey("ES256")
        response = post_token(
            {"grant_type": "client_credentials"}, app=app, HTTP_DPOP=key.proof("POST", "http://testserver/oauth2/token")
        )
        assert response.json()["token_type"] == "DPoP", response.content
        return response.json()["access_token"], key

    return issue


def dpop_hello(client, token: str, key: DPoPKey):
    proof = key.proof("GET", "http://testserver/helloworld/", access_token=token)
    return client.get("/helloworld/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)


def test_the_database_read_gives_the_binding_in_the_same_statement(
    make_client, bound_token, issue_token, django_assert_num_queries
):
    bound, key = bound_token(make_client())
    bearer = issue_token(make_client())

    with django_assert_num_queries(2):
        read_bound = bearer_cache._token_from_db(bearer_cache.token_checksum(bound))
        read_bearer = bearer_cache._token_from_db(bearer_cache.token_checksum(bearer))
        jkts = (bearer_cache.bound_jkt(read_bound), bearer_cache.bound_jkt(read_bearer))

    assert jkts == (key.jkt, None)


def test_a_row_read_elsewhere_learns_its_binding_with_one_query(make_client, bound_token, django_assert_num_queries):
    bound, key = bound_token(make_client())
    row = AccessToken.objects.get(token_checksum=bearer_cache.token_checksum(bound))

    with django_assert_num_queries(1):
        assert bearer_cache.bound_jkt(row) == key.jkt


@without_redis
def test_without_redis_a_dpop_check_reads_the_token_and_its_binding_in_one_query(
    client, make_client, bound_token, django_assert_num_queries
):
    token, key = bound_token(make_client())
    assert dpop_hello(client, token, key).status_code == 200

    # The token with its binding, and the proof's replay mark (the database is the shared state).
    with django_assert_num_queries(2):
        assert dpop_hello(client, token, key).status_code == 200


@needs_redis
def test_a_cached_token_carries_its_binding(client, make_client, bound_token, django_assert_num_queries):
    token, key = bound_token(make_client())
    assert dpop_hello(client, token, key).status_code == 200
    assert dpop_hello(client, token, key).status_code == 200

    with django_assert_num_queries(0):
        assert dpop_hello(client, token, key).status_code == 200
        stolen = client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert stolen.status_code == 401
    entry = cache.get(bearer_cache._token_key(bearer_cache.token_checksum(token)))
    assert bearer_cache.bound_jkt(entry) == key.jkt


@needs_redis
def test_an_entry_the_previous_release_cached_without_a_binding_is_not_taken_for_a_bearer_token(
    client, make_client, bound_token
):
    token, key = bound_token(make_client())
    row = AccessToken.objects.select_related("application").get(token_checksum=bearer_cache.token_checksum(token))
    # What the previous release put in Redis: the row, no binding attribute.
    cache.set(bearer_cache._token_key(bearer_cache.token_checksum(token)), row, 60)

    assert client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert dpop_hello(client, token, key).status_code == 200
