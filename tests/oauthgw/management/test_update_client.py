"""``manage.py update_client``: change an existing client's settings, named by its client id or its name."""

import io
import subprocess
import sys
from datetime import UTC, date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from oauthgw.models import Application
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db


def update_client(*args: str) -> str:
    out = io.StringIO()
    call_command("update_client", *args, stdout=out)
    return out.getvalue()


def today() -> date:
    return timezone.now().astimezone(UTC).date()


@pytest.mark.parametrize("named_by", ["client id", "name"])
def test_password_grant_until_sets_the_last_day_of_a_client_named_by_id_or_name(make_client, named_by):
    app = make_client(name="Legacy-App")

    printed = update_client(
        app.client_id if named_by == "client id" else "legacy-app", "--password-grant-until", "2031-06-30"
    )

    app.refresh_from_db()
    assert app.password_grant_until == date(2031, 6, 30)
    assert app.password_grant_deprecated is not None
    assert printed == (
        f"Legacy-App ({app.client_id}): its password grant's last day is 2031-06-30 (UTC): refused from "
        "2031-07-01 00:00 UTC, announced in its answers until then.\n"
    )


def test_moving_the_date_keeps_when_it_was_first_announced_and_none_clears_both(make_client):
    app = make_client(name="legacy-app")
    update_client("legacy-app", "--password-grant-until", "2031-06-30")
    first = Application.objects.get(pk=app.pk).password_grant_deprecated

    update_client("legacy-app", "--password-grant-until", "2031-09-30")
    assert Application.objects.get(pk=app.pk).password_grant_deprecated == first

    printed = update_client("legacy-app", "--password-grant-until", "none")
    app.refresh_from_db()
    assert (app.password_grant_until, app.password_grant_deprecated) == (None, None)
    assert printed == (
        f"legacy-app ({app.client_id}): its password grant has no last day: no sunset, and its answers announce none.\n"
    )


def test_the_same_date_again_changes_nothing_and_says_so(make_client):
    app = make_client(name="legacy-app")
    update_client("legacy-app", "--password-grant-until", "2031-06-30")

    printed = update_client("legacy-app", "--password-grant-until", "2031-06-30")

    assert printed.startswith(f"legacy-app ({app.client_id}) (unchanged): its password grant's last day is 2031-06-30")


def test_a_past_day_says_the_grant_is_refused_already(make_client):
    app = make_client(name="legacy-app")
    yesterday = today() - timedelta(days=1)

    printed = update_client("legacy-app", "--password-grant-until", yesterday.isoformat())

    assert printed == (
        f"legacy-app ({app.client_id}): its password grant's last day was {yesterday.isoformat()} (UTC): "
        f"refused since {today().isoformat()} 00:00 UTC.\n"
    )


def test_a_client_without_the_password_grant_is_told_it_changes_nothing_for_now(make_client):
    make_client(name="robot", grant_types="client_credentials")

    printed = update_client("robot", "--password-grant-until", "2031-06-30")

    assert printed.endswith("; it does not have the password grant, so this changes nothing for now.\n")


def test_nothing_to_change_is_an_error(make_client):
    make_client(name="legacy-app")

    with pytest.raises(CommandError) as refused:
        update_client("legacy-app")

    assert str(refused.value) == "Nothing to change: give --password-grant-until or --dpop."


def test_an_unknown_client_is_an_error(make_client):
    with pytest.raises(CommandError) as refused:
        update_client("no-such-app", "--password-grant-until", "2031-06-30")

    assert str(refused.value) == "No client has the client id or the name 'no-such-app'."


@pytest.mark.parametrize("value", ["2031-13-01", "2031/06/30", "31-06-2031", "next week", ""])
def test_an_invalid_date_changes_nothing(make_client, value):
    app = make_client(name="legacy-app")
    update_client("legacy-app", "--password-grant-until", "2031-06-30")

    with pytest.raises(CommandError) as refused:
        update_client("legacy-app", "--password-grant-until", value)

    assert "is not a date: give the password grant's last day (UTC) as YYYY-MM-DD, or none to clear it." in str(
        refused.value
    )
    assert Application.objects.get(pk=app.pk).password_grant_until == date(2031, 6, 30)


def test_from_the_command_line_an_invalid_date_exits_1_with_the_error_alone(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "update_client", "legacy-app", "--password-grant-until", "2031-02-30"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DJANGO_LOG_LEVEL": "ERROR",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "CommandError: '2031-02-30' is not a date: give the password grant's last day (UTC) as YYYY-MM-DD, "
        "or none to clear it.\n"
    )


# --- DPoP ---------------------------------------------------------------------------------


def test_dpop_required_makes_the_client_send_proofs_from_its_next_request(make_client, post_token):
    app = make_client(name="mobile-app")
    assert post_token({"grant_type": "client_credentials"}, app=app).status_code == 200

    printed = update_client("mobile-app", "--dpop", "Required")

    assert printed == (
        f"mobile-app ({app.client_id}): DPoP required: token requests without a DPoP proof are refused "
        "(invalid_dpop_proof).\n"
    )
    assert post_token({"grant_type": "client_credentials"}, app=app).json()["error"] == "invalid_dpop_proof"


def test_dpop_off_and_back_to_optional(make_client):
    make_client(name="mobile-app")

    assert "DPoP off: the DPoP header is ignored" in update_client("mobile-app", "--dpop", "off")
    assert "(unchanged)" in update_client("mobile-app", "--dpop", "off")
    assert "DPoP optional" in update_client("mobile-app", "--dpop", "optional")
    assert Application.objects.get(name="mobile-app").dpop == "optional"


def test_a_public_client_required_by_the_setting_is_told_so(make_client, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_REQUIRED_FOR_PUBLIC_CLIENTS": True}
    make_client(
        name="spa",
        client_type="public",
        grant_types="authorization_code refresh_token",
        redirect_uris="https://app.example/callback",
    )

    printed = update_client("spa", "--dpop", "off")

    assert "DPoP required" in printed
    assert "(OAUTHGW_DPOP_REQUIRED_FOR_PUBLIC_CLIENTS, whatever its own: off)" in printed


def test_an_unknown_dpop_mode_changes_nothing(make_client):
    make_client(name="mobile-app")

    with pytest.raises(CommandError) as refused:
        update_client("mobile-app", "--dpop", "sometimes", "--password-grant-until", "2031-06-30")

    assert str(refused.value) == "'sometimes' is not a DPoP mode: give required, optional or off."
    app = Application.objects.get(name="mobile-app")
    assert (app.dpop, app.password_grant_until) == ("optional", None)
