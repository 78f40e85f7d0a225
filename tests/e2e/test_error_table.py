"""Every row of the token endpoint's error table, over real HTTP (README, "Status codes")."""

import secrets
import time
from datetime import date, timedelta

import pytest
import requests
from cryptography.fernet import Fernet
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw import signing_keys
from oauthgw.caching import shared_state
from oauthgw.exceptions import SharedStateUnavailable
from oauthgw.issuing.password_sunset import password_grant_until_set
from oauthgw.issuing.resource_owners import resource_owner_upsert
from oauthgw.models import AuditEvent, DPoPBinding
from tests.e2e.conftest import PASSWORD, USER, basic_header
from tests.factories import ApplicationFactory
from tests.support.dpop import DPoPKey
from tests.support.faulty_servers import FaultyServer, serve_nothing
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
PASSWORD_FORM = {"grant_type": "password", "username": USER, "password": PASSWORD}


def _assert_error(response, status, error):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def _assert_basic_challenge(response):
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="')


def test_unknown_client_is_401_invalid_client_with_a_basic_challenge(gateway, transactional_db):
    response = gateway.token("no-such-client", "whatever", **PASSWORD_FORM)

    _assert_error(response, 401, "invalid_client")
    _assert_basic_challenge(response)


def test_wrong_client_secret_is_401_invalid_client(gateway, app_client):
    response = gateway.token(app_client.client_id, "wrong-secret", **PASSWORD_FORM)

    _assert_error(response, 401, "invalid_client")
    _assert_basic_challenge(response)


def test_disabled_client_is_401_invalid_client(gateway, app_client):
    app_client.enabled = False
    app_client.save()

    response = gateway.token(app_client.client_id, app_client.raw_secret, **PASSWORD_FORM)

    _assert_error(response, 401, "invalid_client")


def test_wrong_resource_owner_password_is_401_invalid_grant(gateway, app_client):
    response = gateway.token(app_client.client_id, app_client.raw_secret, **{**PASSWORD_FORM, "password": "nope"})

    _assert_error(response, 401, "invalid_grant")
    _assert_basic_challenge(response)


def test_unknown_resource_owner_looks_the_same_as_a_wrong_password(gateway, app_client):
    unknown = gateway.token(app_client.client_id, app_client.raw_secret, **{**PASSWORD_FORM, "username": "ghost"})
    wrong = gateway.token(app_client.client_id, app_client.raw_secret, **{**PASSWORD_FORM, "password": "nope"})

    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())


def test_strict_rfc_setting_answers_invalid_grant_with_400(gateway, app_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "INVALID_GRANT_STATUS": 400}

    response = gateway.token(app_client.client_id, app_client.raw_secret, **{**PASSWORD_FORM, "password": "nope"})

    _assert_error(response, 400, "invalid_grant")
    assert "WWW-Authenticate" not in response.headers


def test_grant_not_allowed_for_the_client_is_400_unauthorized_client(gateway, transactional_db):
    machine = ApplicationFactory(grant_types="client_credentials")

    response = gateway.token(machine.client_id, machine.raw_secret, **PASSWORD_FORM)

    _assert_error(response, 400, "unauthorized_client")


def test_a_password_grant_after_its_clients_last_day_is_400_unauthorized_client(gateway, app_client):
    password_grant_until_set(client=app_client, until=date.today() - timedelta(days=2))

    response = gateway.token(app_client.client_id, app_client.raw_secret, **PASSWORD_FORM)

    _assert_error(response, 400, "unauthorized_client")
    assert "its last day was" in response.json()["error_description"]
    assert "Sunset" in response.headers


def test_unknown_grant_type_is_400_unsupported_grant_type(gateway, app_client):
    response = gateway.token(app_client.client_id, app_client.raw_secret, grant_type="implicit", code="x")

    _assert_error(response, 400, "unsupported_grant_type")


def test_the_authorization_code_for_a_client_not_given_it_is_400_unauthorized_client(gateway, app_client):
    response = gateway.token(app_client.client_id, app_client.raw_secret, grant_type="authorization_code", code="x")

    _assert_error(response, 400, "unauthorized_client")


@pytest.mark.parametrize(
    "form",
    [
        {"grant_type": "password", "username": USER},
        {"grant_type": "password", "password": PASSWORD},
        {"grant_type": "refresh_token"},
        {"username": USER, "password": PASSWORD},
    ],
    ids=["no-password", "no-username", "no-refresh-token", "no-grant-type"],
)
def test_missing_parameters_are_400_invalid_request(gateway, app_client, form):
    response = gateway.token(app_client.client_id, app_client.raw_secret, **form)

    _assert_error(response, 400, "invalid_request")


def test_repeated_parameter_is_400_invalid_request(gateway, app_client):
    response = requests.post(
        gateway.token_url,
        data="grant_type=password&grant_type=client_credentials&username=abc123&password=xyz456",
        headers={
            "Authorization": basic_header(app_client.client_id, app_client.raw_secret),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=10,
    )

    _assert_error(response, 400, "invalid_request")


def test_json_body_is_400_invalid_request(gateway, app_client):
    response = requests.post(
        gateway.token_url,
        json=PASSWORD_FORM,
        headers={"Authorization": basic_header(app_client.client_id, app_client.raw_secret)},
        timeout=10,
    )

    _assert_error(response, 400, "invalid_request")


def test_scope_the_client_may_not_have_is_400_invalid_scope(gateway, app_client):
    response = gateway.token(app_client.client_id, app_client.raw_secret, **PASSWORD_FORM, scope="admin")

    _assert_error(response, 400, "invalid_scope")


def test_a_resource_outside_a_jwt_clients_audiences_is_400_invalid_target(gateway, transactional_db):
    app = ApplicationFactory(token_format="jwt", audience="https://orders.example")

    response = gateway.token(app.client_id, app.raw_secret, **PASSWORD_FORM, resource="https://payroll.example")

    _assert_error(response, 400, "invalid_target")


def _dpop_token(gateway, app, proof: str) -> requests.Response:
    return requests.post(
        gateway.token_url,
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, app.raw_secret),
        headers={"DPoP": proof},
        timeout=30,
    )


def test_a_dpop_proof_that_does_not_hold_is_400_invalid_dpop_proof(gateway, transactional_db):
    app = ApplicationFactory(grant_types="client_credentials")

    response = _dpop_token(gateway, app, DPoPKey().proof("GET", gateway.token_url))

    _assert_error(response, 400, "invalid_dpop_proof")


def test_no_dpop_proof_from_a_client_that_must_send_one_is_400_invalid_dpop_proof(gateway, transactional_db):
    app = ApplicationFactory(grant_types="client_credentials", dpop="required")

    response = gateway.token(app.client_id, app.raw_secret, grant_type="client_credentials")

    _assert_error(response, 400, "invalid_dpop_proof")


def test_a_proof_without_the_required_nonce_is_400_use_dpop_nonce_with_one(gateway, transactional_db, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_NONCE_REQUIRED": True}
    app = ApplicationFactory(grant_types="client_credentials")

    response = _dpop_token(gateway, app, DPoPKey().proof("POST", gateway.token_url))

    _assert_error(response, 400, "use_dpop_nonce")
    assert response.headers["DPoP-Nonce"]


def test_a_public_clients_bound_refresh_token_without_its_key_is_401_invalid_grant(gateway, transactional_db):
    app = ApplicationFactory(
        client_type="public", grant_types="authorization_code refresh_token", redirect_uris="https://app.example/cb"
    )
    key = DPoPKey()
    issued = AccessToken.objects.create(
        application=app, token=secrets.token_urlsafe(32), expires=timezone.now() + timedelta(hours=1), scope="hello"
    )
    DPoPBinding.objects.create(access_token=issued, jkt=key.jkt)
    refresh_token = secrets.token_urlsafe(32)
    RefreshToken.objects.create(
        application=app,
        user=resource_owner_upsert(authorization_server="default", subject="alice"),
        token=refresh_token,
        access_token=issued,
    )

    def refresh(by: DPoPKey) -> requests.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app.client_id}
        return requests.post(
            gateway.token_url, data=form, headers={"DPoP": by.proof("POST", gateway.token_url)}, timeout=30
        )

    response = refresh(DPoPKey())

    _assert_error(response, 401, "invalid_grant")
    assert AuditEvent.objects.filter(outcome="dpop_key_mismatch").count() == 1
    assert refresh(key).json()["token_type"] == "DPoP"


def test_dpop_proofs_that_cannot_be_checked_for_replay_are_503(gateway, transactional_db, monkeypatch):
    def claim(key, *, timeout):
        raise SharedStateUnavailable("test: Redis is down")

    monkeypatch.setattr(shared_state, "claim", claim)
    app = ApplicationFactory(grant_types="client_credentials")

    response = _dpop_token(gateway, app, DPoPKey().proof("POST", gateway.token_url))

    _assert_error(response, 503, "temporarily_unavailable")
    assert int(response.headers["Retry-After"]) > 0


def test_a_signing_key_no_encryption_key_opens_is_503_temporarily_unavailable(gateway, transactional_db, settings):
    app = ApplicationFactory(token_format="jwt", grant_types="client_credentials")
    assert gateway.token(app.client_id, app.raw_secret, grant_type="client_credentials").status_code == 200
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    signing_keys.forget()  # a restart with the wrong key

    response = gateway.token(app.client_id, app.raw_secret, grant_type="client_credentials")

    _assert_error(response, 503, "temporarily_unavailable")
    assert response.headers["Retry-After"]


def test_unreachable_upstream_is_503_temporarily_unavailable_not_401(gateway, app_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": f"http://127.0.0.1:{free_port()}/token"}

    response = gateway.token(app_client.client_id, app_client.raw_secret, **PASSWORD_FORM)

    _assert_error(response, 503, "temporarily_unavailable")
    assert int(response.headers["Retry-After"]) > 0


def test_silent_upstream_is_503_within_the_timeout_plus_one_second(gateway, app_client, settings):
    silent = FaultyServer(serve_nothing)
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": silent.url, "UPSTREAM_TIMEOUT": 1.0}
    started = time.monotonic()
    response = gateway.token(app_client.client_id, app_client.raw_secret, **PASSWORD_FORM)
    elapsed = time.monotonic() - started
    silent.close()

    _assert_error(response, 503, "temporarily_unavailable")
    assert elapsed < 2.0
