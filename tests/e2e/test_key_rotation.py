"""Signing-key rotation end to end, with seconds instead of hours, checked by an API in another process.

A rotation publishes the new key at once and signs with it only after the
publishing delay; tokens the old key signed keep verifying until they expire;
the old key leaves the JWKS only once the last of them has expired.
"""

import io
import json
import subprocess
import sys
import time
from datetime import timedelta

import jwt
import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from oauthgw.issuing import key_rotation
from oauthgw.models import SigningKey
from tests.e2e.test_external_verifiers import PYTHON_VERIFIER, client_credentials_token
from tests.factories import ApplicationFactory

pytestmark = pytest.mark.e2e

PUBLISH_SECONDS = 3
LIFETIME = 6
LEEWAY = timedelta(seconds=1)


def kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def published(gateway) -> set[str]:
    return {key["kid"] for key in requests.get(f"{gateway.url}/.well-known/jwks.json", timeout=10).json()["keys"]}


def external_verdicts(gateway, **tokens: str) -> dict[str, str]:
    # As an API behind the gateway verifies alone: for the default audience, HelloWorld's.
    finished = subprocess.run(
        [sys.executable, "-I", str(PYTHON_VERIFIER), gateway.url, settings.HELLOWORLD_AUDIENCE],
        input=json.dumps(tokens),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def sleep_until(moment) -> None:
    time.sleep(max(0.0, moment.timestamp() - time.time()))


def test_rotation_publishes_first_signs_later_and_unpublishes_after_the_last_token(
    gateway, settings, monkeypatch, transactional_db
):
    settings.OAUTHGW = {
        **settings.OAUTHGW,
        "SIGNING_KEY_PUBLISH_SECONDS": PUBLISH_SECONDS,
        "JWKS_MAX_AGE": 1,
        "JWT_ACCESS_TOKEN_SECONDS": LIFETIME,
    }
    monkeypatch.setattr(key_rotation, "CLOCK_LEEWAY", LEEWAY)
    app = ApplicationFactory(token_format="jwt", grant_types="client_credentials")
    before = client_credentials_token(gateway, app)
    old_kid = kid(before)

    call_command("rotate_signing_key", stdout=io.StringIO())
    new = SigningKey.objects.order_by("-generation").first()
    old = SigningKey.objects.get(kid=old_kid)

    # Published at once, signing only after the delay: meanwhile the old key signs.
    assert published(gateway) == {old_kid, new.kid}
    during = client_credentials_token(gateway, app)
    assert kid(during) == old_kid

    sleep_until(new.signing_from + timedelta(milliseconds=200))
    after = client_credentials_token(gateway, app)
    assert kid(after) == new.kid
    assert external_verdicts(gateway, before=before, during=during, after=after) == dict.fromkeys(
        ("before", "during", "after"), "accepted"
    )

    # The old key's last token expires; the key is still published, the token refused for its age.
    sleep_until(new.signing_from + timedelta(seconds=LIFETIME, milliseconds=500))
    assert old.published_until > new.signing_from + timedelta(seconds=LIFETIME)
    assert old_kid in published(gateway)
    assert external_verdicts(gateway, during=during) == {"during": "ExpiredSignatureError"}

    # Only then does it leave the JWKS.
    sleep_until(old.published_until + timedelta(milliseconds=200))
    assert published(gateway) == {new.kid}
    assert external_verdicts(gateway, latest=client_credentials_token(gateway, app)) == {"latest": "accepted"}
