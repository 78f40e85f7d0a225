"""APIs in other processes verify the gateway's JWT access tokens alone: PyJWT in Python, jose in Node.

Each is a separate process that knows nothing of Django (tests/support/
external_resource_server.py, tests/js/external_resource_server.mjs): it reads the
live gateway's metadata, fetches the JWKS over HTTP and verifies. Each case
below must be refused for its own reason, not merely refused.
"""

import json
import shutil
import subprocess
import sys
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from tests.factories import ApplicationFactory
from tests.oauthgw.jwt_helpers import reassembled, segments
from tests.support.processes import ROOT

pytestmark = pytest.mark.e2e

PYTHON_VERIFIER = ROOT / "tests" / "support" / "external_resource_server.py"
NODE_VERIFIER = ROOT / "tests" / "js" / "external_resource_server.mjs"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"


def client_credentials_token(gateway, app) -> str:
    response = gateway.token(app.client_id, app.raw_secret, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def tokens(gateway, transactional_db) -> dict[str, str]:
    """A fresh token (for the default audience, HelloWorld's) and one of each kind an API must refuse."""
    app = ApplicationFactory(token_format="jwt", grant_types="client_credentials")
    short_lived = ApplicationFactory(token_format="jwt", grant_types="client_credentials", access_token_lifetime=1)
    elsewhere = ApplicationFactory(
        token_format="jwt", grant_types="client_credentials", audience="https://payroll.example"
    )
    fresh = client_credentials_token(gateway, app)
    expired = client_credentials_token(gateway, short_lived)
    header, payload, signature = segments(fresh)
    stranger = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "fresh": fresh,
        "expired": expired,
        "other_audience": client_credentials_token(gateway, elsewhere),
        "unknown_key": jwt.encode(payload, stranger, algorithm="ES256", headers={"typ": "at+jwt", "kid": "unknown"}),
        "alg_none": reassembled({**header, "alg": "none"}, payload, ""),
        "tampered_payload": reassembled(header, {**payload, "scope": "hello admin"}, signature),
    }
    # The verifiers allow no clock skew: one second past exp is expired.
    time.sleep(max(0.0, segments(expired)[1]["exp"] + 1.1 - time.time()))
    return cases


def verdicts(command: list[str], tokens: dict[str, str]) -> dict[str, str]:
    finished = subprocess.run(command, input=json.dumps(tokens), capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_pyjwt_in_another_process_accepts_a_fresh_token_and_refuses_each_bad_one(gateway, tokens):
    # -I: isolated, so the project is not even importable; only the gateway's URL is shared.
    command = [sys.executable, "-I", str(PYTHON_VERIFIER), gateway.url, settings.HELLOWORLD_AUDIENCE]

    assert verdicts(command, tokens) == {
        "fresh": "accepted",
        "expired": "ExpiredSignatureError",
        "other_audience": "InvalidAudienceError",
        "unknown_key": "PyJWKClientError",
        "alg_none": "InvalidAlgorithmError",
        "tampered_payload": "InvalidSignatureError",
    }


def test_jose_in_node_accepts_a_fresh_token_and_refuses_each_bad_one(gateway, tokens):
    node = shutil.which("node")
    assert node and (NODE_MODULES / "jose").is_dir(), "node or jose is missing: run scripts/install-js-deps.sh"

    assert verdicts([node, str(NODE_VERIFIER), gateway.url, settings.HELLOWORLD_AUDIENCE], tokens) == {
        "fresh": "accepted",
        "expired": "ERR_JWT_EXPIRED",
        "other_audience": "ERR_JWT_CLAIM_VALIDATION_FAILED",
        "unknown_key": "ERR_JWKS_NO_MATCHING_KEY",
        "alg_none": "ERR_JOSE_ALG_NOT_ALLOWED",
        "tampered_payload": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    }


def test_the_audience_an_api_names_is_the_one_it_accepts(gateway, transactional_db):
    app = ApplicationFactory(token_format="jwt", grant_types="client_credentials", audience="https://payroll.example")
    token = client_credentials_token(gateway, app)
    command = [sys.executable, "-I", str(PYTHON_VERIFIER), gateway.url, "https://payroll.example"]

    assert verdicts(command, {"payroll": token}) == {"payroll": "accepted"}
