"""The admin index's 24-hour summary (templates/admin/index.html)."""

from django import template
from django.urls import reverse

from oauthgw.dashboard import dashboard_summary

register = template.Library()


@register.inclusion_tag("admin/oauthgw/dashboard.html", takes_context=True)
def gateway_dashboard(context) -> dict:
    request = context.get("request")
    if request is None or not request.user.has_perm("oauthgw.view_auditevent"):
        return {"summary": None}
    summary = dashboard_summary()
    return {
        "summary": summary,
        "chart_data": summary.chart_data(),
        "audit_url": reverse("admin:oauthgw_auditevent_changelist"),
    }
