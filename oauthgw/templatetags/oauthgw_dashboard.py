"""The 24-hour summaries: the admin index's (every client) and a client page's.

Every number links to the audit list filtered to exactly the events it counts:
the summary's own period and outcomes (``audit_list_query``).
"""

from django import template
from django.urls import reverse

from oauthgw.admin.audit import FAILED, ISSUED, audit_list_query
from oauthgw.observability.dashboard import DashboardSummary, dashboard_summary
from oauthgw.signals import THROTTLED, UPSTREAM_UNAVAILABLE

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
