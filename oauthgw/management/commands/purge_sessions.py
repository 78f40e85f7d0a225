from django.core.management.base import BaseCommand

from oauthgw.dpop.bindings import dpop_bindings_purge
from oauthgw.issuing.authorization import authorization_requests_purge
from oauthgw.issuing.login_sessions import login_sessions_purge
from oauthgw.issuing.sessions import sessions_purge


class Command(BaseCommand):
    help = (
        "Delete the sessions whose token family has no live refresh token, with the upstream tokens kept for them; "
        "the login page's expired login sessions and authorization requests; and the DPoP bindings of access tokens "
        "that are gone."
    )

    def handle(self, *args, **options):
        deleted = sessions_purge()
        logins = login_sessions_purge()
        requests = authorization_requests_purge()
        bindings = dpop_bindings_purge()
        self.stdout.write(
            f"Deleted {deleted} ended sessions, {logins} expired login sessions, {requests} expired "
            f"authorization requests and {bindings} DPoP bindings of tokens that are gone."
        )
