"""`manage.py check --deploy` is clean with the production environment docs/operations.md documents."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

PROJECT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "gateway.example.com",
    "DJANGO_SECURE": "1",
    "OAUTHGW_UPSTREAM_TOKEN_URL": "https://auth.example.com/oauth2/token",
    "OAUTHGW_UPSTREAM_CLIENT_ID": "gateway",
    "OAUTHGW_UPSTREAM_CLIENT_SECRET": "gateway-secret",
    "OAUTHGW_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "OAUTHGW_ISSUER": "https://gateway.example.com",
}


def check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
    env.update(PRODUCTION_ENV)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_documented_production_environment_passes_check_deploy():
    result = check_deploy()

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "warning"),
    [
        ({"DJANGO_SECURE": "0"}, "security.W008"),
        ({"OAUTHGW_UPSTREAM_TOKEN_URL": "http://auth.example.com/oauth2/token"}, "oauthgw.W002"),
        ({"OAUTHGW_ENCRYPTION_KEYS": ""}, "oauthgw.W005"),
        ({"OAUTHGW_ENCRYPTION_KEYS": "not-a-fernet-key"}, "oauthgw.E020"),
        ({"OAUTHGW_ISSUER": ""}, "oauthgw.W006"),
    ],
)
def test_check_deploy_still_warns_about_what_production_must_not_have(override, warning):
    result = check_deploy(**override)

    assert result.returncode != 0
    assert warning in result.stderr
