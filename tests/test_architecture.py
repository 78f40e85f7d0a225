"""The rules of the layout that no import contract can see, and the private APIs the code leans on.

Import rules (layers, the resource server, the upstream client) are checked by
import-linter in ``make lint`` (``pyproject.toml``). Here:

- the environment is read in one place, ``gatewayproj/env.py``;
- every exception of the gateway's own is defined in ``oauthgw/exceptions.py``,
  every Prometheus metric in ``oauthgw/observability/metrics.py``;
- docs/architecture.md and the contracts name the same layers, the page names
  every module of ``gatewayproj/`` and every private API pinned here, and the
  policy package's docstring names its modules;
- every private API of django-oauth-toolkit, Django, redis-py and gunicorn the
  gateway calls or overrides still exists with the shape it is used with. Exact
  pins protect them today; when an upgrade changes one, this test names the
  code to revisit instead of letting it fail at run time.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

import oauthgw

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_the_environment_is_read_only_by_gatewayproj_env():
    readers = []
    for package in ("oauthgw", "helloworld", "gatewayproj"):
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "gatewayproj" / "env.py":
                continue
            text = path.read_text(encoding="utf-8")
            # Entry points may prepare the environment of what they start (setdefault,
            # assignments); reading it is env.py's alone.
            if re.search(r"\bos\.environ\.get\(|\bos\.environ\[[^\]]+\](?!\s*=)|\bgetenv\(", text):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def _gateway_modules():
    """Every module of ``oauthgw`` (migrations aside), imported."""
    for info in pkgutil.walk_packages(oauthgw.__path__, "oauthgw."):
        if ".migrations" not in info.name:
            yield importlib.import_module(info.name)


def test_every_exception_of_the_gateway_is_defined_in_oauthgw_exceptions():
    # A private one that never leaves its module (control flow inside one view) aside.
    elsewhere = [
        f"{module.__name__}.{name}"
        for module in _gateway_modules()
        for name, value in vars(module).items()
        if not name.startswith("_")
        and isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
        and module.__name__ != "oauthgw.exceptions"
    ]
    assert elsewhere == []


_METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


def test_every_prometheus_metric_is_defined_in_observability_metrics():
    defining = set()
    for path in (ROOT / "oauthgw").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        metric_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_client")
            for alias in node.names
            if alias.name in _METRIC_TYPES
        }
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in metric_names
        ]
        if calls:
            defining.add(str(path.relative_to(ROOT)))
    assert defining == {"oauthgw/observability/metrics.py"}


def _layers() -> list[set[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [
        {name.strip().removeprefix("oauthgw.") for name in re.split(r"[|:]", layer)} for layer in contract["layers"]
    ]


# Outside the layers: what wires them together.
_WIRING = {"apps", "urls", "migrations"}


def test_every_module_of_the_authorization_server_is_in_a_layer_of_the_contract():
    layered = set().union(*_layers())
    top_level = {info.name for info in pkgutil.iter_modules(oauthgw.__path__)}

    assert top_level - _WIRING == layered


def test_the_architecture_page_describes_the_bottom_layer_the_contract_checks():
    paragraph = ARCHITECTURE[ARCHITECTURE.index("**The bottom**") :].split("\n\n")[0]
    described = set(re.findall(r"`(\w+)\.py`", paragraph))

    assert described == _layers()[-1]


def test_the_architecture_page_names_every_module_of_gatewayproj():
    paragraph = ARCHITECTURE[ARCHITECTURE.index("**`gatewayproj/`**") :].split("\n\n")[0]
    modules = {path.name for path in (ROOT / "gatewayproj").iterdir() if path.name != "__init__.py"}
    named = {name for name in modules if f"`{name}`" in paragraph or f"`{name}/`" in paragraph}

    assert named == modules - {"__pycache__"}


def test_the_policy_package_says_what_each_of_its_modules_is_for():
    import oauthgw.issuing

    modules = {info.name for info in pkgutil.iter_modules(oauthgw.issuing.__path__)}
    assert {name for name in modules if f"``{name}``" not in oauthgw.issuing.__doc__} == set()


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


# (what is relied on, where, a check that returns True while it holds)
def _toolkit_validator():
    from oauth2_provider.oauth2_validators import OAuth2Validator

    return OAuth2Validator


PINS = [
    (
        "OAuth2Validator._extract_basic_auth(request)",
        "oauthgw.toolkit.oauth2_validators.GatewayOAuth2Validator._extract_basic_auth (overridden)",
        lambda: _parameters(_toolkit_validator()._extract_basic_auth) == ["self", "request"],
    ),
    (
        "OAuth2Validator._load_application(client_id, request)",
        "GatewayOAuth2Validator._load_application (overridden: one read per request)",
        lambda: _parameters(_toolkit_validator()._load_application) == ["self", "client_id", "request"],
    ),
    (
        "OAuth2Validator._load_access_token(token)",
        "GatewayOAuth2Validator._load_access_token (overridden: the bearer cache)",
        lambda: _parameters(_toolkit_validator()._load_access_token) == ["self", "token"],
    ),
    (
        "OAuth2Validator._save_bearer_token(token, request, *args, **kwargs)",
        "GatewayOAuth2Validator._save_bearer_token (overridden: refresh rotation)",
        lambda: _parameters(_toolkit_validator()._save_bearer_token)[:3] == ["self", "token", "request"],
    ),
    (
        "OAuth2Validator._create_access_token(expires, request, token, source_refresh_token=None)",
        "oauthgw.issuing.refresh.refresh_token_rotate",
        lambda: (
            _parameters(_toolkit_validator()._create_access_token)[:5]
            == ["self", "expires", "request", "token", "source_refresh_token"]
        ),
    ),
    (
        "OAuth2Validator._create_access_token returns the AccessToken it saved",
        "GatewayOAuth2Validator._create_access_token (overridden: what a code's exchange issued, for a replay)",
        lambda: "return access_token" in inspect.getsource(_toolkit_validator()._create_access_token),
    ),
    (
        "AuthorizationCodeGrant._code_challenge_methods (the PKCE methods, by name)",
        "oauthgw.toolkit.server.S256AuthorizationCodeGrant (only S256)",
        lambda: (
            set(__import__("oauthlib.oauth2", fromlist=["x"]).AuthorizationCodeGrant._code_challenge_methods)
            == {"plain", "S256"}
        ),
    ),
    (
        "AuthorizationView: LoginRequiredMixin's check in dispatch; BaseAuthorizationView.redirect(to, application)",
        "oauthgw.views.authorize.AuthorizeView.dispatch (skips Django's login for the gateway's own session)",
        lambda: _authorization_view_shape(),
    ),
    (
        "OAuthLibCore.create_authorization_response adds credentials['user'] = request.user",
        "oauthgw.views.authorize.AuthorizeView.answer (the login session's user is set on the request)",
        lambda: (
            'credentials["user"] = request.user'
            in inspect.getsource(
                __import__("oauth2_provider.oauth2_backends", fromlist=["x"]).OAuthLibCore.create_authorization_response
            )
        ),
    ),
    (
        "OAuth2Validator._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)",
        "oauthgw.issuing.refresh.refresh_token_rotate, and GatewayOAuth2Validator._create_refresh_token "
        "(overridden: a new family starts a session)",
        lambda: (
            _parameters(_toolkit_validator()._create_refresh_token)
            == ["self", "request", "refresh_token_code", "access_token", "previous_refresh_token"]
        ),
    ),
    (
        "OAuth2Validator._check_and_set_request_resource(request)",
        "oauthgw.issuing.refresh.refresh_token_rotate",
        lambda: _parameters(_toolkit_validator()._check_and_set_request_resource) == ["self", "request"],
    ),
    (
        "request.refresh_token_instance (set by OAuth2Validator.validate_refresh_token; read by "
        "get_original_scopes, _check_and_set_request_resource and _save_bearer_token)",
        "oauthgw.issuing.refresh._live_token_valid (sets it as the toolkit would: revisit it first), "
        "refresh_token_validate and oauthgw.issuing.jwt_access_tokens.jwt_audience (read it)",
        lambda: _refresh_token_instance_shape(),
    ),
    (
        "OAuthLibCore._extract_params(request) -> (uri, method, body, headers)",
        "oauthgw.toolkit.client_authentication.authenticated_client",
        lambda: (
            _parameters(__import__("oauth2_provider.oauth2_backends", fromlist=["x"]).OAuthLibCore._extract_params)
            == ["self", "request"]
        ),
    ),
    (
        "OAuthServerMetadataView._get_endpoint_url(request, view_name, required=False)",
        "oauthgw.views.metadata.ServerMetadataView (overridden: endpoints under the issuer; and jwks_uri)",
        lambda: (
            _parameters(__import__("oauth2_provider.views", fromlist=["x"]).OAuthServerMetadataView._get_endpoint_url)
            == ["self", "request", "view_name", "required"]
        ),
    ),
    (
        "RedisCacheClient._get_connection_pool(write) and ._client",
        "oauthgw.caching.redis.ReusingRedisCacheClient.get_client",
        lambda: _redis_cache_client_shape(),
    ),
    (
        "RedisCache._class and ._cache",
        "oauthgw.caching.redis.GatewayRedisCache, oauthgw.caching.shared_state._redis_counters_add",
        lambda: _redis_cache_shape(),
    ),
    (
        "redis Connection._parser.set_invalidation_push_handler, can_read(timeout), read_response(push_request)",
        "oauthgw.caching.near_cache._Tracker",
        lambda: _redis_connection_shape(),
    ),
    (
        "HttpResponse._has_been_logged (Django's log_response skips a response that has it)",
        "oauthgw.middleware, oauthgw.views.token",
        lambda: "_has_been_logged" in inspect.getsource(__import__("django.utils.log", fromlist=["x"]).log_response),
    ),
    (
        "Field.get_col(alias), ops.get_db_converters(expression), Col.get_db_converters(connection)",
        "oauthgw.caching.joined_rows (the client and token reads built once per connection)",
        lambda: _joined_rows_shape(),
    ),
    (
        "ForeignKey.set_cached_value(instance, value) (what select_related fills)",
        "oauthgw.issuing.clients.client_load, oauthgw.caching.bearer_cache._token_from_db",
        lambda: (
            _parameters(__import__("django.db.models", fromlist=["x"]).ForeignKey.set_cached_value)
            == ["self", "instance", "value"]
        ),
    ),
    (
        "gunicorn Request.unreader.sock",
        "gunicorn.conf.py pre_request (the body read timeout)",
        lambda: (
            "self.sock = sock" in inspect.getsource(__import__("gunicorn.http.unreader", fromlist=["x"]).SocketUnreader)
        ),
    ),
]


def _authorization_view_shape() -> bool:
    from django.contrib.auth.mixins import LoginRequiredMixin
    from oauth2_provider.views import AuthorizationView
    from oauth2_provider.views.base import BaseAuthorizationView

    return (
        LoginRequiredMixin in AuthorizationView.__mro__
        and _parameters(BaseAuthorizationView.redirect) == ["self", "redirect_to", "application"]
        and "self.oauth2_data = {}" in inspect.getsource(BaseAuthorizationView.dispatch)
    )


def _joined_rows_shape() -> bool:
    from django.db.backends.base.operations import BaseDatabaseOperations
    from django.db.models import Field
    from django.db.models.expressions import Col

    return (
        _parameters(Field.get_col) == ["self", "alias", "output_field"]
        and _parameters(BaseDatabaseOperations.get_db_converters) == ["self", "expression"]
        and _parameters(Col.get_db_converters) == ["self", "connection"]
    )


def _refresh_token_instance_shape() -> bool:
    validator = _toolkit_validator()
    sets = "request.refresh_token_instance = " in inspect.getsource(validator.validate_refresh_token)
    readers = (validator.get_original_scopes, validator._check_and_set_request_resource, validator._save_bearer_token)
    return sets and all("refresh_token_instance" in inspect.getsource(reader) for reader in readers)


def _redis_cache_client_shape() -> bool:
    from django.core.cache.backends.redis import RedisCacheClient

    source = inspect.getsource(RedisCacheClient)
    return "def _get_connection_pool(self, write)" in source and "self._client = " in source


def _redis_cache_shape() -> bool:
    from django.core.cache.backends.redis import RedisCache

    source = inspect.getsource(RedisCache)
    return "self._class = RedisCacheClient" in source and "def _cache(self)" in source


def _redis_connection_shape() -> bool:
    import redis

    # The connection the tracker opens (RESP3, hiredis when installed); nothing is sent.
    connection = redis.Redis(protocol=3).connection_pool.make_connection()
    return (
        "timeout" in _parameters(type(connection).can_read)
        and "push_request" in _parameters(type(connection).read_response)
        and hasattr(type(connection._parser), "set_invalidation_push_handler")
    )


@pytest.mark.parametrize(("relied_on", "revisit", "holds"), PINS, ids=[pin[0].split("(")[0] for pin in PINS])
def test_a_private_api_the_gateway_relies_on_keeps_its_shape(relied_on, revisit, holds):
    assert holds(), f"{relied_on} changed: revisit {revisit}"


@pytest.mark.parametrize("relied_on", [pin[0] for pin in PINS], ids=[pin[0].split("(")[0] for pin in PINS])
def test_the_architecture_page_lists_each_private_api_pinned_here(relied_on):
    name = re.search(r"\.(\w+)", relied_on).group(1)
    private_apis = ARCHITECTURE[ARCHITECTURE.index("## Private APIs") :]

    assert name in private_apis, f"docs/architecture.md does not list {relied_on}"
