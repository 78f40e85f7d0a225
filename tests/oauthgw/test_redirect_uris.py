"""What a client may register as a redirect URI or an origin, and how a presented one is matched."""

import pytest

from oauthgw.redirect_uris import origin_matches, origin_problem, redirect_uri_matches, redirect_uri_problem


@pytest.mark.parametrize(
    ("uri", "public"),
    [
        ("https://app.example/callback", False),
        ("https://app.example:8443/cb?tenant=1", False),
        ("http://127.0.0.1/callback", True),
        ("http://127.0.0.1:8080/callback", False),
        ("http://[::1]/callback", True),
        ("com.example.app:/oauth2redirect", True),
    ],
)
def test_registrable_redirect_uris(uri, public):
    assert redirect_uri_problem(uri, public=public) is None


@pytest.mark.parametrize(
    ("uri", "public", "says"),
    [
        ("http://app.example/callback", False, "http"),
        ("http://localhost/callback", True, "loopback"),
        ("https://app.example/callback#x", False, "fragment"),
        ("https://*.app.example/callback", False, "wildcard"),
        ("https://user@app.example/callback", False, "user information"),
        ("com.example.app:/cb", False, "public clients"),
        ("myapp:/cb", True, "reverse domain"),
        ("javascript:alert(1)", True, "scheme"),
        ("/relative", False, "absolute"),
    ],
)
def test_refused_redirect_uris_say_why(uri, public, says):
    problem = redirect_uri_problem(uri, public=public)

    assert problem is not None and says in problem


def test_a_presented_redirect_uri_matches_only_as_the_same_string():
    registered = ["https://app.example/callback"]

    assert redirect_uri_matches("https://app.example/callback", registered, public=False)
    for altered in (
        "https://app.example/callback/",
        "https://app.example/callback?x=1",
        "https://app.example/Callback",
        "https://app.example:443/callback",
        "https://app.example/callback#",
    ):
        assert not redirect_uri_matches(altered, registered, public=True), altered


def test_only_the_port_of_a_public_clients_loopback_uri_may_differ():
    registered = ["http://127.0.0.1/callback", "http://[::1]:9000/cb"]

    assert redirect_uri_matches("http://127.0.0.1:51000/callback", registered, public=True)
    assert redirect_uri_matches("http://[::1]:51000/cb", registered, public=True)
    assert not redirect_uri_matches("http://127.0.0.1:51000/callback", registered, public=False)
    assert not redirect_uri_matches("http://127.0.0.1:51000/callback?x=1", registered, public=True)
    assert not redirect_uri_matches("http://127.0.0.2:51000/callback", registered, public=True)
    assert not redirect_uri_matches("https://127.0.0.1:51000/callback", registered, public=True)


def test_origins_are_a_scheme_a_host_and_a_port():
    assert origin_problem("https://app.example") is None
    assert origin_problem("http://localhost:3000") is None
    assert "https" in origin_problem("http://app.example")
    assert "origin" in origin_problem("https://app.example/path")
    assert origin_matches("https://App.example", ["https://app.example"])
    assert not origin_matches("https://app.example.evil", ["https://app.example"])
    assert not origin_matches("", ["https://app.example"])
