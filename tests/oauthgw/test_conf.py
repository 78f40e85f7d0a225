"""``gateway_settings``: defaults, environment overrides, the OAUTHGW dict, and typos."""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from gatewayproj.env import env_prefixed
from oauthgw.conf import DEFAULTS, gateway_settings


@pytest.fixture
def environ(settings, monkeypatch):
    """Set ``OAUTHGW_*`` variables for one test, as gatewayproj.settings reads them from the environment."""
    for name in [name for name in os.environ if name.startswith("OAUTHGW_")]:
        monkeypatch.delenv(name)
    settings.OAUTHGW_ENVIRONMENT = env_prefixed("OAUTHGW_")

    def set_env(**variables: str) -> None:
        for key, value in variables.items():
            monkeypatch.setenv(f"OAUTHGW_{key}", value)
        settings.OAUTHGW_ENVIRONMENT = env_prefixed("OAUTHGW_")

    return set_env


@pytest.fixture
def no_overrides(settings):
    settings.OAUTHGW = {}


def test_default_applies_without_override(no_overrides, environ):

    assert gateway_settings.UPSTREAM_RETRY_AFTER == DEFAULTS["UPSTREAM_RETRY_AFTER"]


def test_environment_int_is_coerced_to_int(no_overrides, environ):
    environ(UPSTREAM_MAX_CONCURRENCY="8")

    assert gateway_settings.UPSTREAM_MAX_CONCURRENCY == 8


def test_environment_float_is_coerced_to_float(no_overrides, environ):
    environ(UPSTREAM_TIMEOUT="7")

    assert gateway_settings.UPSTREAM_TIMEOUT == 7.0
    assert isinstance(gateway_settings.UPSTREAM_TIMEOUT, float)


def test_environment_string_stays_a_string(no_overrides, environ):
    environ(UPSTREAM_TOKEN_URL="https://auth.example.com/token")

    assert gateway_settings.UPSTREAM_TOKEN_URL == "https://auth.example.com/token"


@pytest.mark.parametrize(("raw", "value"), [("false", False), ("0", False), ("no", False), ("true", True), ("1", True)])
def test_environment_boolean_is_coerced_to_bool(no_overrides, environ, raw, value):
    environ(DPOP_REPLAY_CHECK_REQUIRED=raw)

    assert gateway_settings.DPOP_REPLAY_CHECK_REQUIRED is value


def test_empty_environment_variable_keeps_the_default(no_overrides, environ):
    environ(INVALID_GRANT_STATUS="")

    assert gateway_settings.INVALID_GRANT_STATUS == DEFAULTS["INVALID_GRANT_STATUS"]


def test_environment_value_of_the_wrong_type_raises(no_overrides, environ):
    environ(UPSTREAM_MAX_CONCURRENCY="many")

    with pytest.raises(ImproperlyConfigured, match="OAUTHGW_UPSTREAM_MAX_CONCURRENCY"):
        gateway_settings.UPSTREAM_MAX_CONCURRENCY  # noqa: B018


def test_oauthgw_dict_overrides_the_environment(settings, environ):
    environ(INVALID_GRANT_STATUS="400")
    settings.OAUTHGW = {"INVALID_GRANT_STATUS": 401}

    assert gateway_settings.INVALID_GRANT_STATUS == 401


def test_unknown_oauthgw_key_raises(settings):
    settings.OAUTHGW = {"UPSTREAM_TOKEN_ULR": "http://typo.test/token"}

    with pytest.raises(ImproperlyConfigured, match="UPSTREAM_TOKEN_ULR"):
        gateway_settings.UPSTREAM_TOKEN_URL  # noqa: B018


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError):
        gateway_settings.NO_SUCH_SETTING  # noqa: B018


def test_changing_the_setting_takes_effect_without_restart(settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_RETRY_AFTER": 11}
    assert gateway_settings.UPSTREAM_RETRY_AFTER == 11

    settings.OAUTHGW = {**settings.OAUTHGW, "UPSTREAM_RETRY_AFTER": 12}

    assert gateway_settings.UPSTREAM_RETRY_AFTER == 12
