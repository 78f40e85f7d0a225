from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from oauthgw.exceptions import BackupError
from oauthgw.management.backups import database_restore


class Command(BaseCommand):
    help = (
        "Restore a backup of backup_database into the configured database, with the gateway stopped. Refuses a "
        "database that holds tables unless --replace, which first backs up what is there. Then checks that "
        "OAUTHGW_ENCRYPTION_KEYS opens every stored secret (docs/operations.md, 'Restoring')."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("backup", type=Path, help="a file written by backup_database (.sqlite3 or .pgdump)")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="restore over a database that holds tables, after backing it up next to the backup restored",
        )

    def handle(self, *args, **options):
        try:
            report = database_restore(source=options["backup"], replace=options["replace"])
        except (BackupError, OSError) as exc:
            raise CommandError(f"Not restored: {exc}") from exc
        if report.replaced_backup:
            self.stdout.write(f"What the database held before is backed up in {report.replaced_backup}")
        self.stdout.write(f"Restored {report.source}.")
        if report.pending_migrations:
            self.stdout.write(
                f"The backup is of an older release: {len(report.pending_migrations)} migrations of this code are "
                "not applied. Run migrate before starting the gateway."
            )
        if not report.described:
            self.stdout.write(
                "Its tables are too old for this code to check them: after migrate, rotate_encryption_key reports "
                "any stored secret the configured keys do not open."
            )
            return
        self.stdout.write(
            f"{report.clients} clients, {report.live_access_tokens} unexpired access tokens, "
            f"{report.live_refresh_tokens} unrevoked refresh tokens, {report.sessions} sessions."
        )
        if report.unreadable_secrets:
            for where in report.unreadable_secrets:
                self.stderr.write(f"No configured key opens {where}.")
            raise CommandError(
                f"{len(report.unreadable_secrets)} stored secrets cannot be decrypted with OAUTHGW_ENCRYPTION_KEYS: "
                "the backup was taken under other keys. Configure the keys of the deployment it came from "
                "(docs/operations.md, 'Backups')."
            )
