from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from oauthgw.exceptions import BackupError
from oauthgw.management.backups import database_backup


class Command(BaseCommand):
    help = (
        "Write a consistent copy of the database while the gateway serves: SQLite's online backup API, or "
        "pg_dump --format=custom. The copy does not hold OAUTHGW_ENCRYPTION_KEYS or DJANGO_SECRET_KEY: keep "
        "them apart (docs/operations.md, 'Backups')."
    )
    # Copies whatever schema it finds: usable before and after migrate, and by any release.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument(
            "destination", type=Path, help="a file to create, or a directory to put oauthgw-<UTC time>.<kind> in"
        )

    def handle(self, *args, **options):
        try:
            written = database_backup(destination=options["destination"])
        except (BackupError, OSError) as exc:
            raise CommandError(f"No backup written: {exc}") from exc
        self.stdout.write(str(written))
