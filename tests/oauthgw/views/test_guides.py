"""The migration guide the password grant's sunset links to, served by the gateway itself."""

import pytest

from oauthgw.views.guides import GUIDE_FILE

pytestmark = pytest.mark.django_db

GUIDE = "/docs/migrating-off-password-grant.md"


def test_the_guide_is_served_as_markdown_to_anyone(client):
    response = client.get(GUIDE)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content == GUIDE_FILE.read_bytes()
    assert response.content.startswith(b"# Migrating off the password grant\n")
    assert response["Cache-Control"] == "public, max-age=3600"


def test_the_guide_only_answers_reads(client):
    response = client.post(GUIDE)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_without_the_file_the_guide_is_the_json_404_and_the_log_says_what_to_set(client, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr("oauthgw.views.guides.GUIDE_FILE", tmp_path / "missing.md")

    response = client.get(GUIDE)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "OAUTHGW_PASSWORD_GRANT_GUIDE_URL" in caplog.text
