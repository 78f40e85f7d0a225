"""Issued tokens carry 256 random bits in URL-safe characters."""

import re

import pytest

pytestmark = pytest.mark.django_db

URL_SAFE_256_BITS = re.compile(r"[A-Za-z0-9_-]{43}")


def test_issued_tokens_are_43_url_safe_characters_and_all_different(post_token, password_login, make_client):
    app = make_client()
    machine = post_token({"grant_type": "client_credentials"}, app=app).json()
    person = password_login(app)

    values = [machine["access_token"], person["access_token"], person["refresh_token"]]

    assert all(URL_SAFE_256_BITS.fullmatch(value) for value in values), values
    assert len(set(values)) == 3


def test_a_token_with_url_safe_punctuation_works_at_the_api(client, post_token, make_client, monkeypatch):
    monkeypatch.setattr("secrets.token_urlsafe", lambda nbytes: "-_" + "x" * 41)
    token = post_token({"grant_type": "client_credentials"}, app=make_client()).json()["access_token"]

    response = client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert token.startswith("-_")
    assert response.status_code == 200
