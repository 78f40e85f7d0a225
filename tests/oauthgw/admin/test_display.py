"""One date format across the admin, in the admin's time zone, and plurals right."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from oauthgw.admin.display import count_display, datetime_display, tokens_display
from oauthgw.issuing.bulk_revocation import Revoked
from oauthgw.models import AuditEvent, ResourceOwner

MOMENT = datetime(2026, 12, 1, 13, 29, 8, 176739, tzinfo=UTC)
RAW_DATETIME = re.compile(r"\d{2}:\d{2}:\d{2}\.\d+|\d{2}:\d{2}(:\d{2})?\+00:00|a\.m\.|p\.m\.")
SHOWN_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")
# A day and a time with no zone after it: an operator cannot tell which hour it was.
ZONELESS_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?(?![\d:]| UTC)")


def test_a_moment_is_written_to_the_minute_with_its_zone():
    assert datetime_display(MOMENT) == "2026-12-01 13:29 UTC"
    assert datetime_display(MOMENT, with_utc=True) == "2026-12-01 13:29 UTC"
    assert datetime_display(None) == "—"


def test_in_another_zone_the_admin_writes_local_time_and_utc_where_asked(settings):
    settings.TIME_ZONE = "Europe/Paris"

    assert datetime_display(MOMENT) == "2026-12-01 14:29 CET"
    assert datetime_display(MOMENT, with_utc=True) == "2026-12-01 14:29 CET (13:29 UTC)"


def test_counts_have_the_right_plural():
    assert count_display(1, "access token", "access tokens") == "1 access token"
    assert count_display(0, "access token", "access tokens") == "0 access tokens"
    assert tokens_display(Revoked(access_tokens=3, refresh_tokens=1)) == "3 access tokens, 1 refresh token"


@pytest.mark.django_db
def test_no_admin_page_shows_a_raw_or_american_timestamp(admin_client, password_token, client_credentials_token):
    client = client_credentials_token("no-such-client", "whatever")  # an audit event too
    assert client.status_code == 401
    app_pk = admin_client.get("/admin/oauthgw/application/").context["cl"].result_list[0].pk
    pages = [
        "/admin/oauthgw/application/",
        reverse("admin:oauthgw_application_change", args=[app_pk]),
        reverse("admin:oauthgw_application_history", args=[app_pk]),
        "/admin/oauthgw/auditevent/",
        reverse("admin:oauthgw_auditevent_change", args=[AuditEvent.objects.first().pk]),
        "/admin/oauth2_provider/accesstoken/",
        reverse("admin:oauth2_provider_accesstoken_change", args=[get_access_token_model().objects.get().pk]),
        "/admin/oauth2_provider/refreshtoken/",
        reverse("admin:oauth2_provider_refreshtoken_change", args=[get_refresh_token_model().objects.get().pk]),
        "/admin/oauthgw/resourceowner/",
        reverse("admin:oauthgw_resourceowner_change", args=[ResourceOwner.objects.get().pk]),
    ]

    for url in pages:
        page = admin_client.get(url).content.decode()
        # What a person reads: not the markup, not the chart's JSON data.
        text = re.sub(r"<[^>]+>", "", re.sub(r"<script.*?</script>", "", page, flags=re.S))
        text = re.sub(r"\s+", " ", text)
        assert not RAW_DATETIME.search(text), (url, RAW_DATETIME.search(text).group(0))
        found = ZONELESS_DATETIME.search(text)
        assert not found, (url, text[max(0, found.start() - 40) : found.end() + 40])
        assert SHOWN_DATETIME.search(text) or url.endswith("/history/"), url
