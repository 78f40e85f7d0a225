from django.core.management.base import BaseCommand

from oauthgw.issuing.authorization import authorization_requests_purge
from oauthgw.issuing.login_sessions import login_sessions_purge
from oauthgw.issuing.sessions import sessions_purge


class Command(BaseCommand):
    help = (
        "Delete the sessions whose token family has no live refresh token, with the upstream tokens kept for them; "
        "and the login page's expired login sessions and authorization requests."
    )

    def handle(self, *args, **options):
        deleted = sessions_purge()
        logins = login_sessions_purge()
        requests = authorization_requests_purge()
        self.stdout.write(
            f"Deleted {deleted} ended sessions, {logins} expired login sessions and {requests} expired "
            "authorization requests."
        )
