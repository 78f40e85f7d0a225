"""``enable_client``, ``disable_client`` and ``delete_client``: a client named by its id or its name."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from oauthgw.models import Application, DeletedClient

pytestmark = pytest.mark.django_db


def run(*args: str, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


@pytest.mark.parametrize("command", ["disable_client", "enable_client"])
@pytest.mark.parametrize("named_by", ["client id", "name", "name in another case"])
def test_a_client_is_named_by_its_client_id_or_its_name(make_client, command, named_by):
    app = make_client(name="Mobile-App", enabled=command == "disable_client")
    identifier = {"client id": app.client_id, "name": "Mobile-App", "name in another case": "mobile-app"}[named_by]

    printed = run(command, identifier)

    app.refresh_from_db()
    assert app.enabled is (command == "enable_client")
    assert printed.startswith(f"Mobile-App ({app.client_id}) is now ")


@pytest.mark.parametrize("command", ["disable_client", "enable_client", "delete_client"])
def test_an_unknown_client_is_an_error(make_client, command):
    make_client(name="mobile-app")

    options = {"interactive": False} if command == "delete_client" else {}

    with pytest.raises(CommandError) as refused:
        run(command, "no-such-app", **options)

    assert str(refused.value) == "No client has the client id or the name 'no-such-app'."


def test_an_id_that_is_another_clients_name_is_an_error_that_says_what_to_give_instead(make_client):
    first = make_client(name="first", client_id="billing")
    second = make_client(name="billing")

    with pytest.raises(CommandError) as refused:
        run("disable_client", "billing")

    assert str(refused.value) == (
        f"'billing' is the client id of 'first' and the name of another client (client id {second.client_id}): "
        f"give 'first' or {second.client_id} instead."
    )
    assert Application.objects.filter(enabled=True).count() == 2
    run("disable_client", "first")
    assert not Application.objects.get(pk=first.pk).enabled


def test_delete_client_asks_for_the_name_before_deleting(make_client, monkeypatch):
    app = make_client(name="retired-app")
    monkeypatch.setattr("builtins.input", lambda prompt: "retired-app")

    printed = run("delete_client", app.client_id)

    assert not Application.objects.filter(pk=app.pk).exists()
    assert DeletedClient.objects.get(client_id=app.client_id).name == "retired-app"
    assert f"Deleted retired-app ({app.client_id}): deleted with it: live access tokens 0" in printed


def test_delete_client_deletes_nothing_when_the_answer_is_not_the_name(make_client, monkeypatch):
    app = make_client(name="retired-app")
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")

    with pytest.raises(CommandError, match=r"^Not deleted\.$"):
        run("delete_client", "retired-app")

    assert Application.objects.filter(pk=app.pk).exists()


def test_delete_client_without_input_deletes_at_once(make_client):
    app = make_client(name="retired-app")

    run("delete_client", "retired-app", interactive=False)

    assert not Application.objects.filter(pk=app.pk).exists()
