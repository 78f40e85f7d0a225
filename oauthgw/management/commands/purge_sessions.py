from django.core.management.base import BaseCommand

from oauthgw.issuing.sessions import sessions_purge


class Command(BaseCommand):
    help = "Delete the sessions whose token family has no live refresh token, with the upstream tokens kept for them."

    def handle(self, *args, **options):
        deleted = sessions_purge()
        self.stdout.write(f"Deleted {deleted} ended sessions.")
