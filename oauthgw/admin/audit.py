"""The token endpoint's audit trail: read-only, filterable by outcome, result, client and period.

The dashboard's numbers link here with the filters that select exactly the
events each number counts (``audit_list_query``): the same period, to the
microsecond, and the same outcomes. A row may stand for many requests: failures
of requests whose client did not authenticate are counted per source and
interval (the outcome says how many).
"""

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import OuterRef, Subquery
from django.utils.html import format_html

from oauthgw.admin.display import datetime_cell, datetime_display, wrappable
from oauthgw.models import Application, AuditEvent, DeletedClient
from oauthgw.signals import SUCCESSFUL

ISSUED = "issued"
FAILED = "failed"


def audit_list_query(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    days: tuple[date, date] | None = None,
    result: str = "",
    outcome: str = "",
    client_id: str = "",
    grant_type: str = "",
) -> str:
    """The audit list's query string for the events the dashboard counts.

    Those after ``since`` up to ``until`` (the 24-hour summary), or those of the
    UTC ``days`` from the first to the last, both included (the password grant's
    30 days); with the same outcomes, client and grant.
    """
    params = {}
    if since is not None and until is not None:
        params["period"] = f"{since.isoformat()}/{until.isoformat()}"
    if days is not None:
        first, last = days
        params["days"] = first.isoformat() if first == last else f"{first.isoformat()}/{last.isoformat()}"
    if result:
        params["result"] = result
    if outcome:
        params["outcome"] = outcome
    if client_id:
        params["client_id"] = client_id
    if grant_type:
        params["grant_type"] = grant_type
    return urlencode(params)


def _period(value: str) -> tuple[datetime, datetime]:
    """``since/until`` in ISO 8601, both with their offset; ValueError otherwise."""
    since_text, separator, until_text = value.partition("/")
    since, until = datetime.fromisoformat(since_text), datetime.fromisoformat(until_text)
    if not separator or since.tzinfo is None or until.tzinfo is None:
        raise ValueError(value)
    return since, until


class PeriodFilter(admin.SimpleListFilter):
    """Events after one moment up to another: what the dashboard's 24 hours were when it was drawn."""

    title = "period"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        # No fixed choices (the date filter has those): only the period a link asked
        # for. A filter without choices is dropped, so a malformed one is listed too,
        # and refused below rather than ignored.
        if not self.value():
            return []
        try:
            since, until = _period(self.value())
        except ValueError:
            return [(self.value(), self.value())]
        return [(self.value(), f"{datetime_display(since)} to {datetime_display(until)}")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            since, until = _period(self.value())
        except ValueError as exc:
            # The changelist answers it with its "?e=1" page, as for any bad filter.
            raise IncorrectLookupParameters(exc) from exc
        return queryset.filter(time__gt=since, time__lte=until)


def _days(value: str) -> tuple[date, date]:
    """``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD``, the first not after the last; ValueError otherwise."""
    first_text, separator, last_text = value.partition("/")
    first = date.fromisoformat(first_text)
    last = date.fromisoformat(last_text) if separator else first
    if last < first:
        raise ValueError(value)
    return first, last


class DaysFilter(admin.SimpleListFilter):
    """Events of whole days in UTC, as the dashboard's days of password logins count them."""

    title = "days (UTC)"
    parameter_name = "days"

    def lookups(self, request, model_admin):
        # As the period filter: only the days a link asked for, a malformed value refused below.
        if not self.value():
            return []
        try:
            first, last = _days(self.value())
        except ValueError:
            return [(self.value(), self.value())]
        label = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
        return [(self.value(), f"{label} (UTC)")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            first, last = _days(self.value())
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from exc
        start = datetime.combine(first, time(0), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        return queryset.filter(time__gte=start, time__lt=end)


class ResultFilter(admin.SimpleListFilter):
    """Whether the request got tokens: the dashboard's "issued" and "failed"."""

    title = "result"
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return [(ISSUED, "tokens issued"), (FAILED, "failed")]

    def queryset(self, request, queryset):
        if self.value() == ISSUED:
            return queryset.filter(outcome__in=SUCCESSFUL)
        if self.value() == FAILED:
            return queryset.exclude(outcome__in=SUCCESSFUL)
        return queryset


def _client_ids_named(term: str) -> list[str]:
    """The client ids of the clients, deleted ones included, whose name contains ``term``."""
    live = Application.objects.filter(name__icontains=term).values_list("client_id", flat=True)
    gone = DeletedClient.objects.filter(name__icontains=term).values_list("client_id", flat=True)
    return [*live, *gone]


class ClientFilter(admin.SimpleListFilter):
    """Registered clients, then deleted ones: the trail also holds whatever ids strangers sent."""

    title = "client"
    parameter_name = "client_id"

    def lookups(self, request, model_admin):
        live = sorted(Application.objects.values_list("name", "client_id"), key=lambda row: row[0].lower())
        gone = sorted(DeletedClient.objects.values_list("name", "client_id"), key=lambda row: row[0].lower())
        return [(client_id, name) for name, client_id in live] + [
            (client_id, f"{name} (deleted)") for name, client_id in gone
        ]

    def queryset(self, request, queryset):
        return queryset.filter(client_id=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "when",
        "outcome_code",
        "status",
        "client",
        "grant_type",
        "sent_username",
        "client_ip",
        "latency_ms",
    )
    list_filter = (ResultFilter, "outcome", "grant_type", "time", PeriodFilter, DaysFilter, ClientFilter)
    # A search also finds the events of the clients, deleted or not, whose name contains the words.
    search_fields = ("client_id", "username", "client_ip")
    readonly_fields = ("client",)
    date_hierarchy = "time"
    list_per_page = 100
    # The changelist's count query is exact; on a long trail it is the slow part.
    show_full_result_count = False

    def get_queryset(self, request):
        # The name the client has now, or had when it was deleted: events keep only its id.
        live = Application.objects.filter(client_id=OuterRef("client_id")).values("name")[:1]
        gone = DeletedClient.objects.filter(client_id=OuterRef("client_id")).values("name")[:1]
        return super().get_queryset(request).annotate(client_name=Subquery(live), deleted_client_name=Subquery(gone))

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        named = _client_ids_named(term) if term else []
        if named:
            results |= queryset.filter(client_id__in=named)
        return results, may_have_duplicates

    @admin.display(description="time", ordering="time")
    def when(self, obj):
        return datetime_cell(obj.time)

    @admin.display(description="outcome", ordering="outcome")
    def outcome_code(self, obj):
        # "upstream_unavailable" may wrap after its underscore: the list fits a narrow screen.
        code = wrappable(obj.outcome)
        if obj.count == 1:
            return code
        # The failures of one unauthenticated source in one interval, from this time on.
        return format_html('{} <span class="gw-count" title="requests">&times;{}</span>', code, obj.count)

    @admin.display(description="client", ordering="client_id")
    def client(self, obj):
        name = getattr(obj, "client_name", None)
        deleted = getattr(obj, "deleted_client_name", None)
        if name is None and deleted is not None:
            name = f"{deleted} (deleted)"
        # An id no client has (a stranger's, a typo) shows as itself.
        return format_html(
            '{}<code class="gw-client-id">{}</code>', wrappable(name) if name else "", obj.client_id or "—"
        )

    @admin.display(description="username", ordering="username")
    def sent_username(self, obj):
        return wrappable(obj.username)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Old events go by the retention setting (purged automatically), not by hand.
        return False
