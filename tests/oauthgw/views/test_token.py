"""``POST /oauth2/token`` as a client sees it: authentication, error table, token responses, storage."""

import hashlib
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.issuing.client_deletion import client_delete
from oauthgw.models import Application, ResourceOwner
from oauthgw.toolkit.oauth2_validators import GatewayOAuth2Validator
from tests.oauthgw.conftest import FORM, PASSWORD, TOKEN_URL, USERNAME, basic_authorization

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

DEFAULT_ACCESS_SECONDS = 3600
DEFAULT_REFRESH_SECONDS = 14 * 24 * 3600


def password_form(**extra) -> dict:
    return {"grant_type": "password", "username": USERNAME, "password": PASSWORD, **extra}


def checksum(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


def assert_basic_challenge(response) -> None:
    assert response["WWW-Authenticate"].startswith('Basic realm="')


def assert_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["error"] == error
    assert document["error_description"]


# --- Client authentication (error table, first row) -----------------------------------


def test_unknown_client_is_invalid_client_with_basic_challenge(post_token, upstream):
    response = post_token(password_form(), HTTP_AUTHORIZATION=basic_authorization("nobody", "secret"))

    assert_error(response, 401, "invalid_client")
    assert_basic_challenge(response)
    assert upstream.calls == []


def test_wrong_client_secret_is_invalid_client_with_basic_challenge(post_token, upstream, make_client):
    app = make_client()

    response = post_token(password_form(), app=app, secret="not-the-secret")

    assert_error(response, 401, "invalid_client")
    assert_basic_challenge(response)
    assert upstream.calls == []


def test_disabled_client_is_invalid_client_with_basic_challenge(post_token, upstream, make_client):
    app = make_client(enabled=False)

    response = post_token(password_form(), app=app)

    assert_error(response, 401, "invalid_client")
    assert_basic_challenge(response)
    assert upstream.calls == []


def test_missing_client_authentication_is_invalid_client(post_token, upstream):
    response = post_token(password_form())

    assert_error(response, 401, "invalid_client")
    assert upstream.calls == []


def test_client_credentials_in_the_body_authenticate(post_token, upstream, make_client):
    app = make_client()
    upstream.accepts()

    response = post_token(password_form(client_id=app.client_id, client_secret=app.raw_secret))

    assert response.status_code == 200, response.content


def test_wrong_client_secret_in_the_body_is_invalid_client(post_token, upstream, make_client):
    app = make_client()

    response = post_token(password_form(client_id=app.client_id, client_secret="not-the-secret"))

    assert_error(response, 401, "invalid_client")
    assert upstream.calls == []


def test_basic_credentials_with_reserved_characters_are_form_decoded(post_token, upstream, make_client):
    app = make_client(client_id="team a&b=c+d%e", raw_secret="s3cr:et&=+% é/ü")
    upstream.accepts()

    response = post_token(password_form(), app=app)

    assert response.status_code == 200, response.content


@pytest.mark.django_db(transaction=True)
def test_a_client_deleted_while_its_token_request_runs_gets_invalid_client_not_a_500(
    post_token, make_client, monkeypatch
):
    app = make_client()
    save = GatewayOAuth2Validator._save_bearer_token

    def deleted_first(self, token, request, *args, **kwargs):
        # The admin's deletion commits after this request authenticated the client.
        client_delete(client=Application.objects.get(pk=app.pk))
        return save(self, token, request, *args, **kwargs)

    monkeypatch.setattr(GatewayOAuth2Validator, "_save_bearer_token", deleted_first)

    response = post_token({"grant_type": "client_credentials"}, app=app)

    assert_error(response, 401, "invalid_client")
    assert_basic_challenge(response)


# --- Resource-owner credentials ---------------------------------------------------------


def test_wrong_user_credentials_are_invalid_grant_401(post_token, upstream, make_client):
    upstream.rejects()

    response = post_token(password_form(), app=make_client())

    assert_error(response, 401, "invalid_grant")


def test_a_wrong_password_and_a_wrong_client_secret_differ_in_the_challenge_alone(post_token, upstream, make_client):
    # Strict clients raise on a 401 challenge before reading the body: the header must tell them apart.
    app = make_client()
    upstream.rejects()

    wrong_password = post_token(password_form(), app=app)
    wrong_secret = post_token(password_form(), app=app, secret="not-the-secret")

    assert wrong_password["WWW-Authenticate"] == 'Basic realm="oauthgw", charset="UTF-8", error="invalid_grant"'
    assert wrong_secret["WWW-Authenticate"] == 'Basic realm="oauthgw", charset="UTF-8", error="invalid_client"'
    assert wrong_password.status_code == wrong_secret.status_code == 401


def test_wrong_user_credentials_are_invalid_grant_400_in_strict_mode(post_token, upstream, make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "INVALID_GRANT_STATUS": 400}
    upstream.rejects()

    response = post_token(password_form(), app=make_client())

    assert_error(response, 400, "invalid_grant")


# --- Grant types, parameters, scopes -----------------------------------------------------


def test_grant_not_allowed_for_the_client_is_unauthorized_client(post_token, upstream, make_client):
    app = make_client(grant_types="client_credentials")

    response = post_token(password_form(), app=app)

    assert_error(response, 400, "unauthorized_client")
    assert upstream.calls == []


@pytest.mark.parametrize("grant_type", ["implicit", "urn:ietf:params:oauth:grant-type:device_code", "PASSWORD"])
def test_unknown_grant_type_is_unsupported_grant_type(post_token, upstream, make_client, grant_type):
    response = post_token(password_form(grant_type=grant_type), app=make_client())

    assert_error(response, 400, "unsupported_grant_type")
    assert upstream.calls == []


@pytest.mark.parametrize(
    "form",
    [
        {"username": USERNAME, "password": PASSWORD},
        {"grant_type": "password", "password": PASSWORD},
        {"grant_type": "password", "username": USERNAME},
        {"grant_type": "password", "username": "", "password": PASSWORD},
        {"grant_type": "refresh_token"},
    ],
    ids=["no-grant-type", "no-username", "no-password", "empty-username", "no-refresh-token"],
)
def test_missing_parameter_is_invalid_request(post_token, upstream, make_client, form):
    response = post_token(form, app=make_client())

    assert_error(response, 400, "invalid_request")
    assert upstream.calls == []


@pytest.mark.parametrize("scope", ["admin", "hello admin"])
def test_unknown_scope_is_invalid_scope(post_token, upstream, make_client, scope):
    response = post_token(password_form(scope=scope), app=make_client())

    assert_error(response, 400, "invalid_scope")
    assert upstream.calls == []


@pytest.mark.parametrize(
    "form", [password_form(scope=""), {"grant_type": "client_credentials", "scope": ""}], ids=["password", "cc"]
)
def test_empty_scope_parameter_means_the_default_scopes(post_token, upstream, make_client, form):
    upstream.accepts()

    response = post_token(form, app=make_client())

    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "hello"


def test_scope_the_client_may_not_have_is_invalid_scope(post_token, upstream, make_client):
    app = make_client(allowed_scopes="", default_scopes="")

    response = post_token(password_form(scope="hello"), app=app)

    assert_error(response, 400, "invalid_scope")
    assert upstream.calls == []


# --- Upstream outage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [{"status": 500}, {"status": 200, "body": "not json"}, {"status": 401, "json": {"error": "invalid_client"}}],
    ids=["server-error", "not-a-token-response", "gateway-misconfigured"],
)
def test_upstream_unavailable_is_503_temporarily_unavailable_with_retry_after(
    post_token, upstream, make_client, answer
):
    upstream.answers(**answer)

    response = post_token(password_form(), app=make_client())

    assert_error(response, 503, "temporarily_unavailable")
    assert response["Retry-After"] == "5"
    assert "WWW-Authenticate" not in response


def test_a_200_carrying_both_an_error_and_an_access_token_issues_no_token(post_token, upstream, make_client):
    upstream.answers(200, json={"access_token": "upstream-token", "token_type": "bearer", "error": "invalid_grant"})

    response = post_token(password_form(), app=make_client())

    assert_error(response, 503, "temporarily_unavailable")
    assert AccessToken.objects.count() == 0
    assert ResourceOwner.objects.count() == 0


def test_upstream_unavailable_creates_no_token_and_no_user(post_token, upstream, make_client):
    upstream.answers(status=502)

    post_token(password_form(), app=make_client())

    assert AccessToken.objects.count() == 0
    assert ResourceOwner.objects.count() == 0


# --- Successful responses ------------------------------------------------------------------


def test_password_grant_returns_bearer_token_with_refresh_token(post_token, upstream, make_client):
    upstream.accepts()

    response = post_token(password_form(), app=make_client())

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "scope",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == DEFAULT_ACCESS_SECONDS
    assert body["scope"] == "hello"
    assert body["refresh_token_expires_in"] == DEFAULT_REFRESH_SECONDS
    assert body["access_token"] and body["refresh_token"] and body["access_token"] != body["refresh_token"]


def test_token_response_is_not_cacheable(post_token, upstream, make_client):
    upstream.accepts()

    response = post_token(password_form(), app=make_client())

    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def test_error_response_is_not_cacheable(post_token, upstream, make_client):
    upstream.rejects()

    response = post_token(password_form(), app=make_client())

    assert response["Cache-Control"] == "no-store"
    assert response["Pragma"] == "no-cache"


def test_per_client_lifetimes_are_honoured(post_token, upstream, make_client):
    app = make_client(access_token_lifetime=120, refresh_token_lifetime=600)
    upstream.accepts()

    body = post_token(password_form(), app=app).json()

    assert body["expires_in"] == 120
    assert body["refresh_token_expires_in"] == 600
    token = AccessToken.objects.get(token_checksum=checksum(body["access_token"]))
    assert token.expires - token.created == pytest.approx(timedelta(seconds=120), abs=timedelta(seconds=2))


def test_client_without_refresh_grant_gets_no_refresh_token(post_token, upstream, make_client):
    upstream.accepts()

    body = post_token(password_form(), app=make_client(grant_types="password")).json()

    assert "refresh_token" not in body
    assert "refresh_token_expires_in" not in body
    assert RefreshToken.objects.count() == 0


def test_token_endpoint_accepts_a_trailing_slash(client, upstream, make_client):
    app = make_client()
    upstream.accepts()

    response = client.post(
        TOKEN_URL + "/",
        "grant_type=password&username=alice&password=x",
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
    )

    assert response.status_code == 200, response.content


def test_get_is_405_with_json_error(client):
    response = client.get(TOKEN_URL)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"
    assert response["Allow"] == "POST"


# --- Refresh tokens ----------------------------------------------------------------------


def refresh(post_token, app, refresh_token: str):
    return post_token({"grant_type": "refresh_token", "refresh_token": refresh_token}, app=app)


def test_refresh_returns_new_access_and_refresh_tokens(post_token, password_login, make_client):
    app = make_client(refresh_token_lifetime=600)
    first = password_login(app)

    response = refresh(post_token, app, first["refresh_token"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access_token"] != first["access_token"]
    assert body["refresh_token"] != first["refresh_token"]
    assert body["refresh_token_expires_in"] == 600
    assert response["Cache-Control"] == "no-store"


def test_refresh_does_not_call_the_upstream(post_token, password_login, upstream, make_client):
    app = make_client()
    first = password_login(app)
    calls_after_login = len(upstream.calls)

    response = refresh(post_token, app, first["refresh_token"])

    assert response.status_code == 200, response.content
    assert len(upstream.calls) == calls_after_login


def test_refreshed_token_keeps_the_resource_owner(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)

    second = refresh(post_token, app, first["refresh_token"]).json()

    token = AccessToken.objects.get(token_checksum=checksum(second["access_token"]))
    assert token.user.resource_owner.subject == USERNAME


def test_used_refresh_token_is_invalid_grant(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    refresh(post_token, app, first["refresh_token"])

    response = refresh(post_token, app, first["refresh_token"])

    assert_error(response, 401, "invalid_grant")


def test_replayed_refresh_token_revokes_the_whole_family(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    second = refresh(post_token, app, first["refresh_token"]).json()

    # A minute later: a replay, not a retry racing the rotation.
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(minutes=1)):
        refresh(post_token, app, first["refresh_token"])
        response = refresh(post_token, app, second["refresh_token"])

    assert_error(response, 401, "invalid_grant")
    assert not AccessToken.objects.filter(token_checksum=checksum(second["access_token"])).exists()


def test_a_used_refresh_token_sent_again_within_the_reuse_interval_leaves_the_family_alone(
    post_token, password_login, make_client
):
    app = make_client()
    first = password_login(app)
    second = refresh(post_token, app, first["refresh_token"]).json()

    duplicate = refresh(post_token, app, first["refresh_token"])

    assert_error(duplicate, 401, "invalid_grant")
    assert refresh(post_token, app, second["refresh_token"]).status_code == 200


def test_a_used_refresh_token_sent_by_another_client_is_a_replay_even_at_once(post_token, password_login, make_client):
    app, other = make_client(), make_client()
    first = password_login(app)
    second = refresh(post_token, app, first["refresh_token"]).json()

    stolen = refresh(post_token, other, first["refresh_token"])

    assert_error(stolen, 401, "invalid_grant")
    assert_error(refresh(post_token, app, second["refresh_token"]), 401, "invalid_grant")


def test_with_no_reuse_interval_a_used_refresh_token_sent_again_at_once_revokes_the_family(
    post_token, password_login, make_client, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "REFRESH_REUSE_INTERVAL": 0}
    app = make_client()
    first = password_login(app)
    second = refresh(post_token, app, first["refresh_token"]).json()

    refresh(post_token, app, first["refresh_token"])

    assert_error(refresh(post_token, app, second["refresh_token"]), 401, "invalid_grant")


def test_refresh_token_past_the_clients_refresh_lifetime_is_invalid_grant(post_token, password_login, make_client):
    app = make_client(refresh_token_lifetime=600)
    first = password_login(app)
    RefreshToken.objects.update(created=timezone.now() - timedelta(seconds=601))

    response = refresh(post_token, app, first["refresh_token"])

    assert_error(response, 401, "invalid_grant")


def test_refresh_token_inside_the_clients_refresh_lifetime_works(post_token, password_login, make_client):
    app = make_client(refresh_token_lifetime=600)
    first = password_login(app)
    RefreshToken.objects.update(created=timezone.now() - timedelta(seconds=590))

    response = refresh(post_token, app, first["refresh_token"])

    assert response.status_code == 200, response.content


def test_refresh_token_past_the_default_refresh_lifetime_is_invalid_grant(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    later = timezone.now() + timedelta(seconds=DEFAULT_REFRESH_SECONDS + 1)

    with mock.patch("django.utils.timezone.now", return_value=later):
        response = refresh(post_token, app, first["refresh_token"])

    assert_error(response, 401, "invalid_grant")


def test_per_client_refresh_lifetime_is_capped_by_the_gateway_ceiling(post_token, password_login, make_client):
    # REFRESH_TOKEN_EXPIRE_SECONDS is the default and the ceiling: the response
    # must never promise more than the toolkit will honour.
    app = make_client(refresh_token_lifetime=30 * 24 * 3600)

    first = password_login(app)

    assert first["refresh_token_expires_in"] == 14 * 24 * 3600
    with pytest.raises(ValidationError) as refused:
        app.full_clean(exclude=["client_secret"])
    assert "refresh_token_lifetime" in refused.value.message_dict


def test_refresh_does_not_keep_a_scope_the_client_has_lost(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    app.allowed_scopes = app.default_scopes = ""
    app.save()

    response = refresh(post_token, app, first["refresh_token"])

    assert_error(response, 400, "invalid_scope")


def test_refresh_token_of_another_client_is_invalid_grant(post_token, password_login, make_client):
    first = password_login(make_client())

    response = refresh(post_token, make_client(), first["refresh_token"])

    assert_error(response, 401, "invalid_grant")


def test_unknown_refresh_token_is_invalid_grant(post_token, upstream, make_client):
    response = refresh(post_token, make_client(), "no-such-refresh-token")

    assert_error(response, 401, "invalid_grant")


def test_client_that_lost_the_refresh_grant_cannot_refresh(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    app.grant_types = "password"
    app.save(update_fields=["grant_types"])

    response = refresh(post_token, app, first["refresh_token"])

    assert_error(response, 400, "unauthorized_client")


def test_disabled_client_cannot_refresh(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    app.enabled = False
    app.save(update_fields=["enabled"])

    response = refresh(post_token, app, first["refresh_token"])

    assert_error(response, 401, "invalid_client")


# --- client_credentials -----------------------------------------------------------------


def test_client_credentials_issues_an_access_token_without_refresh_token_or_user(post_token, upstream, make_client):
    app = make_client(grant_types="client_credentials")

    response = post_token({"grant_type": "client_credentials"}, app=app)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "hello"
    assert AccessToken.objects.get(token_checksum=checksum(body["access_token"])).user is None
    assert upstream.calls == []


def test_client_credentials_without_refresh_token_even_if_client_may_refresh(post_token, make_client):
    app = make_client(grant_types="client_credentials refresh_token")

    body = post_token({"grant_type": "client_credentials"}, app=app).json()

    assert "refresh_token" not in body
    assert RefreshToken.objects.count() == 0


def test_client_credentials_not_allowed_is_unauthorized_client(post_token, make_client):
    app = make_client(grant_types="password refresh_token")

    response = post_token({"grant_type": "client_credentials"}, app=app)

    assert_error(response, 400, "unauthorized_client")


# --- Shadow users ----------------------------------------------------------------------------


def test_shadow_user_is_created_once_per_subject(password_login, make_client):
    app = make_client()
    password_login(app)
    password_login(app)

    assert ResourceOwner.objects.filter(subject=USERNAME).count() == 1
    users = {token.user_id for token in AccessToken.objects.all()}
    assert len(users) == 1


def test_different_subjects_get_different_shadow_users(password_login, make_client):
    app = make_client()
    password_login(app, username="alice")
    password_login(app, username="bob")

    assert ResourceOwner.objects.count() == 2
    assert len({token.user_id for token in AccessToken.objects.all()}) == 2


def test_shadow_user_cannot_log_in_and_is_not_staff(password_login, make_client):
    password_login(make_client())

    user = ResourceOwner.objects.get(subject=USERNAME).user
    assert not user.has_usable_password()
    assert not user.is_staff
    assert not user.is_superuser
    assert get_user_model().objects.filter(username=USERNAME).count() == 0


# --- What the database holds ---------------------------------------------------------------


def test_no_raw_token_is_stored(post_token, password_login, make_client):
    app = make_client()
    first = password_login(app)
    second = refresh(post_token, app, first["refresh_token"]).json()

    assert AccessToken.objects.exclude(token="").count() == 0
    assert RefreshToken.objects.exclude(token="").count() == 0
    assert AccessToken.objects.filter(token_checksum=checksum(second["access_token"])).exists()
    assert RefreshToken.objects.filter(token_checksum=checksum(second["refresh_token"])).exists()


def test_client_secret_is_stored_hashed_with_the_fast_hasher(make_client):
    app = make_client()

    stored = Application.objects.get(pk=app.pk).client_secret
    assert stored.startswith("oauthgw_hmac_sha256$")
    assert app.raw_secret not in stored
