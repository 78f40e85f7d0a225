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
        ({"OAUTHGW_ISSUER": ""}, "oauthgw.E035"),
    ],
)
def test_check_deploy_still_warns_about_what_production_must_not_have(override, warning):
    result = check_deploy(**override)

    assert result.returncode != 0
    assert warning in result.stderr


def run(command: list[str], **overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))}
    env.update({**PRODUCTION_ENV, **overrides})
    return subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)


CHECK_BEFORE_SERVING = [sys.executable, "-c", "from gatewayproj.serving import check_before_serving as c; c()"]


def test_without_an_issuer_the_server_refuses_to_start_and_says_how_to_fix_it():
    refused = run(CHECK_BEFORE_SERVING, OAUTHGW_ISSUER="")
    allowed = run(CHECK_BEFORE_SERVING)

    assert refused.returncode == 1
    assert "The gateway will not serve" in refused.stderr
    assert "oauthgw.E035" in refused.stderr and "OAUTHGW_ISSUER=https://auth.example.com" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr


def test_in_debug_mode_it_serves_without_an_issuer():
    assert run(CHECK_BEFORE_SERVING, OAUTHGW_ISSUER="", DJANGO_DEBUG="1").returncode == 0


def test_without_an_issuer_commands_an_operator_runs_still_work():
    # manage.py's own checks (migrate, createsuperuser, create_client run these) pass; only serving is refused.
    assert run([sys.executable, "manage.py", "check"], OAUTHGW_ISSUER="").returncode == 0
