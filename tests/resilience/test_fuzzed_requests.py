"""Property: whatever arrives at the token, revoke, introspect or HelloWorld endpoint, the
answer is never a 500, and every error is a JSON object with a string ``error``.

Hypothesis generates the method, body, content type and headers (a DPoP header among them:
junk, or a fresh proof for the endpoint, with or without the token's hash); a real client and
a real token are among the ingredients so that generated requests also reach the
deeper code paths. The upstream rejects every password. Examples stay few (100 per
endpoint) so the whole file runs in seconds.
"""

import base64
import json
from urllib.parse import quote

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oauthgw.conftest import basic_authorization
from tests.support.dpop import DPoPKey

EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FORM = "application/x-www-form-urlencoded"
KEY = DPoPKey("ES256")
PARAMETER_NAMES = [
    "grant_type",
    "username",
    "password",
    "scope",
    "refresh_token",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
]
GRANT_TYPES = ["password", "refresh_token", "client_credentials", "authorization_code", "", "PASSWORD"]
CONTENT_TYPES = [
    FORM,
    FORM + "; charset=utf-8",
    FORM + "; charset=latin-1",
    "application/json",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
]

text = st.text(max_size=40)
any_value = st.one_of(text, st.sampled_from(GRANT_TYPES), st.just("\x00"), st.text(alphabet="%&=+ ", max_size=10))


@st.composite
def form_bodies(draw, secrets):
    names = st.one_of(st.sampled_from(PARAMETER_NAMES), text)
    values = st.one_of(any_value, st.sampled_from(secrets))
    pairs = draw(st.lists(st.tuples(names, values), max_size=6))
    return "&".join(f"{quote(name)}={quote(value)}" for name, value in pairs).encode("utf-8")


def bodies(secrets):
    return st.one_of(
        form_bodies(secrets),
        st.binary(max_size=200),
        st.builds(lambda value: json.dumps(value).encode(), st.dictionaries(text, text, max_size=3)),
        st.just(b"x" * 9000),
    )


def authorizations(secrets):
    return st.one_of(
        st.none(),
        st.sampled_from(secrets).map(lambda header: header if header.startswith(("Basic", "Bearer")) else None),
        st.binary(max_size=40).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
        st.text(max_size=30).map(lambda token: f"Bearer {token}"),
        st.text(max_size=30).map(lambda token: f"DPoP {token}"),
        st.sampled_from(secrets).map(
            lambda header: f"DPoP {header.split(' ', 1)[1]}" if header.startswith("Bearer") else None
        ),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    )


@pytest.fixture
def ingredients(make_client, password_login, upstream, post_token):
    """Real credentials and tokens to mix into generated requests (raw values and headers).

    The last is a DPoP-bound access token (``KEY``'s), which generated proofs may carry the hash of.
    """
    app = make_client(can_introspect=True)
    tokens = password_login(app)
    proof = KEY.proof("POST", "http://testserver/oauth2/token")
    bound = post_token({"grant_type": "client_credentials"}, app=app, HTTP_DPOP=proof).json()["access_token"]
    upstream.mock.reset()
    upstream.rejects()
    return [
        app.client_id,
        app.raw_secret,
        tokens["access_token"],
        tokens["refresh_token"],
        basic_authorization(app.client_id, app.raw_secret),
        f"Bearer {tokens['access_token']}",
        f"Bearer {bound}",
        bound,
    ]


def send(
    client,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    authorization: str | None,
    forwarded: str,
    dpop: str | None = None,
):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded}
    if authorization is not None:
        headers["HTTP_AUTHORIZATION"] = authorization
    if dpop is not None:
        headers["HTTP_DPOP"] = dpop
    return client.generic(method, path, body, content_type=content_type, **headers)


def dpop_headers(path: str, access_token: str):
    """A DPoP header: none, junk, or a fresh proof (for this path, with or without the token's ath)."""
    made = {
        "proof": lambda method: KEY.proof(method, f"http://testserver{path}"),
        "proof with ath": lambda method: KEY.proof(method, f"http://testserver{path}", access_token=access_token),
    }
    return st.one_of(
        st.none(),
        text,
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,", max_size=80),
        st.sampled_from(sorted(made)).map(lambda name: made[name]),
    )


def assert_well_formed(response, method: str) -> None:
    assert response.status_code < 500 or response.status_code == 503, response.content
    if method == "HEAD" or response.status_code < 400:
        return
    document = json.loads(response.content)
    assert isinstance(document, dict)
    assert isinstance(document.get("error"), str)
    assert document["error"]


def property_for(path: str, methods: list[str]):
    @EXAMPLES
    @given(data=st.data())
    def check(client, ingredients, data):
        cache.clear()  # every example starts under the failure limits
        secrets = [value for value in ingredients if not value.startswith(("Basic", "Bearer"))]
        headers = [value for value in ingredients if value.startswith(("Basic", "Bearer"))]
        method = data.draw(st.sampled_from(methods), label="method")
        body = data.draw(bodies(secrets), label="body")
        content_type = data.draw(st.one_of(st.sampled_from(CONTENT_TYPES), text), label="content_type")
        authorization = data.draw(authorizations(headers), label="authorization")
        forwarded = data.draw(st.sampled_from(["", "203.0.113.9", "not an ip", "1.1.1.1, 2.2.2.2"]), label="xff")
        dpop = data.draw(dpop_headers(path, ingredients[-1]), label="dpop")
        dpop = dpop(method) if callable(dpop) else dpop
        response = send(client, method, path, body, content_type, authorization, forwarded, dpop)
        assert_well_formed(response, method)

    return check


POST_FIRST = ["POST", "POST", "POST", "GET", "PUT", "DELETE", "OPTIONS", "HEAD"]

test_token_endpoint_never_fails_and_always_answers_json_errors = property_for("/oauth2/token", POST_FIRST)
test_revoke_endpoint_never_fails_and_always_answers_json_errors = property_for("/oauth2/revoke", POST_FIRST)
test_introspect_endpoint_never_fails_and_always_answers_json_errors = property_for("/oauth2/introspect", POST_FIRST)
test_helloworld_never_fails_and_always_answers_json_errors = property_for(
    "/helloworld/", ["GET", "GET", "GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"]
)
