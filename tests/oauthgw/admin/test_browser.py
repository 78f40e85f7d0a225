"""The admin in a real browser: Playwright driving Debian's chromium against a live gateway.

The gateway is pytest-django's live server; the resource owners' authorization
server is the project's development server as a real process. Token requests go
over real HTTP with ``requests``. The tests also save screenshots of the main
pages (1280x800, and every list at 1366x768 under 1366/) to tests/artifacts/screenshots/;
with UPDATE_SCREENSHOTS=1 they replace the ones docs/admin.md shows (docs/screenshots/).
"""

import os
import re
import secrets
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import requests
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from oauthgw.issuing.password_sunset import password_grant_until_set
from oauthgw.middleware import POLICY
from oauthgw.models import Application, AuditEvent, AuthorizationServer, ResourceOwner
from tests.conftest import DEV_PASSWORD as PASSWORD
from tests.conftest import DEV_USER as USER
from tests.factories import ApplicationFactory
from tests.support.processes import DEV_AUTH_CLIENT, ROOT, gateway_settings_for_dev_upstream

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "tests/artifacts") / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
STAFF, STAFF_PASSWORD = "operator", "a-long-operator-password"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/install-browser.sh"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the
    # tests (and their database teardown) make are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def gateway(live_server, settings, dev_upstream):
    settings.OAUTHGW = gateway_settings_for_dev_upstream(dev_upstream)
    return live_server.url


@pytest.fixture
def admin_page(browser, gateway, django_user_model):
    """A page logged into the admin through its login form."""
    django_user_model.objects.create_superuser(STAFF, "operator@example.test", STAFF_PASSWORD)
    context = browser.new_context(viewport=VIEWPORT)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway)
    page = context.new_page()
    page.goto(f"{gateway}/admin/")
    page.fill("#id_username", STAFF)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.url == f"{gateway}/admin/"
    # Screenshots without the navigation sidebar leave the lists their width.
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    yield page
    context.close()


def screenshot(page, name: str, **kwargs) -> None:
    path = SCREENSHOTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), **kwargs)


def password_grant(gateway: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "password", "username": USER, "password": PASSWORD},
        auth=(client_id, secret),
        timeout=30,
    )


def hello(gateway: str, access_token: str) -> int:
    return requests.get(
        f"{gateway}/helloworld/", headers={"Authorization": f"Bearer {access_token}"}, timeout=30
    ).status_code


def create_client_in_the_admin(
    page,
    gateway: str,
    name: str,
    *,
    token_format: str = "opaque",  # noqa: S107 (a token format, no password)
    **fields: str,
) -> tuple[str, str]:
    """Fill the add form; return (client_id, secret) as read off the one-time secret page."""
    page.goto(f"{gateway}/admin/oauthgw/application/add/")
    page.fill("#id_name", name)
    page.check(f"input[name=token_format][value={token_format}]")
    for field, value in fields.items():
        page.fill(f"#id_{field}", value)
    for grant in ("password", "refresh_token"):
        page.check(f"input[name=grant_types][value={grant}]")
    page.check("input[name=allowed_scopes][value=hello]")
    page.check("input[name=default_scopes][value=hello]")
    page.click("input[name=_save]")
    page.wait_for_selector("#client-secret")
    return page.inner_text("#client-id").strip(), page.inner_text("#client-secret").strip()


def select_and_run(page, row_text: str, action: str) -> str:
    """Tick the changelist row containing ``row_text``, run ``action``, return the message shown."""
    page.locator("#result_list tr", has_text=row_text).locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    return page.inner_text("ul.messagelist")


def test_a_client_created_in_the_admin_gets_tokens_until_it_is_disabled(admin_page, gateway):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "mobile-app")

    assert len(secret) >= 64
    assert "It is shown only on this page" in admin_page.inner_text(".gw-secret-warning")
    admin_page.click("#copy-secret")
    expect(admin_page.locator("#copy-secret")).to_have_text("Copied")
    assert admin_page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(admin_page, "client-secret", mask=[admin_page.locator("#client-secret")], mask_color="#9aa5ad")

    issued = password_grant(gateway, client_id, secret)
    assert issued.status_code == 200, issued.text
    access_token = issued.json()["access_token"]
    assert hello(gateway, access_token) == 200

    admin_page.click("#continue")
    assert secret not in admin_page.content()
    admin_page.uncheck("#id_enabled")
    admin_page.click("input[name=_save]")
    admin_page.wait_for_selector("ul.messagelist")
    ApplicationFactory(name="billing-service", grant_types="client_credentials")
    ApplicationFactory(name="partner-portal", grant_types="password refresh_token", can_introspect=True)
    admin_page.reload()
    screenshot(admin_page, "clients")

    refused = password_grant(gateway, client_id, secret)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"
    assert hello(gateway, access_token) == 401


def test_rotating_with_a_grace_period_keeps_old_and_new_secrets_working(admin_page, gateway):
    client_id, old_secret = create_client_in_the_admin(admin_page, gateway, "partner-backend")
    admin_page.click("#continue")

    admin_page.click("#rotate-secret")
    admin_page.select_option("#id_grace", "3600")
    admin_page.click("input[name=_rotate]")
    admin_page.wait_for_selector("#client-secret")
    new_secret = admin_page.inner_text("#client-secret").strip()

    assert new_secret != old_secret
    assert "still accepted until" in admin_page.inner_text("#grace-note")
    assert password_grant(gateway, client_id, new_secret).status_code == 200
    assert password_grant(gateway, client_id, old_secret).status_code == 200
    assert password_grant(gateway, client_id, "neither-" + old_secret).status_code == 401


def test_revoking_a_resource_owners_tokens_makes_the_api_reject_them(admin_page, gateway):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "web-portal")
    tokens = password_grant(gateway, client_id, secret).json()
    assert hello(gateway, tokens["access_token"]) == 200

    admin_page.goto(f"{gateway}/admin/oauthgw/resourceowner/")
    message = select_and_run(admin_page, USER, "revoke_owner_tokens")

    assert "Revoked 1 access token, 1 refresh token." in message
    assert hello(gateway, tokens["access_token"]) == 401
    refreshed = requests.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(client_id, secret),
        timeout=30,
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_a_resource_owners_sessions_are_listed_revoked_and_the_owner_blocked_from_their_page(admin_page, gateway):
    web_id, web_secret = create_client_in_the_admin(admin_page, gateway, "web-portal")
    mobile_id, mobile_secret = create_client_in_the_admin(admin_page, gateway, "mobile-app")
    web = password_grant(gateway, web_id, web_secret).json()
    mobile = password_grant(gateway, mobile_id, mobile_secret).json()

    admin_page.goto(f"{gateway}/admin/oauthgw/resourceowner/")
    admin_page.click(f"#result_list a:has-text('{USER}')")
    sessions = admin_page.locator("#sessions tr.gw-session")
    expect(sessions).to_have_count(2)
    screenshot(admin_page, "resource-owner-sessions", full_page=True)
    sessions.filter(has_text="web-portal").locator("button").click()

    assert "Revoked the session" in admin_page.inner_text("ul.messagelist")
    assert (hello(gateway, web["access_token"]), hello(gateway, mobile["access_token"])) == (401, 200)
    admin_page.click("#block")
    admin_page.fill("#id_reason", "left the company")
    admin_page.click("input[name=_block]")
    assert "their logins are refused" in admin_page.inner_text("ul.messagelist")
    assert hello(gateway, mobile["access_token"]) == 401
    assert password_grant(gateway, mobile_id, mobile_secret).status_code == 401
    admin_page.click("#unblock")
    assert password_grant(gateway, mobile_id, mobile_secret).status_code == 200


def _seed_a_day_of_traffic(client_id: str = "mobile-app") -> None:
    """A believable last 24 hours for the dashboard's picture."""
    now = timezone.now()
    failures = ["invalid_grant", "invalid_grant", "invalid_client", "upstream_unavailable", "throttled"]
    events = []
    for hour in range(24):
        for minute in range(0, 60, 60 // (4 + (hour * 7) % 9)):
            events.append(
                AuditEvent(
                    time=now - timedelta(hours=hour, minutes=minute),
                    outcome="issued",
                    status=200,
                    client_id=client_id,
                    grant_type="password",
                    username=f"user{minute}",
                    client_ip="192.0.2.10",
                    latency_ms=40 + minute,
                )
            )
        if hour % 3 == 0:
            outcome = failures[hour % len(failures)]
            events.append(
                AuditEvent(
                    time=now - timedelta(hours=hour, minutes=17),
                    outcome=outcome,
                    status=503 if outcome == "upstream_unavailable" else 401,
                    client_id=client_id,
                    grant_type="password",
                    username="mallory",
                    client_ip="203.0.113.9",
                    latency_ms=12,
                )
            )
    AuditEvent.objects.bulk_create(events)


def test_the_dashboard_audit_and_authorization_servers_pages(admin_page, gateway, dev_upstream):
    _seed_a_day_of_traffic(client_id=ApplicationFactory(name="mobile-app").client_id)
    AuthorizationServer.objects.create(
        name="partner-idp", token_url=dev_upstream, client_id=DEV_AUTH_CLIENT[0], client_secret=DEV_AUTH_CLIENT[1]
    )

    admin_page.goto(f"{gateway}/admin/")
    admin_page.wait_for_selector("#gw-chart svg rect")
    issued = int(admin_page.inner_text("#gw-issued .gw-number"))
    assert issued == AuditEvent.objects.filter(outcome="issued", time__gt=timezone.now() - timedelta(hours=24)).count()
    assert admin_page.locator("#gw-chart svg g").count() == 24
    screenshot(admin_page, "dashboard")

    admin_page.goto(f"{gateway}/admin/oauthgw/auditevent/?outcome=invalid_grant")
    assert set(admin_page.locator("#result_list td.field-outcome_code").all_inner_texts()) == {"invalid_grant"}
    admin_page.goto(f"{gateway}/admin/oauthgw/auditevent/")
    screenshot(admin_page, "audit")

    admin_page.goto(f"{gateway}/admin/oauthgw/authorizationserver/")
    admin_page.click("#test-default")
    message = admin_page.inner_text("ul.messagelist")
    # The breaker's probe (a grant type no server knows), then the gateway's client (a password grant without one).
    assert re.search(
        r"default: reachable, answers like an RFC 6749 token endpoint \(HTTP 400 unsupported_grant_type, \d+ ms\), "
        r"and takes the gateway's client \(HTTP 400 invalid_request, \d+ ms\)",
        message,
        re.I,
    )
    assert DEV_AUTH_CLIENT[1] not in admin_page.content()
    screenshot(admin_page, "authorization-servers")


# --- Content-Security-Policy ---------------------------------------------------------------

# Registered before any page script runs (Playwright injects it past the policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def csp_violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def test_the_admin_and_the_api_docs_run_under_the_content_security_policy_without_a_violation(
    browser, gateway, django_user_model, dev_upstream, caplog
):
    django_user_model.objects.create_superuser(STAFF, "operator@example.test", STAFF_PASSWORD)
    _seed_a_day_of_traffic()
    server = AuthorizationServer.objects.create(
        name="partner-idp", token_url=dev_upstream, client_id=DEV_AUTH_CLIENT[0], client_secret=DEV_AUTH_CLIENT[1]
    )
    app = ApplicationFactory(name="mobile-app", authorization_server=server)
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    failed_loads = []
    page.on("response", lambda response: response.status >= 400 and failed_loads.append(response.url))
    found: dict[str, list[str]] = {}

    def visit(path: str, ready: str) -> None:
        response = page.goto(f"{gateway}{path}")
        page.wait_for_selector(ready)
        page.wait_for_load_state("networkidle")
        assert response.headers["content-security-policy"] == POLICY
        found[path] = csp_violations(page)

    visit("/", "#token-url")
    visit("/admin/login/", "#id_username")
    page.fill("#id_username", STAFF)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#gw-chart svg rect")  # the dashboard drew its chart
    found["/admin/ (after login)"] = csp_violations(page)
    visit("/admin/", "#gw-chart svg rect")
    visit("/admin/oauthgw/application/", "#result_list")
    visit(f"/admin/oauthgw/application/{app.pk}/change/", "#application_form")
    visit(f"/admin/oauthgw/application/{app.pk}/delete/", "#deletion-question")
    visit("/admin/oauthgw/authorizationserver/", "#result_list")
    visit(f"/admin/oauthgw/authorizationserver/{server.pk}/change/", "#authorizationserver_form")
    assert password_grant(gateway, app.client_id, app.raw_secret).status_code == 200
    owner = ResourceOwner.objects.get()
    visit(f"/admin/oauthgw/resourceowner/{owner.pk}/change/", "#sessions tr.gw-session")
    visit(f"/admin/oauthgw/resourceowner/{owner.pk}/block/", "#block-form")
    visit("/api/docs/", ".swagger-ui .opblock")  # Swagger UI's start-up script ran

    assert {path: violations for path, violations in found.items() if violations} == {}
    assert [text for text in console if "Content Security Policy" in text] == []
    assert failed_loads == []
    # What Playwright does not report: the icon a browser asks for on its own.
    not_found = [record.getMessage() for record in caplog.records if record.getMessage().startswith("Not Found")]
    assert not_found == []
    # The policy is enforced, and the listener would have seen a violation.
    with pytest.raises(PlaywrightError, match="violates the following Content Security Policy"):
        page.add_script_tag(content="window.inlineRan = true;")
    # Polled from here: wait_for_function evaluates its string with eval, which the policy forbids
    # (it passes only when the violation is already recorded at its first look).
    deadline = time.monotonic() + 10
    while not page.evaluate("window.__cspViolations.length") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.evaluate("window.inlineRan") is None
    assert csp_violations(page) == ["script-src-elem blocked inline"]


# --- A reload of a secret page repeats nothing -------------------------------------------


def test_reloading_the_new_clients_secret_page_creates_no_second_client(admin_page, gateway):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "reloaded-app")

    response = admin_page.reload()  # the browser sends the same POST again

    assert response.request.method == "POST"
    assert response.status == 409
    expect(admin_page.locator("#already-done")).to_have_text("Already done — the secret cannot be shown again.")
    assert secret not in admin_page.content()
    assert Application.objects.filter(name="reloaded-app").count() == 1
    screenshot(admin_page, "already-done")
    admin_page.click("#open-client")
    assert admin_page.inner_text("div.readonly >> nth=0") == client_id
    assert password_grant(gateway, client_id, secret).status_code == 200


def test_reloading_the_rotated_secret_page_rotates_no_second_time(admin_page, gateway):
    client_id, old_secret = create_client_in_the_admin(admin_page, gateway, "rotated-app")
    admin_page.click("#continue")
    admin_page.click("#rotate-secret")
    # The default keeps the old secret for 24 hours.
    assert admin_page.locator("#id_grace").input_value() == str(24 * 3600)
    admin_page.click("input[name=_rotate]")
    new_secret = admin_page.inner_text("#client-secret").strip()

    response = admin_page.reload()

    assert (response.request.method, response.status) == ("POST", 409)
    assert "Already done" in admin_page.inner_text("#already-done")
    assert new_secret not in admin_page.content()
    # One rotation: the secret it showed works, and the original one is still in its grace period.
    assert password_grant(gateway, client_id, new_secret).status_code == 200
    assert password_grant(gateway, client_id, old_secret).status_code == 200
    app = Application.objects.get(client_id=client_id)
    assert [entry.get_change_message()[:31] for entry in LogEntry.objects.filter(object_id=str(app.pk))] == [
        "Secret rotated (previous valid ",
        "Added.",
    ]


# --- The client's page ------------------------------------------------------------------------


def test_every_link_on_a_clients_page_answers_below_400(admin_page, gateway):
    create_client_in_the_admin(admin_page, gateway, "linked-app")
    admin_page.click("#continue")
    admin_page.wait_for_selector("#rotate-secret")

    hrefs = admin_page.eval_on_selector_all("a[href]", "links => links.map(link => link.href)")
    answers = {href: admin_page.request.get(href).status for href in set(hrefs) if href.startswith(gateway)}

    assert "View on site" not in admin_page.content()
    assert f"{gateway}/" in answers  # "View site"
    assert len(answers) > 10
    assert {href: status for href, status in answers.items() if status >= 400} == {}


def test_revoking_all_tokens_of_a_client_shows_the_counts_first(admin_page, gateway):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "revoked-app")
    first = password_grant(gateway, client_id, secret).json()
    password_grant(gateway, client_id, secret)
    admin_page.click("#continue")

    admin_page.click("#revoke-tokens")

    expect(admin_page.locator("#revoke-counts")).to_contain_text("2 access tokens, 2 refresh tokens")
    assert hello(gateway, first["access_token"]) == 200
    screenshot(admin_page, "revoke-tokens")
    admin_page.click("input[name=_revoke]")
    assert "Revoked 2 access tokens, 2 refresh tokens of revoked-app." in admin_page.inner_text("ul.messagelist")
    assert hello(gateway, first["access_token"]) == 401
    assert not get_access_token_model().objects.filter(application__client_id=client_id).exists()


def test_deleting_a_client_from_its_page_stops_its_credentials_and_tokens_and_keeps_its_audit_trail(
    admin_page, gateway
):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "retired-app")
    tokens = password_grant(gateway, client_id, secret).json()
    assert hello(gateway, tokens["access_token"]) == 200
    admin_page.click("#continue")

    admin_page.click("a.deletelink")
    expect(admin_page.locator("#deleted-now")).to_contain_text("1 live access token")
    expect(admin_page.locator("#kept")).to_contain_text("1 audit event")
    screenshot(admin_page, "delete-client")
    admin_page.click("#confirm-delete")

    assert "went with it; 1 audit event stays." in admin_page.inner_text("ul.messagelist")
    assert hello(gateway, tokens["access_token"]) == 401
    assert password_grant(gateway, client_id, secret).json()["error"] == "invalid_client"
    admin_page.goto(f"{gateway}/admin/oauthgw/auditevent/?client_id={client_id}")
    expect(admin_page.locator("#result_list td.field-client").first).to_contain_text("retired-app (deleted)")


def test_a_clients_page_charts_its_last_24_hours(admin_page, gateway):
    client_id, _ = create_client_in_the_admin(
        admin_page, gateway, "mobile-app", description="The iOS and Android app.", contact="mobile-team@example.test"
    )
    _seed_a_day_of_traffic(client_id=client_id)
    admin_page.click("#continue")

    admin_page.wait_for_selector("#gw-chart svg rect")

    assert admin_page.locator("#gw-chart svg g").count() == 24
    screenshot(admin_page, "client", full_page=True)
    issued = AuditEvent.objects.filter(client_id=client_id, outcome="issued").count()
    assert admin_page.inner_text("#gw-issued .gw-number") == str(issued)
    admin_page.click("#gw-issued")
    admin_page.wait_for_url("**/auditevent/?*")
    assert set(admin_page.locator("#result_list td.field-client .gw-client-id").all_inner_texts()) == {client_id}


def _seed_a_month_of_password_logins() -> dict[str, Application]:
    """Three clients on their way off the password grant, a login or more most days."""
    today = timezone.now().astimezone(UTC).date()
    clients = {
        "mobile-app-production": ApplicationFactory(name="mobile-app-production", grant_types="password refresh_token"),
        "partner-portal": ApplicationFactory(name="partner-portal", grant_types="password refresh_token"),
        "legacy-intranet": ApplicationFactory(name="legacy-intranet", grant_types="password"),
    }
    password_grant_until_set(client=clients["partner-portal"], until=today + timedelta(days=21))
    password_grant_until_set(client=clients["legacy-intranet"], until=today - timedelta(days=3))
    events = []
    for days_ago in range(30):
        moment = timezone.now() - timedelta(days=days_ago)
        # Moving off: the mobile app declines, the portal barely logs in, the intranet stopped at its sunset.
        for name, logins, outcome in (
            ("mobile-app-production", max(0, 12 - days_ago // 3) if days_ago < 20 else 14, "issued"),
            ("partner-portal", days_ago % 4 == 0, "issued"),
            ("legacy-intranet", 3 if days_ago > 3 else 0, "issued"),
            ("legacy-intranet", 2 if days_ago <= 3 else 0, "password_grant_ended"),
        ):
            events += [
                AuditEvent(
                    time=moment - timedelta(minutes=number),
                    outcome=outcome,
                    status=200 if outcome == "issued" else 400,
                    client_id=clients[name].client_id,
                    grant_type="password",
                    latency_ms=40,
                )
                for number in range(int(logins))
            ]
    AuditEvent.objects.bulk_create(events)
    return clients


def test_the_dashboard_shows_who_still_uses_the_password_grant_and_each_day_links_to_its_logins(admin_page, gateway):
    clients = _seed_a_month_of_password_logins()
    mobile = clients["mobile-app-production"].client_id

    admin_page.goto(f"{gateway}/admin/")
    row = admin_page.locator(f"tr[data-client-id='{mobile}']")
    expect(row).to_be_visible()
    screenshot(admin_page, "password-grant", clip=admin_page.locator("section.gw-password-grant").bounding_box())

    names = admin_page.locator("#gw-password-grant-clients tbody th").all_inner_texts()
    assert names == ["mobile-app-production", "legacy-intranet", "partner-portal"]
    today = timezone.now().astimezone(UTC).date().isoformat()
    bar = row.locator(f"a.gw-day[data-day='{today}']")
    assert bar.bounding_box()["height"] >= 3
    logins = int(bar.get_attribute("title").split(": ")[1])
    assert (
        logins
        == AuditEvent.objects.filter(
            client_id=mobile, outcome="issued", time__date=timezone.now().astimezone(UTC).date()
        ).count()
    )
    bar.click()
    admin_page.wait_for_url("**/auditevent/?*")
    assert admin_page.locator("#result_list tbody tr").count() == logins
    assert set(admin_page.locator("#result_list td.field-client .gw-client-id").all_inner_texts()) == {mobile}


# --- Read-only pages and the width of the lists --------------------------------------------------


def test_token_and_audit_pages_are_views_without_save_buttons(admin_page, gateway):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "viewed-app")
    password_grant(gateway, client_id, secret)
    pages = {
        "access token": f"/admin/oauth2_provider/accesstoken/{get_access_token_model().objects.get().pk}/change/",
        "refresh token": f"/admin/oauth2_provider/refreshtoken/{get_refresh_token_model().objects.get().pk}/change/",
        "audit event": f"/admin/oauthgw/auditevent/{AuditEvent.objects.first().pk}/change/",
    }

    for kind, url in pages.items():
        admin_page.goto(f"{gateway}{url}")
        assert admin_page.inner_text("#content h1") == f"View {kind}"
        assert admin_page.locator("input[type=submit]").count() == 0
        assert admin_page.locator(".submit-row a.closelink").inner_text().lower() == "close"


# Every list page of the admin, with the rows that make it widest.
LIST_PAGES = {
    "clients": "/admin/oauthgw/application/",
    "authorization-servers": "/admin/oauthgw/authorizationserver/",
    "resource-owners": "/admin/oauthgw/resourceowner/",
    "access-tokens": "/admin/oauth2_provider/accesstoken/",
    "refresh-tokens": "/admin/oauth2_provider/refreshtoken/",
    "audit-events": "/admin/oauthgw/auditevent/",
    "signing-keys": "/admin/oauthgw/signingkey/",
    "users": "/admin/auth/user/",
    "groups": "/admin/auth/group/",
    "access-attempts": "/admin/axes/accessattempt/",
    "access-failures": "/admin/axes/accessfailurelog/",
    "access-logs": "/admin/axes/accesslog/",
}

# What a person would call cut off: the list scrolls sideways inside its box, a
# cell or header reaches past the box or the window, or a cell hides its content.
CLIPPED_CELLS = """
() => {
  const box = document.querySelector("#changelist .results");
  const table = document.querySelector("#result_list");
  const found = [];
  if (!box || !table) return ["no list"];
  const right = Math.min(box.getBoundingClientRect().right, document.documentElement.clientWidth);
  if (box.scrollWidth > box.clientWidth) found.push(`the list scrolls by ${box.scrollWidth - box.clientWidth}px`);
  if (document.documentElement.scrollWidth > window.innerWidth) found.push("the page scrolls sideways");
  for (const cell of table.querySelectorAll("th, td")) {
    const name = `${cell.tagName.toLowerCase()}.${cell.className || "?"} "${cell.innerText.trim().slice(0, 30)}"`;
    const edge = cell.getBoundingClientRect().right;
    if (edge > right + 0.5) found.push(`${name} ends ${Math.round(edge - right)}px past the edge`);
    if (cell.scrollWidth > cell.clientWidth + 1) found.push(`${name} hides ${cell.scrollWidth - cell.clientWidth}px`);
  }
  return found;
}
"""


def _seed_every_list(gateway: str, dev_upstream: str) -> None:
    """Rows as a deployment has them after a while, with the long values real ones have."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.auth.models import Group, Permission

    from oauthgw.issuing.key_rotation import signing_key_rotate
    from oauthgw.issuing.resource_owners import resource_owner_upsert

    server = AuthorizationServer.objects.create(
        name="customers-keycloak",
        token_url="https://login.customers.example.com/realms/customers/protocol/openid-connect/token",
        client_id="oauthgw-gateway-production",
        client_secret="a secret",
        reverify="interval",
        reverify_interval=3600,
        reverify_grace=900,
    )
    for number in range(3):
        ApplicationFactory(
            name=f"partner-portal-{number}",
            grant_types="password refresh_token client_credentials",
            authorization_server=server if number == 0 else None,
        )
    app = ApplicationFactory(name="mobile-app-production", grant_types="password refresh_token client_credentials")
    # The clients list shows a password grant's last day under it, as narrow as the grant names.
    password_grant_until_set(client=app, until=timezone.now().date() + timedelta(days=90))
    for _ in range(2):
        assert password_grant(gateway, app.client_id, app.raw_secret).status_code == 200
    _seed_a_day_of_traffic(client_id=app.client_id)
    AuditEvent.objects.create(
        outcome="upstream_unavailable",
        status=503,
        client_id=app.client_id,
        grant_type="refresh_token",
        username="firstname.lastname@customers.example.com",
        client_ip="2001:db8:85a3::8a2e:370:7334",
        latency_ms=5012,
    )
    # An owner as a corporate server names one: a UUID subject, an e-mail address, blocked.
    owner = resource_owner_upsert(
        authorization_server=server.name,
        subject="f47ac10b-58cc-4372-a567-0e02b3c479d4",
        username="firstname.lastname@customers.example.com",
    )
    refresh = get_refresh_token_model().objects.create(user=owner, application=app, token=secrets.token_urlsafe(32))
    get_access_token_model().objects.create(
        user=owner,
        application=app,
        token=secrets.token_urlsafe(32),
        scope="hello",
        expires=timezone.now() + timedelta(hours=1),
        source_refresh_token=refresh,
    )
    ResourceOwner.objects.filter(user=owner).update(blocked=True, blocked_reason="left the company")
    signing_key_rotate()
    signing_key_rotate()
    group = Group.objects.create(name="Operators on call")
    group.permissions.set(Permission.objects.filter(codename__startswith="view_"))
    get_user_model().objects.create_user(
        "second.operator",
        "second.operator@operations.example.com",
        "x" * 20,
        is_staff=True,
        first_name="Second",
        last_name="Operator",
    )
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    AccessAttempt.objects.create(
        username="second.operator",
        ip_address="203.0.113.50",
        user_agent=agent,
        path_info="/admin/login/",
        failures_since_start=3,
        get_data="",
        post_data="username=second.operator",
    )
    AccessFailureLog.objects.create(
        username="second.operator",
        ip_address="203.0.113.50",
        user_agent=agent,
        path_info="/admin/login/",
    )
    AccessLog.objects.create(
        username="second.operator",
        ip_address="203.0.113.50",
        user_agent=agent,
        path_info="/admin/login/",
        logout_time=timezone.now(),
    )


def test_every_list_page_fits_a_1366_by_768_screen_with_the_sidebar_open(admin_page, gateway, dev_upstream):
    _seed_every_list(gateway, dev_upstream)
    admin_page.set_viewport_size({"width": 1366, "height": 768})
    admin_page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'true')")
    clipped = {}

    for name, url in LIST_PAGES.items():
        admin_page.goto(f"{gateway}{url}")
        assert admin_page.locator("#result_list tbody tr").count() > 0, f"{name}: no rows to measure"
        assert admin_page.locator("#nav-sidebar").is_visible()
        screenshot(admin_page, f"1366/{name}")
        found = admin_page.evaluate(CLIPPED_CELLS)
        if found:
            clipped[name] = found

    assert clipped == {}, "\n".join(f"{name}: {'; '.join(found[:4])}" for name, found in clipped.items())


def test_a_jwt_client_made_in_the_admin_gets_jwts_and_its_key_is_rotated_from_the_admin(admin_page, gateway):
    client_id, secret = create_client_in_the_admin(admin_page, gateway, "orders-api-client", token_format="jwt")
    first = password_grant(gateway, client_id, secret).json()["access_token"]
    assert first.count(".") == 2
    assert hello(gateway, first) == 200

    admin_page.goto(f"{gateway}/admin/oauthgw/signingkey/")
    expect(admin_page.locator("#result_list")).to_contain_text("signing")
    admin_page.click("#rotate-signing-key")
    expect(admin_page.locator("#rotate-schedule")).to_contain_text("signs JWT access tokens from")
    admin_page.click("input[name=_rotate]")

    assert "Rotated in key" in admin_page.inner_text("ul.messagelist")
    expect(admin_page.locator("#result_list tbody tr")).to_have_count(2)
    expect(admin_page.locator("#result_list")).to_contain_text("published; signs from")
    screenshot(admin_page, "signing-keys")
    # Until the new key signs, the old one does: the token issued before still works.
    assert hello(gateway, first) == 200
