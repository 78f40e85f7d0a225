from django.core.management.base import BaseCommand, CommandError

from oauthgw.issuing.client_deletion import client_delete, client_holdings
from oauthgw.issuing.clients import client_by_id_or_name
from oauthgw.management.commands.enable_client import CLIENT_HELP


class Command(BaseCommand):
    help = (
        "Delete a client for good, named by its client id or its name: its tokens and sessions go at once, in "
        "every gateway process and instance; its audit events stay, with its id and name. Asks first unless "
        "--no-input."
    )

    def add_arguments(self, parser):
        parser.add_argument("client", help=CLIENT_HELP)
        parser.add_argument(
            "--no-input", "--noinput", action="store_false", dest="interactive", help="do not ask for confirmation"
        )

    def handle(self, *args, **options):
        try:
            client = client_by_id_or_name(options["client"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["interactive"]:
            self.stdout.write(f"{client.name} ({client.client_id}) {_counts(client_holdings(client=client))}.")
            if input(f"Type its name ({client.name}) to delete it: ").strip() != client.name:
                raise CommandError("Not deleted.")
        held = client_delete(client=client)
        if held is None:
            raise CommandError(f"{client.name} ({client.client_id}) had already been deleted.")
        self.stdout.write(f"Deleted {client.name} ({client.client_id}): {_counts(held)}.")


def _counts(held) -> str:
    return (
        f"deleted with it: live access tokens {held.access_tokens}, usable refresh tokens {held.refresh_tokens}, "
        f"sessions {held.sessions}; kept: audit events {held.audit_events}"
    )
