import pytest
from django.core.cache import cache

from tests.factories import ApplicationFactory


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
    }


@pytest.fixture(autouse=True)
def _empty_shared_cache():
    """Login-failure counters, circuit-breaker state and cached tokens never leak between tests."""
    cache.clear()
    yield
    cache.clear()
