"""``manage.py create_client``: registers a client and shows its secret exactly once."""

import io
import json
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from oauthgw.models import Application

pytestmark = pytest.mark.django_db


def create_client(*args: str) -> str:
    out = io.StringIO()
    call_command("create_client", *args, stdout=out)
    return out.getvalue()


def test_json_output_has_client_id_and_secret():
    printed = json.loads(create_client("mobile", "--grant-types", "password,refresh_token", "--json"))

    assert set(printed) == {"client_id", "client_secret"}
    assert Application.objects.get(client_id=printed["client_id"]).name == "mobile"


def test_printed_secret_works_at_the_token_endpoint(post_token, upstream):
    printed = json.loads(create_client("mobile", "--grant-types", "password,refresh_token", "--json"))
    app = Application.objects.get(client_id=printed["client_id"])
    app.raw_secret = printed["client_secret"]
    upstream.accepts()

    response = post_token({"grant_type": "password", "username": "alice", "password": "pw"}, app=app)

    assert response.status_code == 200, response.content
    assert "refresh_token" in response.json()


def test_database_holds_only_a_hash_of_the_secret():
    printed = json.loads(create_client("mobile", "--json"))

    stored = Application.objects.get(client_id=printed["client_id"]).client_secret
    assert stored.startswith("oauthgw_hmac_sha256$")
    assert printed["client_secret"] not in stored


def test_options_become_the_clients_grants_and_scopes():
    printed = json.loads(
        create_client("robot", "--grant-types", "client_credentials", "--scopes", "hello", "--can-introspect", "--json")
    )

    app = Application.objects.get(client_id=printed["client_id"])
    assert app.grant_type_set == {"client_credentials"}
    assert app.allowed_scope_set == app.default_scope_set == {"hello"}
    assert app.enabled and app.can_introspect


def test_plain_output_shows_id_and_secret():
    printed = create_client("mobile")

    app = Application.objects.get(name="mobile")
    assert app.client_id in printed
    assert "client_secret" in printed


@pytest.mark.parametrize("grant_types", ["implicit", "password,device_code"])
def test_unknown_grant_type_is_a_command_error(grant_types):
    with pytest.raises(CommandError, match="unknown grant types"):
        create_client("bad", "--grant-types", grant_types, "--json")

    assert not Application.objects.exists()


def test_unknown_scope_is_a_command_error():
    with pytest.raises(CommandError):
        create_client("bad", "--scopes", "admin", "--json")

    assert not Application.objects.exists()


def test_default_scopes_outside_the_allowed_scopes_is_a_command_error():
    with pytest.raises(CommandError):
        create_client("bad", "--scopes", "hello", "--default-scopes", "admin", "--json")


def test_a_name_another_client_has_in_any_case_is_refused_with_a_clear_error():
    create_client("Mobile")

    with pytest.raises(CommandError) as refused:
        create_client("mobile")

    assert str(refused.value) == "A client with this name already exists (names ignore case)."
    assert Application.objects.count() == 1


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused(name):
    with pytest.raises(CommandError) as refused:
        create_client(name)

    assert str(refused.value) == "This field cannot be blank."


def test_token_format_jwt_gives_the_client_jwt_access_tokens(post_token):
    printed = json.loads(
        create_client("orders", "--grant-types", "client_credentials", "--token-format", "jwt", "--json")
    )
    app = Application.objects.get(client_id=printed["client_id"])
    app.raw_secret = printed["client_secret"]

    body = post_token({"grant_type": "client_credentials"}, app=app).json()

    assert app.token_format == "jwt"
    assert body["access_token"].count(".") == 2
    assert body["expires_in"] == 300


@pytest.mark.parametrize(
    "audience",
    [
        "https://orders.example,https://stock.example",
        "https://orders.example, https://stock.example",
        "https://orders.example https://stock.example",
    ],
)
def test_audiences_are_separated_by_commas_or_spaces_and_stored_space_separated(audience):
    create_client("orders", "--token-format", "jwt", "--audience", audience)

    assert Application.objects.get(name="orders").audience == "https://orders.example https://stock.example"


def test_an_unknown_token_format_is_refused():
    with pytest.raises(CommandError):
        create_client("orders", "--token-format", "paseto")


def test_password_grant_until_sets_the_sunset_and_when_it_was_announced(post_token, upstream):
    printed = json.loads(create_client("legacy-app", "--password-grant-until", "2031-06-30", "--json"))
    app = Application.objects.get(client_id=printed["client_id"])
    app.raw_secret = printed["client_secret"]
    upstream.accepts()

    response = post_token({"grant_type": "password", "username": "alice", "password": "pw"}, app=app)

    assert app.password_grant_until == date(2031, 6, 30)
    assert app.password_grant_deprecated is not None
    assert response.status_code == 200
    assert response["Sunset"] == "Tue, 01 Jul 2031 00:00:00 GMT"


def test_without_password_grant_until_a_client_has_no_sunset():
    create_client("new-app")

    app = Application.objects.get(name="new-app")
    assert (app.password_grant_until, app.password_grant_deprecated) == (None, None)


@pytest.mark.parametrize("value", ["2031-02-30", "30.06.2031", "soon"])
def test_an_invalid_password_grant_until_is_a_command_error_and_creates_nothing(value):
    with pytest.raises(CommandError) as refused:
        create_client("legacy-app", "--password-grant-until", value)

    assert str(refused.value) == (
        f"{value!r} is not a date: give the password grant's last day (UTC) as YYYY-MM-DD, or none to clear it."
    )


# --- The authorization code flow ---------------------------------------------------------------


def test_a_public_code_flow_client_prints_its_client_id_and_no_secret():
    printed = json.loads(
        create_client(
            "native",
            "--grant-types",
            "authorization_code,refresh_token",
            "--redirect-uris",
            "com.example.native:/cb,http://127.0.0.1/cb",
            "--public",
            "--skip-consent",
            "--allowed-origins",
            "https://spa.example",
            "--json",
        )
    )

    assert set(printed) == {"client_id"}
    app = Application.objects.get(client_id=printed["client_id"])
    assert (app.is_public, app.skip_authorization) == (True, True)
    assert app.redirect_uri_list == ["com.example.native:/cb", "http://127.0.0.1/cb"]
    assert app.allowed_origin_list == ["https://spa.example"]


def test_a_confidential_code_flow_client_prints_its_secret():
    printed = json.loads(
        create_client(
            "web", "--grant-types", "authorization_code", "--redirect-uris", "https://web.example/cb", "--json"
        )
    )

    assert set(printed) == {"client_id", "client_secret"}
    assert not Application.objects.get(client_id=printed["client_id"]).skip_authorization


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("--grant-types", "authorization_code"), "redirect URI"),
        (("--grant-types", "authorization_code", "--redirect-uris", "http://web.example/cb"), "loopback"),
        (("--grant-types", "password", "--public"), "public client"),
    ],
)
def test_a_code_flow_client_that_cannot_work_is_a_command_error(arguments, says):
    with pytest.raises(CommandError, match=says):
        create_client("bad", *arguments, "--json")

    assert not Application.objects.exists()


@pytest.mark.parametrize("mode", ["required", "optional", "off"])
def test_dpop_sets_the_clients_mode(mode):
    create_client("mobile", "--dpop", mode)

    assert Application.objects.get(name="mobile").dpop == mode


def test_without_dpop_a_client_takes_proofs_when_sent():
    create_client("mobile")

    assert Application.objects.get(name="mobile").dpop == "optional"


def test_an_unknown_dpop_mode_is_refused():
    with pytest.raises(CommandError):
        create_client("mobile", "--dpop", "sometimes")

    assert not Application.objects.exists()
