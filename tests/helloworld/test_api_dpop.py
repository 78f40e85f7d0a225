"""``GET /helloworld/`` with DPoP-bound tokens (RFC 9449 section 7): the token, its proof, and the challenges.

Tokens come from the real token endpoint with a proof (client_credentials);
proofs for the API are made by ``tests.support.dpop``.
"""

import logging
from urllib.parse import urlencode

import pytest

from oauthgw.caching import shared_state
from oauthgw.dpop.keys import signing_algorithms
from oauthgw.exceptions import SharedStateUnavailable
from tests.oauthgw.conftest import FORM, TOKEN_URL, basic_authorization
from tests.support.dpop import DPoPKey, nonce_elsewhere

pytestmark = pytest.mark.django_db

URL = "/helloworld/"
HTU = "http://testserver/helloworld/"
ALGS = f'algs="{" ".join(signing_algorithms())}"'


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey("ES256")


@pytest.fixture
def gateway_settings(settings):
    def change(**values):
        settings.OAUTHGW = {**settings.OAUTHGW, **values}

    return change


def issue(client, app, key: DPoPKey | None) -> str:
    """An access token from the token endpoint, bound to ``key`` when given."""
    extra = {"HTTP_DPOP": key.proof("POST", f"http://testserver{TOKEN_URL}")} if key is not None else {}
    response = client.post(
        TOKEN_URL,
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        **extra,
    )
    assert response.json()["token_type"] == ("DPoP" if key is not None else "Bearer"), response.content
    return response.json()["access_token"]


@pytest.fixture
def bound_token(client, make_client, key) -> str:
    return issue(client, make_client(), key)


def call(client, token: str, *, scheme: str = "DPoP", proof: str | None = None, method: str = "get"):
    extra = {"HTTP_AUTHORIZATION": f"{scheme} {token}"}
    if proof is not None:
        extra["HTTP_DPOP"] = proof
    return getattr(client, method)(URL, **extra)


def assert_refused(response, error: str, *, scheme: str = "DPoP") -> str:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == error
    challenge = response["WWW-Authenticate"]
    # The error is in the challenge of the scheme the request used; both schemes are offered.
    bearer, dpop = challenge.split(", DPoP ")
    assert bearer.startswith('Bearer realm="api"')
    assert dpop.endswith(ALGS)
    assert f'error="{error}"' in (dpop if scheme == "DPoP" else bearer)
    return response.json()["error_description"]


def test_a_bound_token_with_a_proof_of_its_key_opens_the_api(client, bound_token, key):
    response = call(client, bound_token, proof=key.proof("GET", HTU, access_token=bound_token))

    assert response.status_code == 200, response.content
    assert response.json()["message"] == "Hello, World!"


def test_a_bound_token_presented_as_bearer_is_refused(client, bound_token, key):
    # RFC 9449 section 7.2: no downgrade to a bearer token, whatever proof comes with it.
    response = call(client, bound_token, scheme="Bearer", proof=key.proof("GET", HTU, access_token=bound_token))

    assert "DPoP" in assert_refused(response, "invalid_token", scheme="Bearer")


def test_a_bearer_token_presented_with_the_dpop_scheme_is_refused(client, make_client, key):
    token = issue(client, make_client(), None)

    response = call(client, token, proof=key.proof("GET", HTU, access_token=token))

    assert "Bearer" in assert_refused(response, "invalid_token")


def test_the_bearer_token_still_opens_the_api_as_bearer(client, make_client):
    token = issue(client, make_client(), None)

    assert call(client, token, scheme="Bearer").status_code == 200


BAD = {
    "no proof": lambda key, token: None,
    "another method": lambda key, token: key.proof("POST", HTU, access_token=token),
    "another URL": lambda key, token: key.proof("GET", "http://testserver/elsewhere/", access_token=token),
    "no ath": lambda key, token: key.proof("GET", HTU),
    "the ath of another token": lambda key, token: key.proof("GET", HTU, access_token=token + "x"),
    "another key": lambda key, token: DPoPKey("ES256").proof("GET", HTU, access_token=token),
    "garbage": lambda key, token: "not.a.proof",
    "alg none": lambda key, token: key.proof("GET", HTU, access_token=token, header={"alg": "none"}),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_proof_is_invalid_dpop_proof_in_the_dpop_challenge(client, bound_token, key, caplog, name):
    caplog.set_level(logging.INFO, logger="oauthgw.dpop.proofs")

    response = call(client, bound_token, proof=BAD[name](key, bound_token))

    assert_refused(response, "invalid_dpop_proof")
    assert len([record for record in caplog.records if record.name == "oauthgw.dpop.proofs"]) == 1


def test_a_replayed_proof_is_refused(client, bound_token, key):
    proof = key.proof("GET", HTU, access_token=bound_token)
    assert call(client, bound_token, proof=proof).status_code == 200

    replayed = call(client, bound_token, proof=proof)

    assert "used before" in assert_refused(replayed, "invalid_dpop_proof")


def test_a_stolen_bound_token_is_useless_to_whoever_has_not_the_key(client, bound_token):
    thief = DPoPKey("ES256")

    for scheme, proof in (("DPoP", thief.proof("GET", HTU, access_token=bound_token)), ("Bearer", None)):
        assert call(client, bound_token, scheme=scheme, proof=proof).status_code == 401


def test_a_bad_token_is_refused_before_its_proof_is_spent(client, key):
    proof = key.proof("GET", HTU, access_token="unknown-token")

    assert_refused(call(client, "unknown-token", proof=proof), "invalid_token")


def test_a_proof_must_name_the_issuer_url_when_one_is_configured(client, make_client, key, gateway_settings):
    gateway_settings(ISSUER="https://auth.example.com")
    app = make_client()
    response = client.post(
        TOKEN_URL,
        urlencode({"grant_type": "client_credentials"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic_authorization(app.client_id, app.raw_secret),
        HTTP_DPOP=key.proof("POST", "https://auth.example.com/oauth2/token"),
    )
    token = response.json()["access_token"]

    by_host = call(client, token, proof=key.proof("GET", HTU, access_token=token))
    by_issuer = call(client, token, proof=key.proof("GET", "https://auth.example.com/helloworld/", access_token=token))

    assert_refused(by_host, "invalid_dpop_proof")
    assert by_issuer.status_code == 200, by_issuer.content


def test_a_malformed_dpop_header_is_invalid_request_in_the_dpop_challenge(client):
    response = client.get(URL, HTTP_AUTHORIZATION="DPoP a b")

    assert response.status_code == 400
    assert response["WWW-Authenticate"] == f'Bearer realm="api", DPoP error="invalid_request", {ALGS}'


def test_a_missing_scope_is_told_in_the_dpop_challenge(client, make_client, key):
    token = issue(client, make_client(allowed_scopes="other", default_scopes="other"), key)

    response = call(client, token, proof=key.proof("GET", HTU, access_token=token))

    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", DPoP error="insufficient_scope", scope="hello", {ALGS}'
    )


# --- Nonces at the API (section 9) --------------------------------------------------------


def test_with_nonces_required_the_api_answers_use_dpop_nonce_with_one(client, bound_token, key, gateway_settings):
    gateway_settings(DPOP_API_NONCE_REQUIRED=True)

    first = call(client, bound_token, proof=key.proof("GET", HTU, access_token=bound_token))
    assert_refused(first, "use_dpop_nonce")
    second = call(client, bound_token, proof=key.proof("GET", HTU, access_token=bound_token, nonce=first["DPoP-Nonce"]))

    assert second.status_code == 200, second.content


def test_the_api_accepts_a_nonce_another_process_issued(client, bound_token, key, gateway_settings):
    gateway_settings(DPOP_API_NONCE_REQUIRED=True)

    response = call(client, bound_token, proof=key.proof("GET", HTU, access_token=bound_token, nonce=nonce_elsewhere()))

    assert response.status_code == 200, response.content


def test_nonces_at_the_token_endpoint_do_not_make_the_api_require_them(client, bound_token, key, gateway_settings):
    gateway_settings(DPOP_NONCE_REQUIRED=True)

    assert call(client, bound_token, proof=key.proof("GET", HTU, access_token=bound_token)).status_code == 200


def test_the_replay_store_down_is_503_with_retry_after(client, bound_token, key, monkeypatch):
    def claim(key, *, timeout):
        raise SharedStateUnavailable("test: Redis is down")

    monkeypatch.setattr(shared_state, "claim", claim)

    response = call(client, bound_token, proof=key.proof("GET", HTU, access_token=bound_token))

    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response["Retry-After"]) >= 1
