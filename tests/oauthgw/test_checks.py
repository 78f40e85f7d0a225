"""System checks refuse configurations that cannot work."""

import pytest
from cryptography.fernet import Fernet
from django.core.checks import ERROR, WARNING, run_checks

from oauthgw.checks import (
    SERVING,
    check_deploy_encryption_keys,
    check_encryption_keys,
    check_gateway_settings,
    check_issuer_configured,
    check_jwt_settings,
    check_password_grant_guide,
)


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


@pytest.mark.parametrize("value", ["sometimes", "0", "-5", "1.5", ""])
def test_a_reverify_setting_other_than_never_always_or_seconds_is_e005(settings, value):
    assert "oauthgw.E005" in error_ids(settings, UPSTREAM_REVERIFY=value)


@pytest.mark.parametrize("value", ["never", "always", "ALWAYS", "300"])
def test_never_always_and_seconds_pass_e005(settings, value):
    assert "oauthgw.E005" not in error_ids(settings, UPSTREAM_REVERIFY=value)


@pytest.mark.parametrize("name", ["UPSTREAM_REVERIFY_GRACE", "SESSION_MAX_AGE"])
def test_negative_session_seconds_are_e006(settings, name):
    assert "oauthgw.E006" in error_ids(settings, **{name: -1})


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


# --- Encryption keys -----------------------------------------------------------------------


def encryption_problems(settings, keys: str) -> list:
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": keys}
    return [*check_encryption_keys(None), *check_deploy_encryption_keys(None)]


def test_a_malformed_encryption_key_is_e020_with_how_to_generate_one(settings):
    good = Fernet.generate_key().decode()

    [problem] = encryption_problems(settings, f"{good},not-a-fernet-key")

    assert problem.id == "oauthgw.E020"
    assert "[2]" in problem.msg
    assert "not-a-fernet-key" not in problem.msg
    assert "Fernet.generate_key()" in problem.hint


def test_configured_encryption_keys_pass(settings):
    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"

    assert encryption_problems(settings, keys) == []


def test_no_encryption_keys_is_a_deploy_warning_w005(settings):
    [problem] = encryption_problems(settings, "")

    assert (problem.id, problem.level) == ("oauthgw.W005", WARNING)
    assert "OAUTHGW_ENCRYPTION_KEYS" in problem.hint


# --- JWT access tokens ----------------------------------------------------------------


def jwt_problem_ids(settings, **overrides) -> set[str]:
    settings.OAUTHGW = {**settings.OAUTHGW, **overrides}
    return {problem.id for problem in check_jwt_settings(None)}


def test_the_default_jwt_settings_pass(settings):
    assert jwt_problem_ids(settings) == set()


def test_an_unsupported_signing_algorithm_is_e030(settings):
    assert "oauthgw.E030" in jwt_problem_ids(settings, JWT_SIGNING_ALGORITHM="HS256")


@pytest.mark.parametrize(("max_age", "delay"), [(600, 600), (900, 600), (-1, 600)])
def test_a_jwks_cached_as_long_as_a_new_key_waits_to_sign_is_e031(settings, max_age, delay):
    # An API could then meet a token signed by a key its cached JWKS does not have yet.
    assert "oauthgw.E031" in jwt_problem_ids(settings, JWKS_MAX_AGE=max_age, SIGNING_KEY_PUBLISH_SECONDS=delay)


def test_a_non_positive_jwt_lifetime_is_e032(settings):
    assert "oauthgw.E032" in jwt_problem_ids(settings, JWT_ACCESS_TOKEN_SECONDS=0)


@pytest.mark.parametrize("issuer", ["auth.example.com", "https://auth.example.com/?tenant=1", "ftp://auth.example.com"])
def test_an_issuer_that_is_no_http_url_is_e033(settings, issuer):
    assert "oauthgw.E033" in jwt_problem_ids(settings, ISSUER=issuer)


def test_an_audience_with_a_colon_that_is_no_uri_is_e034(settings):
    assert "oauthgw.E034" in jwt_problem_ids(settings, JWT_AUDIENCE="9:orders")
    assert "oauthgw.E034" not in jwt_problem_ids(settings, JWT_AUDIENCE="orders-api https://stock.example")
    assert "oauthgw.E034" not in jwt_problem_ids(settings, JWT_AUDIENCE="orders-api,https://stock.example")


def test_no_configured_issuer_outside_debug_mode_is_an_error_e035_that_says_how_to_fix_it(settings):
    settings.DEBUG = False

    [problem] = check_issuer_configured(None)

    assert (problem.id, problem.level) == ("oauthgw.E035", ERROR)
    assert "OAUTHGW_ISSUER=https://auth.example.com" in problem.hint


def test_a_configured_issuer_or_debug_mode_passes_e035(settings):
    settings.DEBUG = False
    settings.OAUTHGW = {**settings.OAUTHGW, "ISSUER": "https://auth.example.com"}
    assert check_issuer_configured(None) == []
    settings.OAUTHGW = {**settings.OAUTHGW, "ISSUER": ""}
    settings.DEBUG = True
    assert check_issuer_configured(None) == []


def test_e035_is_a_serving_check_that_commands_do_not_run(settings):
    # migrate, createsuperuser and the other commands run the non-deployment checks only.
    settings.DEBUG = False

    assert "oauthgw.E035" not in {problem.id for problem in run_checks()}
    assert "oauthgw.E035" in {problem.id for problem in run_checks(tags=[SERVING], include_deployment_checks=True)}


@pytest.mark.parametrize(
    "url",
    [
        "wiki.example.com/password-grant",
        "ftp://wiki.example.com/guide",
        "https://wiki.example.com/a guide",
        'https://wiki.example.com/"guide"',
        "https://wiki.example.com/<guide>",
        "https://wiki.example.com/guide\\x",
        "https://wiki.example.com/güide",
    ],
)
def test_a_password_grant_guide_that_is_no_http_url_or_breaks_the_link_header_is_e060(settings, url):
    settings.OAUTHGW = {**settings.OAUTHGW, "PASSWORD_GRANT_GUIDE_URL": url}

    assert [problem.id for problem in check_password_grant_guide(None)] == ["oauthgw.E060"]


@pytest.mark.parametrize(
    "url", ["", "https://wiki.example.com/oauth/password-grant?lang=en#steps", "http://10.0.0.5/g%C3%BCide"]
)
def test_an_empty_or_plain_http_guide_passes_e060(settings, url):
    settings.OAUTHGW = {**settings.OAUTHGW, "PASSWORD_GRANT_GUIDE_URL": url}

    assert check_password_grant_guide(None) == []
