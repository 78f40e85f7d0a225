"""The token endpoint's audit trail: read-only, filterable by outcome, client and time.

A row may stand for many requests: failures of requests whose client did not
authenticate are counted per source and interval (the outcome says how many).
"""

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from oauthgw.admin.display import datetime_cell
from oauthgw.models import Application, AuditEvent


class ClientFilter(admin.SimpleListFilter):
    """Registered clients only: the trail also holds whatever ids strangers sent."""

    title = "client"
    parameter_name = "client_id"

    def lookups(self, request, model_admin):
        return [
            (client_id, name or client_id) for client_id, name in Application.objects.values_list("client_id", "name")
        ]

    def queryset(self, request, queryset):
        return queryset.filter(client_id=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("when", "outcome_code", "status", "client_id", "grant_type", "username", "client_ip", "latency_ms")
    list_filter = ("outcome", "grant_type", "time", ClientFilter)
    search_fields = ("client_id", "username", "client_ip")
    date_hierarchy = "time"
    list_per_page = 100
    # The changelist's count query is exact; on a long trail it is the slow part.
    show_full_result_count = False

    @admin.display(description="time", ordering="time")
    def when(self, obj):
        return datetime_cell(obj.time)

    @admin.display(description="outcome", ordering="outcome")
    def outcome_code(self, obj):
        # "upstream_unavailable" may wrap after its underscore: the list fits a narrow screen.
        code = format_html_join(mark_safe("_<wbr>"), "{}", ((part,) for part in obj.outcome.split("_")))
        if obj.count == 1:
            return code
        # The failures of one unauthenticated source in one interval, from this time on.
        return format_html('{} <span class="gw-count" title="requests">&times;{}</span>', code, obj.count)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Old events go by the retention setting (purged automatically), not by hand.
        return False
