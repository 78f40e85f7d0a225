"""The DPoP settings' system checks (oauthgw.dpop.checks): E040 and E041."""

import pytest

from oauthgw.dpop.checks import check_dpop_settings


def dpop_problems(settings, **overrides) -> list:
    settings.OAUTHGW = {**settings.OAUTHGW, **overrides}
    return check_dpop_settings(None)


def test_the_default_dpop_settings_pass(settings):
    assert dpop_problems(settings) == []


@pytest.mark.parametrize("algorithms", ["ES256,HS256", "none", "ES256,ES999", "", " , "])
def test_a_dpop_algorithm_list_with_a_symmetric_unknown_or_no_algorithm_is_e040(settings, algorithms):
    (problem,) = dpop_problems(settings, DPOP_SIGNING_ALGORITHMS=algorithms)

    assert problem.id == "oauthgw.E040"
    assert "ES256" in problem.hint and "EdDSA" in problem.hint


def test_e040_names_the_algorithms_to_remove(settings):
    (problem,) = dpop_problems(settings, DPOP_SIGNING_ALGORITHMS="ES256,HS256,none")

    assert "not: HS256, none." in problem.msg


@pytest.mark.parametrize(
    "override",
    [{"DPOP_PROOF_MAX_AGE": 0}, {"DPOP_NONCE_LIFETIME": -1}, {"DPOP_CLOCK_SKEW": -1}, {"DPOP_PROOF_MAX_AGE": "300"}],
)
def test_a_dpop_window_or_lifetime_out_of_range_is_e041(settings, override):
    assert [problem.id for problem in dpop_problems(settings, **override)] == ["oauthgw.E041"]


def test_no_clock_skew_is_allowed(settings):
    assert dpop_problems(settings, DPOP_CLOCK_SKEW=0) == []
