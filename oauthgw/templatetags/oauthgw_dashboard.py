"""The dashboard: the 24-hour summaries (the admin index's, a client page's) and the password grant's 30 days.

Every number links to the audit list filtered to exactly the events it counts:
the summary's own period and outcomes, or the UTC days, client and grant of a
count of password logins (``audit_list_query``).
"""

from dataclasses import dataclass
from datetime import date

from django import template
from django.urls import reverse

from oauthgw import grants
from oauthgw.admin.audit import FAILED, ISSUED, audit_list_query
from oauthgw.admin.display import datetime_cell, wrappable
from oauthgw.observability.dashboard import (
    DashboardSummary,
    PasswordGrantClient,
    dashboard_summary,
    password_grant_usage,
)
from oauthgw.signals import PASSWORD_GRANT_ENDED, THROTTLED, UPSTREAM_UNAVAILABLE

register = template.Library()


def _may_read_the_audit_trail(context) -> bool:
    request = context.get("request")
    return request is not None and request.user.has_perm("oauthgw.view_auditevent")


def _links(summary: DashboardSummary, client_id: str = "") -> dict:
    audit = reverse("admin:oauthgw_auditevent_changelist")

    def url(**criteria) -> str:
        return f"{audit}?{audit_list_query(since=summary.since, until=summary.until, client_id=client_id, **criteria)}"

    return {
        "issued_url": url(result=ISSUED),
        "failed_url": url(result=FAILED),
        "upstream_url": url(outcome=UPSTREAM_UNAVAILABLE),
        "throttled_url": url(outcome=THROTTLED),
        "reasons": [(outcome, count, url(outcome=outcome)) for outcome, count in summary.failures_by_reason],
    }


@register.inclusion_tag("admin/oauthgw/dashboard.html", takes_context=True)
def gateway_dashboard(context) -> dict:
    if not _may_read_the_audit_trail(context):
        return {"summary": None}
    summary = dashboard_summary()
    return {"summary": summary, "chart_data": summary.chart_data(), **_links(summary)}


@register.inclusion_tag("admin/oauthgw/application/usage.html", takes_context=True)
def client_usage(context, client) -> dict:
    if client is None or client.pk is None or not _may_read_the_audit_trail(context):
        return {"summary": None}
    summary = dashboard_summary(client_id=client.client_id)
    return {"summary": summary, "chart_data": summary.chart_data(), **_links(summary, client.client_id)}


# Bar heights of a day's logins, relative to the client's busiest day (CSS classes: no inline style under the CSP).
BAR_LEVELS = 8


@dataclass(frozen=True)
class DayBar:
    day: date
    logins: int
    level: int
    url: str


def _password_grant_row(client: PasswordGrantClient, days: list[date]) -> dict:
    audit = reverse("admin:oauthgw_auditevent_changelist")

    def url(first: date, last: date, **criteria) -> str:
        query = audit_list_query(days=(first, last), client_id=client.client_id, grant_type=grants.PASSWORD, **criteria)
        return f"{audit}?{query}"

    busiest = max(client.logins, default=0)
    bars = [
        DayBar(
            day=day,
            logins=logins,
            # Any login shows: at least one level, whatever the busiest day.
            level=-(-logins * BAR_LEVELS // busiest) if logins else 0,
            url=url(day, day, result=ISSUED),
        )
        for day, logins in zip(days, client.logins, strict=True)
    ]
    return {
        "client": client,
        "name": wrappable(client.name),
        "last_day": client.last_day.isoformat() if client.last_day else "",
        "last_login": datetime_cell(client.last_login),
        "change_url": reverse("admin:oauthgw_application_change", args=[client.pk]),
        "total_url": url(days[0], days[-1], result=ISSUED),
        "refused_url": url(days[0], days[-1], outcome=PASSWORD_GRANT_ENDED),
        "last_login_url": f"{audit}?"
        + audit_list_query(client_id=client.client_id, grant_type=grants.PASSWORD, result=ISSUED),
        "bars": bars,
    }


@register.inclusion_tag("admin/oauthgw/password_grant.html", takes_context=True)
def password_grant_dashboard(context) -> dict:
    if not _may_read_the_audit_trail(context):
        return {"usage": None}
    usage = password_grant_usage()
    changelist = reverse("admin:oauthgw_application_changelist")
    return {
        "usage": usage,
        "rows": [_password_grant_row(client, usage.days) for client in usage.clients],
        "all_clients_url": f"{changelist}?grant_type={grants.PASSWORD}",
    }
