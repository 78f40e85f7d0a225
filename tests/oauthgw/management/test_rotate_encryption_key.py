"""Rotating the encryption key, as docs/operations.md describes it, end to end.

Old key -> new key first in the list (a restart: here, new settings) -> the
command -> old key removed -> the secret still reaches the authorization server.
"""

import base64
from io import StringIO

import jwt
import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from oauthgw import signing_keys
from oauthgw.models import AuthorizationServer, UpstreamSession
from tests.oauthgw.conftest import PASSWORD, USERNAME

SERVER_URL = "http://partner.test/token"
UPSTREAM_SECRET = "the-gateways-secret-at-partner"
UPSTREAM_REFRESH_TOKEN = "partner-refresh-token-kept-for-the-session"
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def use_keys(settings):
    def use(*keys: str) -> None:
        settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": ",".join(keys)}

    return use


@pytest.fixture
def partner(db, use_keys):
    use_keys(OLD_KEY)
    AuthorizationServer.objects.create(name="without-secret", token_url="http://other.test/token", client_id="gw")
    return AuthorizationServer.objects.create(
        name="partner", token_url=SERVER_URL, client_id="gateway", client_secret=UPSTREAM_SECRET
    )


def rotate() -> str:
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def stored(server) -> str:
    return AuthorizationServer.objects.values_list("encrypted_client_secret", flat=True).get(pk=server.pk)


def secret_sent_to_partner(post_token, upstream, app) -> str:
    answer = {"access_token": "x", "token_type": "bearer", "refresh_token": UPSTREAM_REFRESH_TOKEN}
    upstream.mock.add("POST", SERVER_URL, json=answer)
    response = post_token({"grant_type": "password", "username": USERNAME, "password": PASSWORD}, app=app)
    assert response.status_code == 200, response.content
    header = upstream.calls[-1].request.headers["Authorization"]
    return base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")[2]


def test_the_documented_rotation_keeps_the_secret_working_under_the_new_key_alone(
    partner, use_keys, post_token, upstream, make_client
):
    app = make_client(authorization_server=partner)
    assert secret_sent_to_partner(post_token, upstream, app) == UPSTREAM_SECRET

    use_keys(NEW_KEY, OLD_KEY)  # 1. the new key first, then restart
    assert secret_sent_to_partner(post_token, upstream, app) == UPSTREAM_SECRET
    first = rotate()  # 2. the command
    second = rotate()
    use_keys(NEW_KEY)  # 3. the old key removed, then restart

    # The client secret and the first login's upstream refresh token were under the old key.
    assert first == "Re-encrypted 2 stored secrets with the newest key; 1 already used it; 1 empty."
    assert second == "Re-encrypted 0 stored secrets with the newest key; 3 already used it; 1 empty."
    assert Fernet(NEW_KEY.encode()).decrypt(stored(partner).encode()).decode() == UPSTREAM_SECRET
    assert {session.refresh_token for session in UpstreamSession.objects.all()} == {UPSTREAM_REFRESH_TOKEN}
    assert secret_sent_to_partner(post_token, upstream, app) == UPSTREAM_SECRET


def test_a_secret_no_configured_key_opens_is_reported_by_name_and_left_alone(partner, use_keys):
    before = stored(partner)
    use_keys(NEW_KEY)  # the old key dropped before the command ran

    errors = StringIO()

    with pytest.raises(CommandError, match="1 stored secrets could not be decrypted"):
        call_command("rotate_encryption_key", stdout=StringIO(), stderr=errors)

    assert f"oauthgw.AuthorizationServer pk={partner.pk} encrypted_client_secret" in errors.getvalue()
    assert stored(partner) == before


def test_secrets_written_under_the_development_key_move_to_the_first_configured_key(db, use_keys):
    use_keys()
    server = AuthorizationServer.objects.create(
        name="early", token_url=SERVER_URL, client_id="gateway", client_secret=UPSTREAM_SECRET
    )
    use_keys(NEW_KEY)

    assert rotate().startswith("Re-encrypted 1 stored secrets")
    assert AuthorizationServer.objects.get(pk=server.pk).client_secret == UPSTREAM_SECRET


def test_the_private_signing_keys_move_to_the_new_key_too_and_keep_signing(db, use_keys, post_token, make_client):
    use_keys(OLD_KEY)
    app = make_client(token_format="jwt", grant_types="client_credentials")
    first = post_token({"grant_type": "client_credentials"}, app=app).json()["access_token"]

    use_keys(NEW_KEY, OLD_KEY)
    rotate()
    use_keys(NEW_KEY)
    signing_keys.forget()  # a restart: the processes' decrypted copies are gone

    second = post_token({"grant_type": "client_credentials"}, app=app)
    assert second.status_code == 200, second.content
    assert jwt.get_unverified_header(second.json()["access_token"])["kid"] == jwt.get_unverified_header(first)["kid"]
