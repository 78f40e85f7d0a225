"""End-to-end fixtures: a live gateway over real HTTP in front of a real authorization server.

The gateway is pytest-django's live server (a real socket, the full Django stack);
the upstream is either the project's development authorization server or
Glewlwyd, each a separate process started here.
"""

import base64
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote_plus

import pytest
import requests

from tests.conftest import DEV_ODD_PASSWORD as ODD_PASSWORD
from tests.conftest import DEV_ODD_USER as ODD_USER
from tests.conftest import DEV_PASSWORD as PASSWORD
from tests.conftest import DEV_USER as USER
from tests.factories import ApplicationFactory
from tests.support.processes import ROOT, free_port, gateway_settings_for_dev_upstream


@dataclass
class Gateway:
    url: str

    @property
    def token_url(self) -> str:
        return f"{self.url}/oauth2/token"

    @property
    def hello_url(self) -> str:
        return f"{self.url}/helloworld/"

    def token(self, client_id: str, secret: str, **form) -> requests.Response:
        return requests.post(self.token_url, data=form, auth=basic(client_id, secret), timeout=30)


def basic(client_id: str, secret: str) -> tuple[str, str]:
    # RFC 6749 section 2.3.1: form-encode before Basic; requests then base64s it.
    return quote_plus(client_id), quote_plus(secret)


def basic_header(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
def gateway(live_server, settings, dev_upstream):
    settings.OAUTHGW = gateway_settings_for_dev_upstream(dev_upstream)
    return Gateway(live_server.url)


@pytest.fixture
def app_client(transactional_db):
    """A client allowed every grant; raw secret on ``.raw_secret``."""
    return ApplicationFactory(grant_types="password refresh_token client_credentials")


@pytest.fixture
def insecure_transport_ok(monkeypatch):
    # requests-oauthlib refuses http:// unless told the transport is a test one.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@dataclass
class Glewlwyd:
    token_url: str
    legacy_token_url: str
    client_id: str = "gateway-client"
    client_secret: str = "gateway-secret"
    scope: str = "upstream"

    @property
    def base_url(self) -> str:
        return self.token_url.removesuffix("/api/oidc/token")


@contextmanager
def running_glewlwyd(state_dir, **settings: str):
    """A real Glewlwyd (Debian package), installed and started by the project's own script."""
    env = {
        **os.environ,
        "UPSTREAM_PORT": str(free_port()),
        "UPSTREAM_STATE_DIR": str(state_dir),
        "UPSTREAM_USER": USER,
        "UPSTREAM_PASSWORD": PASSWORD,
        "UPSTREAM_EXTRA_USERS": f"{ODD_USER}:{ODD_PASSWORD}",
        **settings,
    }
    started = subprocess.run(
        ["bash", str(ROOT / "scripts/glewlwyd/start.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    assert started.returncode == 0, f"Glewlwyd did not start:\n{started.stderr[-3000:]}"
    values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    try:
        yield Glewlwyd(token_url=values["TOKEN_ENDPOINT"], legacy_token_url=values["LEGACY_TOKEN_ENDPOINT"])
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/glewlwyd/stop.sh")], env=env, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def glewlwyd(tmp_path_factory):
    """Glewlwyd as this recipe configures it by default: refresh tokens are not rotated."""
    with running_glewlwyd(tmp_path_factory.mktemp("glewlwyd")) as server:
        yield server
