import pytest

from oauthgw.dpop.keys import ALGORITHMS
from tests.support.dpop import DPoPKey

# The proofs' clock: fixed, so that windows and nonces are tested at exact edges.
NOW = 1_800_000_000.0
TOKEN_URL = "https://gateway.example/oauth2/token"
RESOURCE_URL = "https://gateway.example/api/hello"


@pytest.fixture(scope="session")
def dpop_keys() -> dict[str, DPoPKey]:
    """One key per supported algorithm (RSA keys take a while to make: made once)."""
    return {algorithm: DPoPKey(algorithm) for algorithm in ALGORITHMS}


@pytest.fixture
def es256(dpop_keys) -> DPoPKey:
    return dpop_keys["ES256"]
