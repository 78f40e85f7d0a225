import pytest
from django.conf import settings
from django.core.cache import cache

from oauthgw import signing_keys
from oauthgw.upstream import breaker
from tests.factories import ApplicationFactory
from tests.support.processes import dev_authorization_server


def pytest_configure(config):
    # SQLite's test database is a file under var/ (gatewayproj.settings), which a fresh clone lacks.
    settings.VAR_DIR.mkdir(exist_ok=True)


# The resource owners of the development authorization server started for live-server tests.
DEV_USER, DEV_PASSWORD = "abc123", "xyz456"
DEV_ODD_USER, DEV_ODD_PASSWORD = "zoë & co=+%", "pä ss&word=+%"


@pytest.fixture
def make_client(db):
    """Create an enabled client; its raw secret is ``client.raw_secret``."""
    return ApplicationFactory


@pytest.fixture
def upstream_url():
    return "http://upstream.test/token"


@pytest.fixture(autouse=True)
def _gateway_upstream(settings, upstream_url):
    """Unit tests talk to a stubbed upstream at our own client boundary, never a real host."""
    settings.OAUTHGW = {
        "UPSTREAM_TOKEN_URL": upstream_url,
        "UPSTREAM_CLIENT_ID": "gateway",
        "UPSTREAM_CLIENT_SECRET": "gateway-secret",
        "UPSTREAM_TIMEOUT": 2.0,
        # No purge in a background thread while a test holds its transaction open
        # (tests/oauthgw/issuing/test_retention.py runs it by hand).
        "PURGE_INTERVAL": 0,
    }


@pytest.fixture(autouse=True)
def _empty_shared_cache():
    """Login-failure counters, circuit-breaker state and cached tokens never leak between tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_signing_keys():
    """Each test reads its own signing keys: a process's copy of the schedule would outlive a test's rows."""
    signing_keys.forget()
    yield
    signing_keys.forget()


@pytest.fixture(autouse=True)
def _breaker_probes_at_once(request, monkeypatch):
    """The breaker probes in a background thread; a test inside a transaction cannot share it.

    Such tests run the probe at once instead. Tests with committed data (a live
    server, ``transactional_db``) keep the background thread, as production does.
    """
    marker = request.node.get_closest_marker("django_db")
    committed = {"live_server", "transactional_db"} & set(request.fixturenames)
    if not committed and not (marker and marker.kwargs.get("transaction")):
        monkeypatch.setattr(breaker, "_in_background", lambda function, *args: function(*args))


@pytest.fixture(scope="session")
def dev_upstream(tmp_path_factory):
    """The project's development authorization server as a real process, for live-server tests.

    Knows the source document's abc123 / xyz456 and a user whose credentials need
    careful encoding (``DEV_ODD_USER``)."""
    users = tmp_path_factory.mktemp("dev-upstream") / "users.txt"
    users.write_text(f"{DEV_USER}:{DEV_PASSWORD}\n{DEV_ODD_USER}:{DEV_ODD_PASSWORD}\n", encoding="utf-8")
    with dev_authorization_server(users) as token_url:
        yield token_url
