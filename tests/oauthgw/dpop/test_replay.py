"""A proof is accepted once in every process and instance; an unreachable store refuses it (503) unless told not to."""

import threading

import pytest
from django.db import connection

from oauthgw.caching import shared_state
from oauthgw.dpop import replay
from oauthgw.dpop.proofs import dpop_proof_verify
from oauthgw.exceptions import DPoPReplayCheckUnavailable, InvalidDPoPProof, SharedStateUnavailable
from tests.oauthgw.dpop.conftest import TOKEN_URL
from tests.support.dpop import verify_elsewhere

JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


@pytest.fixture
def store_down(monkeypatch):
    def claim(key, *, timeout):
        raise SharedStateUnavailable("test: Redis is down")

    monkeypatch.setattr(shared_state, "claim", claim)


@pytest.mark.django_db
def test_a_jti_is_claimed_once_per_key():
    replay.jti_claim(jkt=JKT, jti="one")
    replay.jti_claim(jkt="another-key", jti="one")

    with pytest.raises(InvalidDPoPProof, match="used before"):
        replay.jti_claim(jkt=JKT, jti="one")


def test_a_jti_is_remembered_as_long_as_any_instance_may_accept_its_proof(settings, monkeypatch):
    timeouts = []
    monkeypatch.setattr(shared_state, "claim", lambda key, *, timeout: timeouts.append(timeout) or True)
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_PROOF_MAX_AGE": 120, "DPOP_CLOCK_SKEW": 10}

    replay.jti_claim(jkt=JKT, jti="one")

    # 120 s after an iat up to 10 s ahead of this clock, and another instance's clock 10 s behind.
    assert timeouts == [140]


def test_the_stored_key_holds_neither_the_jti_nor_the_thumbprint(monkeypatch):
    keys = []
    monkeypatch.setattr(shared_state, "claim", lambda key, *, timeout: keys.append(key) or True)

    replay.jti_claim(jkt=JKT, jti="x" * 256)

    (key,) = keys
    assert JKT not in key and "xxxx" not in key and len(key) < 100


def test_a_proof_is_refused_with_503_while_the_store_is_down(store_down, caplog, es256):
    with pytest.raises(DPoPReplayCheckUnavailable) as refused:
        dpop_proof_verify([es256.proof()], method="POST", url="https://testserver/oauth2/token")

    assert refused.value.retry_after >= 1
    assert "replay check is unavailable" in caplog.text


def test_a_proof_is_accepted_unchecked_while_the_store_is_down_if_so_configured(store_down, settings, caplog, es256):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_REPLAY_CHECK_REQUIRED": False}

    proof = dpop_proof_verify([es256.proof()], method="POST", url="https://testserver/oauth2/token")

    assert proof.jkt == es256.jkt
    assert "accepted without a replay check" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_of_concurrent_requests_with_one_proof_exactly_one_is_accepted(es256):
    proof = es256.proof("POST", TOKEN_URL)
    start = threading.Barrier(6)
    outcomes = []

    def request():
        start.wait()
        try:
            dpop_proof_verify([proof], method="POST", url=TOKEN_URL)
            outcomes.append("accepted")
        except InvalidDPoPProof:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["accepted"] + ["refused"] * 5


@pytest.mark.django_db(transaction=True)
def test_a_proof_accepted_by_one_process_is_refused_by_another_and_by_this_one(es256):
    # Another worker process, or another instance: they share only the database and Redis.
    proof = es256.proof("POST", TOKEN_URL)

    first = verify_elsewhere(proof, method="POST", url=TOKEN_URL)
    second = verify_elsewhere(proof, method="POST", url=TOKEN_URL)

    assert first == {"jkt": es256.jkt}
    assert second == {"error": "invalid_dpop_proof", "description": "The DPoP proof has been used before (its jti)."}
    with pytest.raises(InvalidDPoPProof, match="used before"):
        dpop_proof_verify([proof], method="POST", url=TOKEN_URL)
