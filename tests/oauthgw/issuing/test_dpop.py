"""DPoP at the token endpoint (RFC 9449 sections 5 and 8), as clients see it: what a proof binds, who needs one.

Every request goes through the real token endpoint with Django's test client and
proofs made by ``tests.support.dpop`` (its own RFC 7638 thumbprints); the
upstream is stubbed at the gateway's client boundary.
"""

import hashlib
import logging
import time
from urllib.parse import urlencode

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.caching import shared_state
from oauthgw.exceptions import SharedStateUnavailable
from oauthgw.models import AuditEvent, DPoPBinding
from tests.oauthgw.code_flow import code_client, sign_in_for_code
from tests.oauthgw.conftest import FORM, PASSWORD, TOKEN_URL, USERNAME, basic_authorization
from tests.support.dpop import OMIT, DPoPKey, nonce_elsewhere

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

# The token endpoint's URL as the test client's requests reach it (no OAUTHGW_ISSUER in unit tests).
HTU = "http://testserver/oauth2/token"


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey("ES256")


@pytest.fixture(scope="module")
def other_key() -> DPoPKey:
    return DPoPKey("ES256")


@pytest.fixture
def dpop_settings(settings):
    """Change gateway settings for one test, keeping the stubbed upstream's."""

    def change(**values):
        settings.OAUTHGW = {**settings.OAUTHGW, **values}

    return change


def post(client, form: dict, *, app=None, proof: str | None = None, **extra):
    if app is not None and not app.is_public:
        extra.setdefault("HTTP_AUTHORIZATION", basic_authorization(app.client_id, app.raw_secret))
    elif app is not None:
        form = {"client_id": app.client_id, **form}
    if proof is not None:
        extra["HTTP_DPOP"] = proof
    return client.post(TOKEN_URL, urlencode(form), content_type=FORM, **extra)


def password_form(**extra) -> dict:
    return {"grant_type": "password", "username": USERNAME, "password": PASSWORD, **extra}


def binding_of(access_token: str) -> str | None:
    """The thumbprint stored for the token the gateway issued as ``access_token``."""
    row = AccessToken.objects.get(token_checksum=hashlib.sha256(access_token.encode()).hexdigest())
    return DPoPBinding.objects.filter(access_token=row).values_list("jkt", flat=True).first()


def exchange_code(client, authorization, code: str, *, proof: str | None = None):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier,
    }
    return post(client, form, app=authorization.app, proof=proof)


def assert_dpop_error(response, error: str = "invalid_dpop_proof", status: int = 400) -> dict:
    assert response.status_code == status, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    return body


# --- What a proof binds -------------------------------------------------------------------


def test_a_client_credentials_request_with_a_proof_gets_a_dpop_token_bound_to_the_key(client, make_client, key):
    app = make_client()

    response = post(client, {"grant_type": "client_credentials"}, app=app, proof=key.proof("POST", HTU))

    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    assert binding_of(response.json()["access_token"]) == key.jkt


def test_without_a_proof_an_optional_client_gets_a_bearer_token_bound_to_nothing(client, make_client):
    app = make_client()

    response = post(client, {"grant_type": "client_credentials"}, app=app)

    assert response.json()["token_type"] == "Bearer"
    assert binding_of(response.json()["access_token"]) is None


def test_a_password_login_with_a_proof_binds_its_access_token(client, make_client, upstream, key):
    app = make_client()
    upstream.accepts()

    response = post(client, password_form(), app=app, proof=key.proof("POST", HTU))

    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    assert response.json()["refresh_token"]
    assert binding_of(response.json()["access_token"]) == key.jkt


def test_a_code_exchanged_with_a_proof_gives_a_bound_pair(client, upstream, key):
    app = code_client(client_type="public")
    authorization, callback = sign_in_for_code(client, upstream, app)

    response = exchange_code(client, authorization, callback["code"], proof=key.proof("POST", HTU))

    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    assert binding_of(response.json()["access_token"]) == key.jkt


def test_a_jwt_access_token_carries_the_key_thumbprint_as_cnf_jkt(client, make_client, key):
    app = make_client(token_format="jwt")

    response = post(client, {"grant_type": "client_credentials"}, app=app, proof=key.proof("POST", HTU))

    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": key.jkt}
    assert binding_of(response.json()["access_token"]) == key.jkt


def test_a_bearer_jwt_has_no_cnf(client, make_client):
    app = make_client(token_format="jwt")

    response = post(client, {"grant_type": "client_credentials"}, app=app)

    assert "cnf" not in jwt.decode(response.json()["access_token"], options={"verify_signature": False})


def test_the_proof_must_name_the_issuer_url_when_one_is_configured(client, make_client, key, dpop_settings):
    dpop_settings(ISSUER="https://auth.example.com")
    app = make_client()
    form = {"grant_type": "client_credentials"}

    as_the_host_says = post(client, form, app=app, proof=key.proof("POST", HTU))
    as_the_metadata_says = post(client, form, app=app, proof=key.proof("POST", "https://auth.example.com/oauth2/token"))

    assert "htu" in assert_dpop_error(as_the_host_says)["error_description"]
    assert as_the_metadata_says.json()["token_type"] == "DPoP"


def test_the_token_endpoint_with_a_trailing_slash_takes_proofs_for_its_own_url(client, make_client, key):
    app = make_client()

    response = client.post(
        f"{TOKEN_URL}/",
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        HTTP_DPOP=key.proof("POST", f"{HTU}/"),
    )

    assert response.json()["token_type"] == "DPoP"


# --- Per-client modes ---------------------------------------------------------------------


def test_a_required_client_without_a_proof_is_refused_before_the_upstream_is_asked(client, make_client, upstream):
    app = make_client(dpop="required")

    response = post(client, password_form(), app=app)

    assert "must send a DPoP proof" in assert_dpop_error(response)["error_description"]
    assert upstream.calls == []
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("grant_type", ["client_credentials", "refresh_token"])
def test_a_required_client_without_a_proof_gets_no_token_by_any_grant(client, make_client, grant_type):
    app = make_client(dpop="required")

    response = post(client, {"grant_type": grant_type, "refresh_token": "whatever"}, app=app)

    assert_dpop_error(response)


def test_a_required_client_with_a_proof_gets_its_token(client, make_client, key):
    app = make_client(dpop="required")

    response = post(client, {"grant_type": "client_credentials"}, app=app, proof=key.proof("POST", HTU))

    assert response.json()["token_type"] == "DPoP"


def test_a_client_set_to_off_ignores_the_header_even_a_broken_one(client, make_client, key):
    app = make_client(dpop="off")

    response = post(client, {"grant_type": "client_credentials"}, app=app, proof="not a proof")

    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer"
    assert binding_of(response.json()["access_token"]) is None


def test_public_clients_may_all_be_required_to_use_dpop_by_a_setting(client, upstream, dpop_settings, key):
    dpop_settings(DPOP_REQUIRED_FOR_PUBLIC_CLIENTS=True)
    app = code_client(client_type="public", dpop="off")
    authorization, callback = sign_in_for_code(client, upstream, app)

    refused = exchange_code(client, authorization, callback["code"])

    assert_dpop_error(refused)


def test_the_setting_leaves_confidential_clients_alone(client, make_client, dpop_settings):
    dpop_settings(DPOP_REQUIRED_FOR_PUBLIC_CLIENTS=True)

    response = post(client, {"grant_type": "client_credentials"}, app=make_client())

    assert response.json()["token_type"] == "Bearer"


def test_an_unknown_client_with_a_broken_proof_is_told_about_the_client(client, key):
    response = client.post(
        TOKEN_URL,
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization("nobody", "secret"),
        HTTP_DPOP="not a proof",
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


# --- Bad proofs: invalid_dpop_proof, one log line, never a 500 -------------------------------


def huge_jwk_proof(key: DPoPKey) -> str:
    return key.proof("POST", HTU, header={"jwk": {**key.jwk, "padding": "x" * 9000}})


BAD_PROOFS = {
    "malformed": lambda key: "eyJ.not-a-jwt",
    "three garbage parts": lambda key: "a.b.c",
    "two proofs": lambda key: f"{key.proof('POST', HTU)}, {key.proof('POST', HTU)}",
    "a huge jwk": huge_jwk_proof,
    "alg none": lambda key: key.proof("POST", HTU, header={"alg": "none"}),
    "a symmetric alg": lambda key: key.proof("POST", HTU, header={"alg": "HS256"}),
    "a private key in the jwk": lambda key: key.proof(
        "POST", HTU, header={"jwk": {**key.jwk, "d": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}
    ),
    "from the future": lambda key: key.proof("POST", HTU, iat=int(time.time()) + 3600),
    "too old": lambda key: key.proof("POST", HTU, iat=int(time.time()) - 3600),
    "another method": lambda key: key.proof("GET", HTU),
    "another URL": lambda key: key.proof("POST", "http://testserver/oauth2/revoke"),
    "no jti": lambda key: key.proof("POST", HTU, jti=OMIT),
    "wrong typ": lambda key: key.proof("POST", HTU, header={"typ": "JWT"}),
    "a signature by another key": lambda key: DPoPKey("ES256").sign(key.header(), key.claims("POST", HTU)),
}


@pytest.mark.parametrize("name", BAD_PROOFS)
def test_a_bad_proof_is_invalid_dpop_proof_with_one_log_line(client, make_client, key, caplog, name):
    app = make_client()
    caplog.set_level(logging.INFO, logger="oauthgw.dpop.proofs")

    response = post(client, {"grant_type": "client_credentials"}, app=app, proof=BAD_PROOFS[name](key))

    assert_dpop_error(response)
    assert len([record for record in caplog.records if record.name == "oauthgw.dpop.proofs"]) == 1
    assert not AccessToken.objects.exists()


def test_a_replayed_proof_is_refused(client, make_client, key):
    app = make_client()
    proof = key.proof("POST", HTU)
    assert post(client, {"grant_type": "client_credentials"}, app=app, proof=proof).status_code == 200

    replayed = post(client, {"grant_type": "client_credentials"}, app=app, proof=proof)

    assert "used before" in assert_dpop_error(replayed)["error_description"]


def test_a_refused_grant_does_not_free_its_proof_for_a_replay(client, make_client, upstream, key):
    # The proof is checked before the grant's transaction: a rolled back grant keeps its mark.
    app = make_client()
    upstream.rejects()
    proof = key.proof("POST", HTU)
    assert post(client, password_form(), app=app, proof=proof).json()["error"] == "invalid_grant"

    upstream.accepts()
    replayed = post(client, password_form(), app=app, proof=proof)

    assert_dpop_error(replayed)


def test_the_replay_store_down_is_503_with_retry_after(client, make_client, key, monkeypatch):
    def claim(key, *, timeout):
        raise SharedStateUnavailable("test: Redis is down")

    monkeypatch.setattr(shared_state, "claim", claim)

    response = post(client, {"grant_type": "client_credentials"}, app=make_client(), proof=key.proof("POST", HTU))

    assert_dpop_error(response, "temporarily_unavailable", 503)
    assert int(response["Retry-After"]) >= 1
    assert AuditEvent.objects.get().outcome == "dpop_replay_check_unavailable"


# --- Server nonces (section 8) ------------------------------------------------------------


def test_with_nonces_required_a_proof_without_one_gets_use_dpop_nonce_and_a_nonce(
    client, make_client, key, dpop_settings
):
    dpop_settings(DPOP_NONCE_REQUIRED=True)
    app = make_client()

    first = post(client, {"grant_type": "client_credentials"}, app=app, proof=key.proof("POST", HTU))
    assert_dpop_error(first, "use_dpop_nonce")
    nonce = first["DPoP-Nonce"]
    second = post(client, {"grant_type": "client_credentials"}, app=app, proof=key.proof("POST", HTU, nonce=nonce))

    assert second.status_code == 200, second.content
    assert second.json()["token_type"] == "DPoP"
    # Section 8.2: the next nonce comes with the answer, so the client need not be refused again.
    assert second["DPoP-Nonce"]


def test_a_nonce_issued_by_another_process_is_accepted(client, make_client, key, dpop_settings):
    dpop_settings(DPOP_NONCE_REQUIRED=True)

    response = post(
        client,
        {"grant_type": "client_credentials"},
        app=make_client(),
        proof=key.proof("POST", HTU, nonce=nonce_elsewhere()),
    )

    assert response.json()["token_type"] == "DPoP"


def test_a_forged_nonce_gets_use_dpop_nonce(client, make_client, key, dpop_settings):
    dpop_settings(DPOP_NONCE_REQUIRED=True)

    response = post(
        client,
        {"grant_type": "client_credentials"},
        app=make_client(),
        proof=key.proof("POST", HTU, nonce="ffffffff.AAAAAAAAAAAAAAAAAAAAAA"),
    )

    assert_dpop_error(response, "use_dpop_nonce")
    assert response["DPoP-Nonce"]


def test_without_nonces_required_answers_carry_no_nonce(client, make_client, key):
    response = post(client, {"grant_type": "client_credentials"}, app=make_client(), proof=key.proof("POST", HTU))

    assert "DPoP-Nonce" not in response


# --- Refresh tokens -----------------------------------------------------------------------


def public_login(client, upstream, key: DPoPKey | None) -> dict:
    app = code_client(client_type="public")
    authorization, callback = sign_in_for_code(client, upstream, app)
    response = exchange_code(client, authorization, callback["code"], proof=key.proof("POST", HTU) if key else None)
    assert response.status_code == 200, response.content
    return {"app": app, **response.json()}


def refresh(client, tokens: dict, *, proof: str | None = None):
    return post(
        client,
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        app=tokens["app"],
        proof=proof,
    )


def test_a_public_clients_bound_refresh_token_refreshes_with_its_key_and_stays_bound(client, upstream, key):
    tokens = public_login(client, upstream, key)

    refreshed = refresh(client, tokens, proof=key.proof("POST", HTU))
    bound_to = binding_of(refreshed.json()["access_token"])
    again = refresh(client, {**tokens, **refreshed.json()}, proof=key.proof("POST", HTU))

    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["token_type"] == "DPoP"
    assert bound_to == key.jkt
    assert again.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("presented", ["another key", "no proof"])
def test_a_stolen_bound_refresh_token_is_useless_without_the_key(client, upstream, key, other_key, presented):
    tokens = public_login(client, upstream, key)
    proof = other_key.proof("POST", HTU) if presented == "another key" else None

    stolen = refresh(client, tokens, proof=proof)

    assert stolen.status_code == 401
    assert stolen.json()["error"] == "invalid_grant"
    assert AuditEvent.objects.filter(outcome="dpop_key_mismatch").count() == 1
    # The thief learnt nothing and spoilt nothing: the client's own refresh still works.
    assert refresh(client, tokens, proof=key.proof("POST", HTU)).status_code == 200


def test_a_bound_refresh_token_is_refused_before_the_session_asks_the_upstream(client, upstream, key, dpop_settings):
    tokens = public_login(client, upstream, key)
    dpop_settings(UPSTREAM_REVERIFY="always")
    calls = len(upstream.calls)

    assert refresh(client, tokens).status_code == 401
    assert len(upstream.calls) == calls


def test_a_public_clients_unbound_refresh_token_becomes_bound_when_refreshed_with_a_proof(client, upstream, key):
    tokens = public_login(client, upstream, None)
    assert tokens["token_type"] == "Bearer"

    refreshed = refresh(client, tokens, proof=key.proof("POST", HTU)).json()

    assert refreshed["token_type"] == "DPoP"
    assert refresh(client, {**tokens, **refreshed}).status_code == 401


def test_a_confidential_clients_refresh_token_is_not_bound_but_each_access_token_is(
    client, make_client, upstream, key, other_key
):
    # RFC 9449 section 5: client authentication already sender-constrains it; the client may change keys.
    app = make_client()
    upstream.accepts()
    login = post(client, password_form(), app=app, proof=key.proof("POST", HTU)).json()

    with_another_key = post(
        client,
        {"grant_type": "refresh_token", "refresh_token": login["refresh_token"]},
        app=app,
        proof=other_key.proof("POST", HTU),
    ).json()
    bound_to = binding_of(with_another_key["access_token"])
    without_a_proof = post(
        client, {"grant_type": "refresh_token", "refresh_token": with_another_key["refresh_token"]}, app=app
    ).json()

    assert with_another_key["token_type"] == "DPoP"
    assert bound_to == other_key.jkt
    assert without_a_proof["token_type"] == "Bearer"


def test_a_replayed_bound_refresh_token_still_revokes_its_family(client, upstream, key, dpop_settings):
    dpop_settings(REFRESH_REUSE_INTERVAL=0)
    tokens = public_login(client, upstream, key)
    refreshed = refresh(client, tokens, proof=key.proof("POST", HTU)).json()

    replayed = refresh(client, tokens, proof=key.proof("POST", HTU))

    assert replayed.json()["error"] == "invalid_grant"
    assert refresh(client, {**tokens, **refreshed}, proof=key.proof("POST", HTU)).json()["error"] == "invalid_grant"


# --- Metadata and CORS --------------------------------------------------------------------


def test_the_metadata_lists_the_proof_algorithms(client, dpop_settings):
    dpop_settings(DPOP_SIGNING_ALGORITHMS="ES256,EdDSA")

    document = client.get("/.well-known/oauth-authorization-server").json()

    assert document["dpop_signing_alg_values_supported"] == ["ES256", "EdDSA"]


def test_a_browser_app_may_send_a_proof_and_read_the_nonce(client, upstream):
    code_client(client_type="public", allowed_origins="https://app.example")

    preflight = client.options(TOKEN_URL, HTTP_ORIGIN="https://app.example")

    assert "DPoP" in [name.strip() for name in preflight["Access-Control-Allow-Headers"].split(",")]


def test_an_answer_to_a_registered_origin_exposes_the_nonce(client, key, dpop_settings):
    dpop_settings(DPOP_NONCE_REQUIRED=True)
    app = code_client(client_type="public", allowed_origins="https://app.example")

    response = post(
        client,
        {"grant_type": "refresh_token", "refresh_token": "x"},
        app=app,
        proof=key.proof("POST", HTU),
        HTTP_ORIGIN="https://app.example",
    )

    assert response.json()["error"] == "use_dpop_nonce"
    assert "DPoP-Nonce" in response["Access-Control-Expose-Headers"]


def test_a_dpop_token_request_reads_its_client_once(client, make_client, key):
    app = make_client()

    with CaptureQueriesContext(connection) as captured:
        response = post(client, {"grant_type": "client_credentials"}, app=app, proof=key.proof("POST", HTU))

    assert response.json()["token_type"] == "DPoP"
    client_reads = [query for query in captured.captured_queries if 'FROM "oauthgw_application"' in query["sql"]]
    assert len(client_reads) == 1
