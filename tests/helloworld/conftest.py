"""HelloWorld's tests get their tokens from the real token endpoint, as clients do."""

from tests.oauthgw.conftest import password_login, post_token, upstream  # noqa: F401 (fixtures)
