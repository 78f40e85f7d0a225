from django.core.management.base import BaseCommand
from django.utils import timezone

from oauthgw.issuing.retention import expired_rows_purge


class Command(BaseCommand):
    help = (
        "Delete expired tokens (what cleartokens does), ended sessions and audit events older than "
        "OAUTHGW_AUDIT_RETENTION_DAYS, now. The gateway also does this on its own every OAUTHGW_PURGE_INTERVAL."
    )

    def handle(self, *args, **options):
        report = expired_rows_purge(now=timezone.now())
        self.stdout.write(
            f"Deleted expired tokens, {report.sessions} ended sessions, {report.login_sessions} expired login "
            f"sessions, {report.authorization_requests} expired authorization requests and {report.audit_events} "
            f"audit events older than {report.audit_cutoff:%Y-%m-%d %H:%M:%S %Z}."
        )
