"""Server nonces: issued by any process, accepted by every other for their lifetime, and by no other deployment."""

import pytest

from oauthgw.dpop.nonces import dpop_nonce_issue, dpop_nonce_valid
from tests.oauthgw.dpop.conftest import TOKEN_URL
from tests.support.dpop import nonce_elsewhere, verify_elsewhere

NOW = 1_800_000_000


def test_a_nonce_is_valid_for_its_lifetime_and_not_after():
    nonce = dpop_nonce_issue(now=NOW)

    assert dpop_nonce_valid(nonce, now=NOW)
    assert dpop_nonce_valid(nonce, now=NOW + 300)
    assert not dpop_nonce_valid(nonce, now=NOW + 301)


def test_the_lifetime_follows_the_setting(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_NONCE_LIFETIME": 60}
    nonce = dpop_nonce_issue(now=NOW)

    assert dpop_nonce_valid(nonce, now=NOW + 60)
    assert not dpop_nonce_valid(nonce, now=NOW + 61)


def test_a_nonce_from_an_instance_whose_clock_is_ahead_is_accepted_within_the_skew():
    nonce = dpop_nonce_issue(now=NOW + 30)

    assert dpop_nonce_valid(nonce, now=NOW)
    assert not dpop_nonce_valid(dpop_nonce_issue(now=NOW + 31), now=NOW)


def test_nonces_issued_at_different_times_differ():
    assert dpop_nonce_issue(now=NOW) != dpop_nonce_issue(now=NOW + 1)


def test_a_nonce_with_another_issue_time_or_mac_is_refused():
    issued, mac = dpop_nonce_issue(now=NOW).split(".")
    later = dpop_nonce_issue(now=NOW + 100)

    assert not dpop_nonce_valid(f"{later.split('.')[0]}.{mac}", now=NOW + 100)
    assert not dpop_nonce_valid(f"{issued}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}", now=NOW)


def test_a_nonce_of_another_deployment_is_refused(settings):
    nonce = dpop_nonce_issue(now=NOW)

    settings.SECRET_KEY = "another deployment's secret key, long enough for Django"

    assert not dpop_nonce_valid(nonce, now=NOW)


@pytest.mark.parametrize("nonce", ["", "x", "1.2", "ffffffffffffffffffff.AAAAAAAAAAAAAAAAAAAAAA", "\ud800", "a" * 5000])
def test_a_malformed_nonce_is_refused(nonce):
    assert not dpop_nonce_valid(nonce, now=NOW)


@pytest.mark.django_db(transaction=True)
def test_a_nonce_issued_by_one_process_is_accepted_by_another(es256):
    nonce = nonce_elsewhere()
    proof = es256.proof("POST", TOKEN_URL, nonce=nonce)

    answer = verify_elsewhere(proof, method="POST", url=TOKEN_URL, nonce_required=True)

    assert answer == {"jkt": es256.jkt}
    assert dpop_nonce_valid(nonce)
