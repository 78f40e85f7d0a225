"""The authorization servers admin: write-only secret, the read-only default, test connection."""

import base64
import re
import time
from urllib.parse import parse_qsl, urlencode

import pytest
import responses
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.urls import reverse

from oauthgw.conf import gateway_settings
from oauthgw.exceptions import UpstreamUnavailable
from oauthgw.models import AuthorizationServer
from oauthgw.upstream import breaker
from oauthgw.upstream.client import PROBE_GRANT_TYPE, UpstreamConfig, UpstreamProbe
from tests.factories import ApplicationFactory
from tests.oauthgw.admin.conftest import FORM, basic, messages_of

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/oauthgw/authorizationserver/add/"
CHANGELIST_URL = "/admin/oauthgw/authorizationserver/"
SECRET = "upstream-client-secret-value"
REQUIRED = "Enter the gateway's client secret at this server."


def server_form(**overrides) -> dict:
    return {
        "name": "partner",
        "token_url": "https://partner.test/token",
        "client_id": "gateway",
        "client_secret": SECRET,
        "scope": "",
        "timeout": "5.0",
        "enabled": "on",
        "reverify": "never",
        "reverify_grace": "0",
        **overrides,
    }


@pytest.fixture
def server(db):
    return AuthorizationServer.objects.create(
        name="partner", token_url="https://partner.test/token", client_id="gateway", client_secret=SECRET
    )


def change_url(server) -> str:
    return reverse("admin:oauthgw_authorizationserver_change", args=[server.pk])


def test_adding_a_server_stores_its_secret_for_the_gateway_to_send(admin_client):
    admin_client.post(ADD_URL, server_form())

    assert AuthorizationServer.objects.get(name="partner").client_secret == SECRET


def test_the_change_page_never_shows_the_secret(admin_client, server):
    page = admin_client.get(change_url(server)).content.decode()

    assert SECRET not in page
    assert 'type="password"' in page


def test_an_empty_secret_field_keeps_the_stored_secret(admin_client, server):
    admin_client.post(change_url(server), server_form(client_secret="", timeout="2.5"))

    server.refresh_from_db()
    assert (server.client_secret, server.timeout) == (SECRET, 2.5)
    assert "Client secret" not in LogEntry.objects.get().get_change_message()


def test_a_typed_secret_replaces_the_stored_one_and_the_log_names_only_the_field(admin_client, server):
    admin_client.post(change_url(server), server_form(client_secret="a-new-upstream-secret"))

    server.refresh_from_db()
    assert server.client_secret == "a-new-upstream-secret"
    message = LogEntry.objects.get().get_change_message()
    assert "Client secret" in message
    assert "a-new-upstream-secret" not in message


def test_the_name_default_is_reserved(admin_client):
    response = admin_client.post(ADD_URL, server_form(name="default"))

    assert "is the server configured by OAUTHGW_UPSTREAM_*" in response.content.decode()
    assert not AuthorizationServer.objects.exists()


def test_the_name_cannot_change_once_resource_owners_may_carry_it(admin_client, server):
    admin_client.post(change_url(server), server_form(name="renamed"))

    assert AuthorizationServer.objects.get(pk=server.pk).name == "partner"


def test_the_list_shows_the_default_from_the_settings_read_only_without_its_secret(admin_client, upstream_url):
    page = admin_client.get(CHANGELIST_URL).content.decode()

    assert upstream_url in page
    assert "gateway-secret" not in page
    assert "set (not shown)" in page


def open_circuit(name: str, monkeypatch) -> None:
    """Open ``name``'s circuit as an outage does: faults from enough sources, and a failed probe."""
    monkeypatch.setattr(breaker, "probe_token_endpoint", lambda config: UpstreamProbe("unreachable", 0.001))
    config = UpstreamConfig(name=name, token_url="https://down.test/token", client_id="gw")
    for n in range(gateway_settings.UPSTREAM_BREAKER_THRESHOLD):
        with pytest.raises(UpstreamUnavailable), breaker.circuit_breaker(config, source=f"source-{n}"):
            raise UpstreamUnavailable("connection", "refused")
    assert breaker.breaker_state(name) == "open"


def circuit_cells(page: str) -> dict[str, str]:
    """Each listed server's name and the text of its circuit-breaker cell."""
    rows = re.findall(r'<tr[^>]*>.*?field-name[^>]*>(?:<a[^>]*>)?([^<]+).*?field-circuit">([^<]*)</td>', page, re.S)
    return dict(rows)


def test_the_list_shows_each_servers_circuit_breaker_state(admin_client, server, monkeypatch):
    AuthorizationServer.objects.create(name="healthy", token_url="https://healthy.test/token", client_id="gw")
    open_circuit("partner", monkeypatch)

    page = admin_client.get(CHANGELIST_URL).content.decode()

    assert circuit_cells(page) == {"partner": "open", "healthy": "closed"}
    assert '<td class="gw-circuit-closed">closed</td>' in page  # the default server's


def test_the_list_shows_the_default_servers_open_circuit(admin_client, monkeypatch):
    open_circuit("default", monkeypatch)

    page = admin_client.get(CHANGELIST_URL).content.decode()

    assert '<td class="gw-circuit-open">open</td>' in page


def test_test_connection_reports_a_token_endpoint_that_takes_the_gateways_client(admin_client, server, upstream_mock):
    upstream_mock.add(responses.POST, server.token_url, status=400, json={"error": "unsupported_grant_type"})
    upstream_mock.add(responses.POST, server.token_url, status=400, json={"error": "invalid_request"})

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test", args=[server.pk]), follow=True)

    [message] = messages_of(response)
    assert message.startswith(
        "partner: reachable, answers like an RFC 6749 token endpoint (HTTP 400 unsupported_grant_type, "
    )
    assert ", and takes the gateway's client (HTTP 400 invalid_request, " in message
    assert message.endswith(" ms). Circuit breaker: closed.")
    assert SECRET not in message
    liveness, registration = (dict(parse_qsl(call.request.body)) for call in upstream_mock.calls)
    assert liveness == {"grant_type": PROBE_GRANT_TYPE}
    assert registration["grant_type"] == "password" and "password" not in registration


def test_test_connection_reports_refused_gateway_credentials(admin_client, server, upstream_mock):
    # A server that reads the grant type first refuses the probe's; the password grant tells the secret is wrong.
    upstream_mock.add(responses.POST, server.token_url, status=400, json={"error": "unsupported_grant_type"})
    upstream_mock.add(responses.POST, server.token_url, status=401, json={"error": "invalid_client"})

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test", args=[server.pk]), follow=True)

    assert "refuses the gateway's client id or secret (HTTP 401 invalid_client" in messages_of(response)[0]


def test_test_connection_reports_refused_credentials_seen_by_the_first_probe(admin_client, server, upstream_mock):
    upstream_mock.add(responses.POST, server.token_url, status=401, json={"error": "invalid_client"})

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test", args=[server.pk]), follow=True)

    assert "refuses the gateway's client id or secret" in messages_of(response)[0]
    assert len(upstream_mock.calls) == 1


def test_test_connection_says_when_a_server_answers_failed_logins_slowly(admin_client, db, upstream_mock):
    slow = AuthorizationServer.objects.create(name="tarpit", token_url="https://tarpit.test/token", timeout=0.2)
    upstream_mock.add(responses.POST, slow.token_url, status=400, json={"error": "unsupported_grant_type"})
    tarpit = lambda request: time.sleep(0.5) or (400, {}, "")  # noqa: E731
    upstream_mock.add_callback(responses.POST, slow.token_url, callback=tarpit)

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test", args=[slow.pk]), follow=True)
    time.sleep(0.4)  # the abandoned call ends before the mock goes

    [message] = messages_of(response)
    assert "answers like an RFC 6749 token endpoint" in message
    assert "got no answer" in message and "it may answer failed logins slowly" in message


def test_test_connection_with_glewlwyds_empty_answers_says_a_wrong_secret_would_look_the_same(
    admin_client, server, upstream_mock
):
    upstream_mock.add(responses.POST, server.token_url, status=400, body=b"")

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test", args=[server.pk]), follow=True)

    assert "it names no error, so a wrong client secret would look the same" in messages_of(response)[0]


def test_test_connection_of_the_default_server(admin_client, upstream_mock, upstream_url):
    upstream_mock.add(responses.POST, upstream_url, status=503)

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test_default"), follow=True)

    assert messages_of(response)[0].startswith("default: reachable, but does not answer like a token endpoint")


def test_test_connection_is_post_only(admin_client, server):
    response = admin_client.get(reverse("admin:oauthgw_authorizationserver_test", args=[server.pk]))

    assert response.status_code == 405


def test_the_disable_action_is_logged(admin_client, server):
    admin_client.post(CHANGELIST_URL, {"action": "disable_servers", "_selected_action": [server.pk]})

    assert AuthorizationServer.objects.get(pk=server.pk).enabled is False
    assert "Disabled" in LogEntry.objects.get().get_change_message()


def test_the_secret_is_stored_only_as_ciphertext(admin_client):
    admin_client.post(ADD_URL, server_form())

    stored = AuthorizationServer.objects.values_list("encrypted_client_secret", flat=True).get(name="partner")
    assert stored
    assert SECRET not in stored


def test_test_connection_with_a_secret_no_key_opens_says_so_instead_of_failing(
    admin_client, server, upstream_mock, settings
):
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": Fernet.generate_key().decode()}

    response = admin_client.post(reverse("admin:oauthgw_authorizationserver_test", args=[server.pk]), follow=True)

    assert response.status_code == 200
    assert messages_of(response) == [
        "partner: its stored client secret cannot be decrypted with OAUTHGW_ENCRYPTION_KEYS; enter it again."
    ]
    assert len(upstream_mock.calls) == 0


def test_a_server_whose_key_was_lost_can_be_given_its_secret_again(admin_client, server, settings):
    settings.OAUTHGW = {**settings.OAUTHGW, "ENCRYPTION_KEYS": Fernet.generate_key().decode()}

    response = admin_client.post(change_url(server), server_form(client_secret="the-re-entered-secret"))

    assert response.status_code == 302
    assert AuthorizationServer.objects.get(pk=server.pk).client_secret == "the-re-entered-secret"


# --- The secret follows the URL it was entered for -----------------------------------------

NEW_URL = "https://elsewhere.test/token"


def password_login(client, server) -> None:
    app = ApplicationFactory(authorization_server=server)
    client.post(
        "/oauth2/token",
        urlencode({"grant_type": "password", "username": "alice", "password": "alice-password"}),
        content_type=FORM,
        HTTP_AUTHORIZATION=basic(app.client_id, app.raw_secret),
    )


def test_changing_the_url_without_entering_the_secret_again_is_refused_and_sends_nothing_there(
    admin_client, client, server, upstream_mock
):
    for url in (server.token_url, NEW_URL):
        upstream_mock.add(responses.POST, url, json={"access_token": "x", "token_type": "bearer"})

    response = admin_client.post(change_url(server), server_form(token_url=NEW_URL, client_secret=""))
    password_login(client, AuthorizationServer.objects.get(pk=server.pk))

    assert response.status_code == 200
    assert "enter the client secret again" in " ".join(response.context["adminform"].form.errors["client_secret"])
    assert AuthorizationServer.objects.get(pk=server.pk).token_url == server.token_url
    assert [call.request.url for call in upstream_mock.calls] == [server.token_url]


def test_changing_the_url_with_the_secret_entered_again_sends_it_there(admin_client, client, server, upstream_mock):
    upstream_mock.add(responses.POST, NEW_URL, json={"access_token": "x", "token_type": "bearer"})

    response = admin_client.post(change_url(server), server_form(token_url=NEW_URL, client_secret="the-new-url-secret"))
    password_login(client, AuthorizationServer.objects.get(pk=server.pk))

    assert response.status_code == 302
    [call] = upstream_mock.calls
    assert call.request.url == NEW_URL
    assert "the-new-url-secret" in base64.b64decode(call.request.headers["Authorization"].split()[1]).decode()


def help_of_the_secret(page) -> str:
    return str(page.context["adminform"].form.fields["client_secret"].help_text)


def test_a_new_server_cannot_be_saved_without_a_secret(admin_client):
    page = admin_client.get(ADD_URL)
    response = admin_client.post(ADD_URL, server_form(client_secret=""))

    assert "keep" not in help_of_the_secret(page)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["client_secret"] == [REQUIRED]
    assert not AuthorizationServer.objects.exists()


def test_the_secret_field_says_an_empty_field_keeps_the_stored_secret_only_when_there_is_one(admin_client, server):
    assert "leave the field empty to keep it" in help_of_the_secret(admin_client.get(change_url(server)))

    AuthorizationServer.objects.filter(pk=server.pk).update(encrypted_client_secret="")

    assert help_of_the_secret(admin_client.get(change_url(server))).startswith("No secret is stored")


def test_a_server_saved_without_a_secret_before_is_given_one_when_it_is_next_changed(admin_client, db):
    server = AuthorizationServer.objects.create(name="open", token_url="https://open.test/token", client_id="gw")

    refused = admin_client.post(change_url(server), server_form(name="open", token_url=NEW_URL, client_secret=""))
    saved = admin_client.post(change_url(server), server_form(name="open", token_url=NEW_URL, client_secret="s3cret"))

    assert refused.context["adminform"].form.errors["client_secret"] == [REQUIRED]
    assert saved.status_code == 302
    server.refresh_from_db()
    assert (server.token_url, server.client_secret) == (NEW_URL, "s3cret")


def test_a_server_without_a_secret_is_refused_by_its_validation_too(db):
    server = AuthorizationServer(name="open", token_url="https://open.test/token", client_id="gw")

    with pytest.raises(ValidationError) as refused:
        server.full_clean()

    assert refused.value.message_dict["client_secret"] == [REQUIRED]
