"""System checks refuse configurations that cannot work."""

import pytest

from oauthgw.checks import check_gateway_settings


def error_ids(settings, **overrides) -> set[str]:
    settings.OAUTHGW = {**settings.OAUTHGW, **overrides}
    return {problem.id for problem in check_gateway_settings(None)}


def test_test_configuration_passes(settings):
    assert error_ids(settings) == set()


@pytest.mark.parametrize(
    "url", ["ftp://upstream.test/token", "upstream.test/token", "http:///token", "file:///etc/passwd", ""]
)
def test_non_http_upstream_url_is_e001(settings, url):
    assert "oauthgw.E001" in error_ids(settings, UPSTREAM_TOKEN_URL=url)


@pytest.mark.parametrize("url", ["http://upstream.test/token", "https://auth.example.com:8443/oauth2/token"])
def test_http_and_https_upstream_urls_pass_e001(settings, url):
    assert "oauthgw.E001" not in error_ids(settings, UPSTREAM_TOKEN_URL=url)


@pytest.mark.parametrize("status", [418, 403, 200])
def test_invalid_grant_status_other_than_400_or_401_is_e002(settings, status):
    assert "oauthgw.E002" in error_ids(settings, INVALID_GRANT_STATUS=status)


@pytest.mark.parametrize("status", [400, 401])
def test_invalid_grant_status_400_and_401_pass(settings, status):
    assert "oauthgw.E002" not in error_ids(settings, INVALID_GRANT_STATUS=status)


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_non_positive_upstream_timeout_is_e003(settings, timeout):
    assert "oauthgw.E003" in error_ids(settings, UPSTREAM_TIMEOUT=timeout)


def test_username_limit_above_the_subject_column_is_e004(settings):
    assert "oauthgw.E004" in error_ids(settings, MAX_USERNAME_LENGTH=100_000)


def test_e001_hint_says_how_to_fix_it(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_TOKEN_URL": "ftp://x/token"}

    (problem,) = [p for p in check_gateway_settings(None) if p.id == "oauthgw.E001"]

    assert "OAUTHGW_UPSTREAM_TOKEN_URL" in problem.msg
    assert problem.hint
