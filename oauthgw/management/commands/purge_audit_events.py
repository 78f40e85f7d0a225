from django.core.management.base import BaseCommand, CommandError

from oauthgw.conf import gateway_settings
from oauthgw.observability.audit import PURGE_BATCH_SIZE, audit_events_purge, audit_retention_cutoff


class Command(BaseCommand):
    help = "Delete token-endpoint audit events older than OAUTHGW AUDIT_RETENTION_DAYS, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=PURGE_BATCH_SIZE, help="rows deleted per statement")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        if gateway_settings.AUDIT_RETENTION_DAYS < 1:
            raise CommandError("OAUTHGW AUDIT_RETENTION_DAYS must be at least 1")
        cutoff = audit_retention_cutoff()
        deleted = audit_events_purge(older_than=cutoff, batch_size=options["batch_size"])
        self.stdout.write(f"Deleted {deleted} audit events older than {cutoff:%Y-%m-%d %H:%M:%S %Z}.")
