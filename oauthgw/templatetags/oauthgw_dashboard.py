"""The 24-hour summaries: the admin index's (every client) and a client page's."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from oauthgw.observability.dashboard import dashboard_summary

register = template.Library()


def _may_read_the_audit_trail(context) -> bool:
    request = context.get("request")
    return request is not None and request.user.has_perm("oauthgw.view_auditevent")


@register.inclusion_tag("admin/oauthgw/dashboard.html", takes_context=True)
def gateway_dashboard(context) -> dict:
    if not _may_read_the_audit_trail(context):
        return {"summary": None}
    summary = dashboard_summary()
    audit_url = reverse("admin:oauthgw_auditevent_changelist")
    return {"summary": summary, "chart_data": summary.chart_data(), "audit_url": audit_url}


@register.inclusion_tag("admin/oauthgw/application/usage.html", takes_context=True)
def client_usage(context, client) -> dict:
    if client is None or client.pk is None or not _may_read_the_audit_trail(context):
        return {"summary": None}
    summary = dashboard_summary(client_id=client.client_id)
    # The audit trail filtered to this client; the cards add "&outcome=…".
    audit_url = reverse("admin:oauthgw_auditevent_changelist") + "?" + urlencode({"client_id": client.client_id})
    return {"summary": summary, "chart_data": summary.chart_data(), "audit_url": audit_url}
