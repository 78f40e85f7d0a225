"""The clients admin: one-time secret page, custom secrets, rotation, enable/disable, history."""

import re
from datetime import UTC, date, timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from oauthgw.admin.display import datetime_display
from oauthgw.hashers import MIN_CUSTOM_SECRET_LENGTH
from oauthgw.issuing.password_sunset import password_grant_until_set
from oauthgw.models import Application
from tests.oauthgw.admin.conftest import messages_of

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/oauthgw/application/add/"
CHANGELIST_URL = "/admin/oauthgw/application/"


def form_token(page) -> str:
    """The one-time token of the form on ``page``, as a browser would send it back."""
    match = re.search(r'name="form_token" value="([^"]+)"', page.content.decode())
    assert match, "the form carries a one-time token"
    return match.group(1)


@pytest.fixture
def add_form(admin_client):
    """The add form's fields, with a token from a real rendering of the add page."""

    def fields(**overrides) -> dict:
        return {
            "name": "portal",
            "enabled": "on",
            "grant_types": ["client_credentials", "password"],
            "allowed_scopes": ["hello"],
            "default_scopes": ["hello"],
            "authorization_server": "",
            "token_format": "opaque",
            "audience": "",
            "custom_secret": "",
            "form_token": form_token(admin_client.get(ADD_URL)),
            **overrides,
        }

    return fields


@pytest.fixture
def rotate_form(admin_client):
    def fields(app, **overrides) -> dict:
        page = admin_client.get(reverse("admin:oauthgw_application_rotate_secret", args=[app.pk]))
        return {"grace": "3600", "custom_secret": "", "form_token": form_token(page), **overrides}

    return fields


def shown_secret(response) -> str:
    match = re.search(r'<code id="client-secret">([^<]+)</code>', response.content.decode())
    assert match, "the secret page shows the secret"
    return match.group(1)


def test_adding_a_client_shows_its_generated_secret_once(admin_client, add_form, client_credentials_token):
    response = admin_client.post(ADD_URL, add_form())

    assert response.status_code == 200
    secret = shown_secret(response)
    app = Application.objects.get(name="portal")
    assert len(secret) >= 64
    assert client_credentials_token(app.client_id, secret).status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_secret_is_in_no_message_no_session_and_not_stored_raw(admin_client, add_form):
    response = admin_client.post(ADD_URL, add_form())
    secret = shown_secret(response)
    app = Application.objects.get(name="portal")

    later = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk]))

    assert secret not in later.content.decode()
    assert not any(secret in message for message in messages_of(response) + messages_of(later))
    assert all(secret not in str(value) for value in admin_client.session.values())
    assert secret not in app.client_secret


def test_adding_a_client_is_logged(admin_client, add_form, admin_user):
    admin_client.post(ADD_URL, add_form())

    entry = LogEntry.objects.get(object_repr="portal")
    assert (entry.user, entry.is_addition()) == (admin_user, True)


def test_a_short_custom_secret_is_refused_with_a_form_error(admin_client, add_form):
    response = admin_client.post(ADD_URL, add_form(custom_secret="short-but-typed-by-hand"))

    assert response.status_code == 200
    assert f"at least {MIN_CUSTOM_SECRET_LENGTH} characters" in response.content.decode()
    assert not Application.objects.exists()


def test_a_long_custom_secret_is_used(admin_client, add_form, client_credentials_token):
    custom = "c" * MIN_CUSTOM_SECRET_LENGTH

    response = admin_client.post(ADD_URL, add_form(custom_secret=custom))

    assert shown_secret(response) == custom
    assert client_credentials_token(Application.objects.get().client_id, custom).status_code == 200


def test_the_default_scopes_must_be_allowed(admin_client, add_form):
    response = admin_client.post(ADD_URL, add_form(allowed_scopes=[], default_scopes=["hello"]))

    assert "Default scopes must be among the allowed scopes" in response.content.decode()


def test_rotating_shows_the_new_secret_once_and_keeps_the_old_for_the_grace(
    admin_client, make_client, rotate_form, client_credentials_token
):
    app = make_client()
    url = reverse("admin:oauthgw_application_rotate_secret", args=[app.pk])

    response = admin_client.post(url, rotate_form(app, grace="3600"))

    new_secret = shown_secret(response)
    until = Application.objects.get(pk=app.pk).previous_secret_expires
    assert f"previous secret is still accepted until <strong>{until:%Y-%m-%d %H:%M} UTC" in response.content.decode()
    assert client_credentials_token(app.client_id, new_secret).status_code == 200
    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 200
    assert LogEntry.objects.get(object_id=str(app.pk)).get_change_message() == (
        f"Secret rotated (previous valid until {until:%Y-%m-%d %H:%M} UTC)."
    )


def test_rotating_without_grace_retires_the_old_secret(
    admin_client, make_client, rotate_form, client_credentials_token
):
    app = make_client()

    admin_client.post(reverse("admin:oauthgw_application_rotate_secret", args=[app.pk]), rotate_form(app, grace="0"))

    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 401
    assert LogEntry.objects.get().get_change_message() == "Secret rotated (previous stopped at once)."


def test_the_rotation_form_keeps_the_old_secret_for_24_hours_unless_told_otherwise(admin_client, make_client):
    app = make_client()

    page = admin_client.get(reverse("admin:oauthgw_application_rotate_secret", args=[app.pk]))

    assert page.context["form"]["grace"].value() == 24 * 3600
    assert '<option value="86400" selected>24 hours</option>' in page.content.decode()


def test_rotating_with_a_short_custom_secret_is_a_form_error(admin_client, make_client, rotate_form):
    app = make_client()
    url = reverse("admin:oauthgw_application_rotate_secret", args=[app.pk])

    response = admin_client.post(url, rotate_form(app, grace="0", custom_secret="tiny"))

    assert response.status_code == 200
    assert f"at least {MIN_CUSTOM_SECRET_LENGTH} characters" in response.content.decode()
    assert Application.objects.get(pk=app.pk).secret_rotated is None


def test_the_change_page_links_to_rotation(admin_client, make_client):
    app = make_client()

    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()

    assert reverse("admin:oauthgw_application_rotate_secret", args=[app.pk]) in page


def test_the_disable_action_refuses_the_client_at_once_and_is_logged(
    admin_client, make_client, client_credentials_token
):
    app = make_client()
    token = client_credentials_token(app.client_id, app.raw_secret).json()["access_token"]

    admin_client.post(CHANGELIST_URL, {"action": "disable_clients", "_selected_action": [app.pk]})

    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 401
    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert LogEntry.objects.get(object_id=str(app.pk)).get_change_message() == "Disabled; all its tokens were revoked."


def test_the_enable_action_lets_the_client_back_in(admin_client, make_client, client_credentials_token):
    app = make_client(enabled=False)

    admin_client.post(CHANGELIST_URL, {"action": "enable_clients", "_selected_action": [app.pk]})

    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 200


def test_the_revoke_all_action_ends_the_clients_tokens(admin_client, make_client, client_credentials_token):
    app = make_client()
    token = client_credentials_token(app.client_id, app.raw_secret).json()["access_token"]

    response = admin_client.post(
        CHANGELIST_URL, {"action": "revoke_client_tokens", "_selected_action": [app.pk]}, follow=True
    )

    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    assert "Revoked 1 access token, 0 refresh tokens." in messages_of(response)
    assert "Revoked all tokens" in LogEntry.objects.get(object_id=str(app.pk)).get_change_message()


def test_the_rotate_action_needs_exactly_one_client(admin_client, make_client):
    first, second = make_client(), make_client()

    one = admin_client.post(CHANGELIST_URL, {"action": "rotate_secret", "_selected_action": [first.pk]})
    two = admin_client.post(
        CHANGELIST_URL, {"action": "rotate_secret", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert one.status_code == 302
    assert one["Location"] == reverse("admin:oauthgw_application_rotate_secret", args=[first.pk])
    assert "Select exactly one client to rotate its secret." in messages_of(two)


def test_the_list_shows_when_a_client_last_got_a_token(admin_client, make_client, client_credentials_token):
    used = make_client(name="used-client")
    make_client(name="unused-client")
    client_credentials_token(used.client_id, used.raw_secret)

    response = admin_client.get(CHANGELIST_URL)

    rows = {app.name: app.last_used_at for app in response.context["cl"].result_list}
    assert rows["used-client"] is not None
    assert rows["unused-client"] is None


def test_the_list_filters_by_grant_type(admin_client, make_client):
    make_client(name="machine", grant_types="client_credentials")
    make_client(name="app", grant_types="password refresh_token")

    response = admin_client.get(CHANGELIST_URL, {"grant_type": "refresh_token"})

    assert [app.name for app in response.context["cl"].result_list] == ["app"]


# --- One submission per form: a reload or a retry changes nothing --------------------


def test_the_same_add_post_twice_creates_one_client_and_shows_no_secret_the_second_time(admin_client, add_form):
    fields = add_form()

    first = admin_client.post(ADD_URL, fields)
    second = admin_client.post(ADD_URL, fields)

    secret = shown_secret(first)
    app = Application.objects.get()
    assert second.status_code == 409
    page = second.content.decode()
    assert "Already done — the secret cannot be shown again." in page
    assert secret not in page
    assert reverse("admin:oauthgw_application_change", args=[app.pk]) in page
    assert "no-store" in second["Cache-Control"]
    assert LogEntry.objects.filter(action_flag=ADDITION).count() == 1


def test_the_same_rotate_post_twice_rotates_once_and_the_grace_period_holds(
    admin_client, make_client, rotate_form, client_credentials_token
):
    app = make_client()
    url = reverse("admin:oauthgw_application_rotate_secret", args=[app.pk])
    fields = rotate_form(app, grace="3600")

    first = admin_client.post(url, fields)
    second = admin_client.post(url, fields)

    new_secret = shown_secret(first)
    assert second.status_code == 409
    assert "Already done — the secret cannot be shown again." in second.content.decode()
    assert new_secret not in second.content.decode()
    # Still the first rotation: its new secret and the original one (in its grace period) both work.
    assert client_credentials_token(app.client_id, new_secret).status_code == 200
    assert client_credentials_token(app.client_id, app.raw_secret).status_code == 200
    assert LogEntry.objects.filter(object_id=str(app.pk)).count() == 1


def test_a_form_without_its_token_is_refused_and_rendered_with_a_new_one(admin_client, add_form):
    response = admin_client.post(ADD_URL, add_form(form_token="made-up"))

    assert response.status_code == 200
    assert "This form has expired or did not come from this page" in response.content.decode()
    assert form_token(response) != "made-up"
    assert not Application.objects.exists()


def test_a_rotation_token_is_good_for_its_own_client_only(admin_client, make_client, rotate_form):
    mine, other = make_client(), make_client()

    response = admin_client.post(
        reverse("admin:oauthgw_application_rotate_secret", args=[other.pk]), rotate_form(mine, grace="0")
    )

    assert "This form has expired or did not come from this page" in response.content.decode()
    assert Application.objects.get(pk=other.pk).secret_rotated is None


def test_a_failed_submission_can_be_corrected_with_the_same_page(admin_client, add_form):
    fields = add_form(custom_secret="too-short")
    refused = admin_client.post(ADD_URL, fields)

    corrected = admin_client.post(ADD_URL, {**fields, "custom_secret": "", "form_token": form_token(refused)})

    assert shown_secret(corrected)
    assert Application.objects.count() == 1


# --- Names, description and contact --------------------------------------------------


def test_a_client_needs_a_name(admin_client, add_form):
    response = admin_client.post(ADD_URL, add_form(name="   "))

    assert response.context["adminform"].form.errors["name"] == ["This field is required."]
    assert not Application.objects.exists()


def test_two_clients_cannot_share_a_name_whatever_its_case(admin_client, add_form, make_client):
    make_client(name="Billing")

    response = admin_client.post(ADD_URL, add_form(name="billing"))

    assert response.context["adminform"].form.errors["name"] == [
        "The client 'Billing' already has this name; names must differ in more than case."
    ]
    assert Application.objects.count() == 1


def test_the_database_refuses_a_second_name_differing_in_case_only(make_client):
    make_client(name="Billing")

    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.create(name="BILLING", client_secret="x" * 40)


def test_the_database_refuses_a_client_without_a_name(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Application.objects.create(name="", client_secret="x" * 40)


def test_a_client_keeps_its_description_and_contact(admin_client, add_form):
    admin_client.post(ADD_URL, add_form(description="The iOS app.", contact="mobile-team@example.test"))

    app = Application.objects.get()
    assert (app.description, app.contact) == ("The iOS app.", "mobile-team@example.test")
    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()
    assert "Owner or contact" in page
    assert "The iOS app." in page


# --- History --------------------------------------------------------------------------


def change_form(app, **overrides) -> dict:
    return {
        "name": app.name,
        "description": app.description,
        "contact": app.contact,
        "enabled": "on" if app.enabled else "",
        "grant_types": app.grant_types.split(),
        "allowed_scopes": app.allowed_scopes.split(),
        "default_scopes": app.default_scopes.split(),
        "authorization_server": "",
        "token_format": app.token_format,
        "audience": app.audience,
        **overrides,
    }


def test_unticking_enabled_is_written_disabled_in_the_history(admin_client, make_client):
    app = make_client()

    admin_client.post(reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, enabled=""))

    assert LogEntry.objects.get().get_change_message() == "Disabled; all its tokens were revoked."


def test_ticking_enabled_with_another_change_names_both(admin_client, make_client):
    app = make_client(enabled=False)

    admin_client.post(
        reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, enabled="on", contact="ops")
    )

    assert LogEntry.objects.get().get_change_message() == "Enabled. Changed Owner or contact."


def test_other_changes_keep_djangos_wording(admin_client, make_client):
    app = make_client()

    admin_client.post(reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, contact="ops"))

    assert LogEntry.objects.get().get_change_message() == "Changed Owner or contact."


# --- The client's own page ------------------------------------------------------------


def test_revoking_all_tokens_asks_first_with_the_counts(admin_client, make_client, password_token):
    app = Application.objects.get(name="web-app")
    url = reverse("admin:oauthgw_application_revoke_tokens", args=[app.pk])

    page = admin_client.get(url).content.decode()

    assert "This revokes <strong>1 access token, 1 refresh token</strong>" in page
    bearer = f"Bearer {password_token['access_token']}"
    assert admin_client.get("/helloworld/", HTTP_AUTHORIZATION=bearer).status_code == 200
    assert not LogEntry.objects.exists()


def test_confirming_revokes_them_and_writes_the_counts_in_the_history(admin_client, password_token):
    app = Application.objects.get(name="web-app")

    response = admin_client.post(reverse("admin:oauthgw_application_revoke_tokens", args=[app.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:oauthgw_application_change", args=[app.pk])
    assert "Revoked 1 access token, 1 refresh token of web-app." in messages_of(response)
    hello = admin_client.get("/helloworld/", HTTP_AUTHORIZATION=f"Bearer {password_token['access_token']}")
    assert hello.status_code == 401
    assert LogEntry.objects.get().get_change_message() == "Revoked all tokens: 1 access token, 1 refresh token."


def test_every_link_on_a_clients_page_answers_without_an_error(admin_client, make_client):
    app = make_client()
    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()

    links = set(re.findall(r'href="(/[^"#]*)"', page)) - {"/static/"}
    answers = {link: admin_client.get(link.replace("&amp;", "&")).status_code for link in links}

    assert "View on site" not in page
    assert reverse("admin:oauthgw_application_revoke_tokens", args=[app.pk]) in answers
    assert "/" in answers  # "View site": the gateway's home page
    assert {link: status for link, status in answers.items() if status >= 400} == {}


def test_a_clients_page_shows_its_own_last_24_hours(admin_client, make_client, client_credentials_token):
    app, other = make_client(), make_client()
    client_credentials_token(app.client_id, app.raw_secret)
    client_credentials_token(app.client_id, "a-wrong-secret")
    client_credentials_token(other.client_id, other.raw_secret)

    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()

    assert "Usage, last 24 hours" in page
    assert '<span class="gw-number">1</span><span class="gw-label">tokens issued</span>' in page
    assert '<span class="gw-number">1</span><span class="gw-label">failed requests</span>' in page
    # Which events each number links to: tests/oauthgw/admin/test_audit_and_dashboard.py.
    assert f"result=issued&amp;client_id={app.client_id}" in page
    assert 'id="gw-chart-data"' in page


@pytest.mark.parametrize("page", ["rotate-secret", "revoke-tokens"])
@pytest.mark.parametrize("object_id", ["999999", "not-a-number"])
def test_a_clients_pages_for_no_such_client_send_back_to_the_admin(admin_client, page, object_id):
    response = admin_client.get(f"{CHANGELIST_URL}{object_id}/{page}/", follow=True)

    assert response.status_code == 200
    assert "exist. Perhaps it was deleted?" in " ".join(messages_of(response))


# --- Token format -------------------------------------------------------------------------


def test_a_client_added_with_the_jwt_format_gets_jwt_access_tokens(admin_client, add_form, client_credentials_token):
    response = admin_client.post(ADD_URL, add_form(token_format="jwt", audience="https://orders.example"))

    app = Application.objects.get(name="portal")
    token = client_credentials_token(app.client_id, shown_secret(response)).json()["access_token"]
    assert (app.token_format, app.audience) == ("jwt", "https://orders.example")
    assert token.count(".") == 2


def test_the_token_format_can_be_switched_on_the_change_page(admin_client, make_client, client_credentials_token):
    app = make_client()

    admin_client.post(reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, token_format="jwt"))

    app.refresh_from_db()
    assert app.token_format == "jwt"
    assert LogEntry.objects.get().get_change_message() == "Changed Token format."


def test_audiences_typed_with_commas_are_stored_as_the_command_stores_them(admin_client, make_client):
    app = make_client(token_format="jwt")

    admin_client.post(
        reverse("admin:oauthgw_application_change", args=[app.pk]),
        change_form(app, audience="https://orders.example,  https://stock.example,"),
    )

    app.refresh_from_db()
    assert app.audience == "https://orders.example https://stock.example"
    assert app.audience_list == ["https://orders.example", "https://stock.example"]


def test_an_audience_with_a_colon_that_is_no_uri_is_refused_next_to_the_field(admin_client, make_client):
    app = make_client(token_format="jwt")

    response = admin_client.post(
        reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, audience="9:orders")
    )

    assert response.status_code == 200
    assert "audience" in response.context["adminform"].form.errors


# --- The password grant's sunset ------------------------------------------------------


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def test_a_client_added_with_a_last_day_is_announced_from_then_on(admin_client, add_form):
    admin_client.post(ADD_URL, add_form(password_grant_until="2031-06-30"))

    app = Application.objects.get()
    assert app.password_grant_until == date(2031, 6, 30)
    assert app.password_grant_deprecated is not None


def test_the_form_says_what_the_date_does(admin_client):
    page = admin_client.get(ADD_URL).content.decode()

    assert "The last day (UTC) on which this client may use the password grant." in page
    assert "from 00:00 UTC the next day they are refused with 400 unauthorized_client" in page
    assert "Format: YYYY-MM-DD." in page


def test_setting_the_last_day_is_written_in_the_history_with_what_it_means(admin_client, make_client):
    app = make_client()

    admin_client.post(
        reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, password_grant_until="2031-06-30")
    )

    app.refresh_from_db()
    assert app.password_grant_until == date(2031, 6, 30)
    assert app.password_grant_deprecated is not None
    assert LogEntry.objects.get().get_change_message() == (
        "Password grant until changed: its password grant's last day is 2031-06-30 (UTC): refused from "
        "2031-07-01 00:00 UTC, announced in its answers until then."
    )


def test_moving_the_day_keeps_its_announcement_and_clearing_it_clears_both(admin_client, make_client):
    app = make_client()
    url = reverse("admin:oauthgw_application_change", args=[app.pk])
    admin_client.post(url, change_form(app, password_grant_until="2031-06-30"))
    first = Application.objects.get(pk=app.pk).password_grant_deprecated

    admin_client.post(url, change_form(app, password_grant_until="2031-09-30", contact="ops"))
    moved = Application.objects.get(pk=app.pk)
    admin_client.post(url, change_form(app, password_grant_until="", contact="ops"))

    assert (moved.password_grant_until, moved.password_grant_deprecated) == (date(2031, 9, 30), first)
    app.refresh_from_db()
    assert (app.password_grant_until, app.password_grant_deprecated) == (None, None)
    assert [entry.get_change_message() for entry in LogEntry.objects.order_by("pk")][1:] == [
        "Password grant until changed: its password grant's last day is 2031-09-30 (UTC): refused from "
        "2031-10-01 00:00 UTC, announced in its answers until then. Changed Owner or contact.",
        "Password grant until changed: its password grant has no last day: no sunset, and its answers announce none.",
    ]


@pytest.mark.parametrize("typed", ["06/30/2031", "30.06.2031", "2031-06-31", "tomorrow"])
def test_a_date_not_in_iso_form_is_refused_next_to_the_field(admin_client, make_client, typed):
    app = make_client()

    response = admin_client.post(
        reverse("admin:oauthgw_application_change", args=[app.pk]), change_form(app, password_grant_until=typed)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["password_grant_until"] == [
        "Enter the password grant's last day (UTC) as YYYY-MM-DD."
    ]
    assert Application.objects.get(pk=app.pk).password_grant_until is None


def test_the_clients_page_says_since_when_and_until_when(admin_client, make_client):
    app = make_client()
    password_grant_until_set(client=app, until=date(2031, 6, 30))

    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()

    assert "Password grant sunset" in page
    assert (
        "Its password grant&#x27;s last day is 2031-06-30 (UTC): refused from 2031-07-01 00:00 UTC, announced in "
        f"its answers until then. Announced since {datetime_display(app.password_grant_deprecated)}." in page
    )


def test_the_list_shows_the_last_day_under_the_password_grant_and_filters_by_it(admin_client, make_client):
    ahead = make_client(name="ahead", grant_types="password refresh_token")
    ended = make_client(name="ended", grant_types="password")
    make_client(name="unannounced", grant_types="password")
    make_client(name="machine", grant_types="client_credentials")
    password_grant_until_set(client=ahead, until=utc_today())
    password_grant_until_set(client=ended, until=utc_today() - timedelta(days=1))

    page = admin_client.get(CHANGELIST_URL).content.decode()
    filtered = {
        value: [
            app.name
            for app in admin_client.get(CHANGELIST_URL, {"password_grant_sunset": value}).context["cl"].result_list
        ]
        for value in ("none", "announced", "ended")
    }

    assert f'password<br><span class="gw-sunset">until {utc_today().isoformat()}</span><br>refresh_token' in page
    yesterday = (utc_today() - timedelta(days=1)).isoformat()
    assert f'password<br><span class="gw-sunset gw-sunset-ended">ended after {yesterday}</span>' in page
    assert filtered == {"none": ["unannounced"], "announced": ["ahead"], "ended": ["ended"]}


# --- The authorization code and the login page ----------------------------------------------------


def test_a_public_code_flow_client_is_registered_without_a_secret_page(admin_client, add_form):
    response = admin_client.post(
        ADD_URL,
        add_form(
            name="mobile-app",
            grant_types=["authorization_code", "refresh_token"],
            client_type="public",
            redirect_uris="com.example.mobile:/callback\nhttp://127.0.0.1/callback",
            allowed_origins="",
            skip_authorization="on",
        ),
    )

    app = Application.objects.get(name="mobile-app")
    assert response.status_code == 302
    assert app.is_public and app.skip_authorization
    assert app.redirect_uri_list == ["com.example.mobile:/callback", "http://127.0.0.1/callback"]
    assert 'id="client-secret"' not in admin_client.get(response["Location"]).content.decode()
    page = admin_client.get(reverse("admin:oauthgw_application_change", args=[app.pk])).content.decode()
    assert "com.example.mobile:/callback\nhttp://127.0.0.1/callback</textarea>" in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"grant_types": ["authorization_code"], "redirect_uris": ""}, "needs at least one redirect URI"),
        ({"grant_types": ["authorization_code"], "redirect_uris": "http://app.example/cb"}, "only a loopback"),
        ({"client_type": "public", "grant_types": ["password"]}, "public client has no secret"),
        ({"allowed_origins": "https://spa.example/path"}, "is not an origin"),
    ],
)
def test_the_code_flows_settings_are_checked_with_the_reason_next_to_the_field(admin_client, add_form, fields, error):
    response = admin_client.post(ADD_URL, add_form(**fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Application.objects.filter(name="portal").exists()


def test_a_public_client_may_not_be_given_a_custom_secret(admin_client, add_form):
    response = admin_client.post(
        ADD_URL,
        add_form(
            client_type="public",
            grant_types=["authorization_code"],
            redirect_uris="https://app.example/cb",
            custom_secret="x" * 80,
        ),
    )

    assert "A public client has no secret" in response.content.decode()


# --- DPoP ---------------------------------------------------------------------------------


def test_a_client_added_with_dpop_required_gets_no_token_without_a_proof(
    admin_client, add_form, client_credentials_token
):
    response = admin_client.post(ADD_URL, add_form(dpop="required"))

    app = Application.objects.get(name="portal")
    refused = client_credentials_token(app.client_id, shown_secret(response))
    assert app.dpop == "required"
    assert refused.json()["error"] == "invalid_dpop_proof"


def test_the_form_says_what_each_dpop_mode_does(admin_client):
    page = admin_client.get(ADD_URL).content.decode()

    assert "so a stolen token is useless without the key" in page
    for label in ("optional: a token request with a DPoP proof", "required: no token without", "off: the DPoP"):
        assert label in page


def test_the_dpop_mode_can_be_switched_on_the_change_page_and_a_form_without_it_keeps_it(admin_client, make_client):
    app = make_client()
    url = reverse("admin:oauthgw_application_change", args=[app.pk])

    admin_client.post(url, change_form(app, dpop="off"))
    app.refresh_from_db()
    admin_client.post(url, change_form(app, description="no dpop field in this form"))

    app.refresh_from_db()
    assert app.dpop == "off"
    assert LogEntry.objects.order_by("pk").first().get_change_message() == "Changed DPoP."


def test_the_list_shows_and_filters_by_the_dpop_mode_a_public_client_by_the_setting(
    admin_client, make_client, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "DPOP_REQUIRED_FOR_PUBLIC_CLIENTS": True}
    make_client(name="machine", dpop="required")
    make_client(name="legacy", dpop="off")
    make_client(
        name="spa",
        client_type="public",
        grant_types="authorization_code refresh_token",
        redirect_uris="https://app.example/callback",
    )

    page = admin_client.get(CHANGELIST_URL).content.decode()
    required = admin_client.get(CHANGELIST_URL, {"dpop__exact": "required"}).context["cl"].result_list

    assert 'code<br>refresh_token<br><span class="gw-dpop">DPoP required (setting)</span></td>' in page
    assert '<span class="gw-dpop">DPoP off</span>' in page
    assert [app.name for app in required] == ["machine"]
