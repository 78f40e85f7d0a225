"""Fixtures for the resilience tests: the stubbed upstream and token-endpoint helpers of tests/oauthgw."""

from tests.oauthgw.conftest import password_login, post_token, upstream

__all__ = ["password_login", "post_token", "upstream"]
