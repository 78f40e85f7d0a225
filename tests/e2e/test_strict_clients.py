"""Strict JavaScript client libraries against the live gateway (tests/js/strict_clients.mjs).

oauth4webapi raises on any 401 challenge before it reads the body, so what it can
tell an application is what the ``WWW-Authenticate`` header says. The packages are
pinned in tests/js/package-lock.json and installed by scripts/install-js-deps.sh
(run by ``make test``).
"""

import json
import shutil
import subprocess

import pytest

from tests.e2e.conftest import PASSWORD, USER
from tests.support.processes import ROOT

pytestmark = pytest.mark.e2e

SCRIPT = ROOT / "tests" / "js" / "strict_clients.mjs"
NODE_MODULES = ROOT / "tests" / "js" / "node_modules"


@pytest.fixture
def strict_clients(gateway, app_client) -> dict:
    node = shutil.which("node")
    installed = node and (NODE_MODULES / "oauth4webapi").is_dir()
    assert installed, "node or the JavaScript clients are missing: run scripts/install-js-deps.sh"
    finished = subprocess.run(
        [node, str(SCRIPT), gateway.url, app_client.client_id, app_client.raw_secret, USER, PASSWORD],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_oauth4webapi_discovers_gets_refreshes_and_revokes_tokens(strict_clients, gateway):
    seen = strict_clients["oauth4webapi"]

    assert "unexpected" not in seen, seen
    assert seen["discovery"]["token_endpoint"] == gateway.token_url
    assert seen["password"] == {"token_type": "bearer", "refresh_token": True}
    assert seen["refresh"] == {"new_access_token": True}
    assert (seen["hello_before_revocation"], seen["hello_after_revocation"]) == (200, 401)


def test_oauth4webapi_tells_a_wrong_password_from_a_wrong_client_secret_by_the_challenge(strict_clients):
    seen = strict_clients["oauth4webapi"]

    assert seen["wrong_password"] == {
        "raised": "WWWAuthenticateChallengeError",
        "status": 401,
        "scheme": "basic",
        "challenge_error": "invalid_grant",
    }
    assert seen["wrong_client_secret"] == {
        "raised": "WWWAuthenticateChallengeError",
        "status": 401,
        "scheme": "basic",
        "challenge_error": "invalid_client",
    }


def test_simple_oauth2_runs_its_whole_flow_and_sees_both_refusals(strict_clients):
    seen = strict_clients["simple_oauth2"]

    assert "unexpected" not in seen, seen
    assert (seen["hello_before_revocation"], seen["hello_after_revocation"]) == (200, 401)
    assert seen["wrong_password"] == {
        "status": 401,
        "www_authenticate": 'Basic realm="oauthgw", charset="UTF-8", error="invalid_grant"',
        "body_error": "invalid_grant",
    }
    assert seen["wrong_client_secret"]["www_authenticate"].endswith('error="invalid_client"')
    assert seen["wrong_client_secret"]["body_error"] == "invalid_client"
