"""The audit list (read-only, filterable) and the admin index's 24-hour summary."""

import pytest

from oauthgw.admin.audit import ClientFilter
from oauthgw.models import AuditEvent

pytestmark = pytest.mark.django_db

AUDIT = "/admin/oauthgw/auditevent/"


@pytest.fixture
def trail(make_client, client_credentials_token):
    app = make_client(name="machine")
    client_credentials_token(app.client_id, app.raw_secret)
    client_credentials_token(app.client_id, "a-wrong-secret")
    client_credentials_token("no-such-client", "whatever")
    return app


def test_every_token_request_is_listed(admin_client, trail):
    response = admin_client.get(AUDIT)

    outcomes = sorted(event.outcome for event in response.context["cl"].result_list)
    assert outcomes == ["invalid_client", "invalid_client", "issued"]


def test_the_list_filters_by_outcome_and_client(admin_client, trail):
    by_outcome = admin_client.get(AUDIT, {"outcome": "issued"}).context["cl"].result_list
    by_client = admin_client.get(AUDIT, {"client_id": trail.client_id}).context["cl"].result_list

    assert [event.outcome for event in by_outcome] == ["issued"]
    assert {event.client_id for event in by_client} == {trail.client_id}
    assert len(by_client) == 2


def test_the_client_filter_offers_registered_clients_only(admin_client, trail):
    response = admin_client.get(AUDIT)

    [client_filter] = [spec for spec in response.context["cl"].filter_specs if isinstance(spec, ClientFilter)]
    assert [value for value, _ in client_filter.lookup_choices] == [trail.client_id]


def test_events_cannot_be_added_changed_or_deleted(admin_client, trail):
    event = AuditEvent.objects.first()

    assert admin_client.get(f"{AUDIT}add/").status_code == 403
    page = admin_client.get(f"{AUDIT}{event.pk}/change/").content.decode()
    assert "<h1>View audit event</h1>" in page
    assert 'name="_save"' not in page
    assert admin_client.post(f"{AUDIT}{event.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_admin_index_shows_the_last_24_hours(admin_client, trail):
    page = admin_client.get("/admin/").content.decode()

    assert "Token endpoint, last 24 hours" in page
    assert '<a class="gw-card gw-ok" href="/admin/oauthgw/auditevent/?outcome=issued" id="gw-issued">' in page
    assert '<span class="gw-number">1</span><span class="gw-label">tokens issued</span>' in page
    assert '<span class="gw-number">2</span><span class="gw-label">failed requests</span>' in page
    assert 'id="gw-chart-data"' in page
    assert "oauthgw/admin/dashboard.js" in page


def test_staff_without_audit_permission_see_no_summary(client, django_user_model, trail):
    staff = django_user_model.objects.create_user("viewer", password="a-long-staff-password", is_staff=True)
    client.force_login(staff)

    page = client.get("/admin/").content.decode()

    assert "Token endpoint, last 24 hours" not in page


def test_a_flood_of_strangers_is_one_row_with_its_count_and_the_index_counts_every_request(
    admin_client, client_credentials_token
):
    for n in range(25):
        client_credentials_token(f"made-up-{n}", "whatever")

    [event] = admin_client.get(AUDIT).context["cl"].result_list
    index = admin_client.get("/admin/").content.decode()

    assert (event.outcome, event.count, event.client_id) == ("invalid_client", 25, "")
    listed = admin_client.get(AUDIT).content.decode()
    assert 'invalid_<wbr>client <span class="gw-count" title="requests">&times;25</span>' in listed
    assert '<span class="gw-number">25</span><span class="gw-label">failed requests</span>' in index
