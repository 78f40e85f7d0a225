from django.core.management.base import BaseCommand, CommandError

from oauthgw.issuing.clients import client_by_id_or_name, client_set_enabled

CLIENT_HELP = "the client's id (client_id) or its name"


class ClientSwitchCommand(BaseCommand):
    enabled: bool

    def add_arguments(self, parser):
        parser.add_argument("client", help=CLIENT_HELP)

    def handle(self, *args, **options):
        try:
            client = client_by_id_or_name(options["client"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        changed = client_set_enabled(client=client, enabled=self.enabled)
        state = "enabled" if self.enabled else "disabled (its tokens are revoked)"
        self.stdout.write(f"{client.name} ({client.client_id}) {'is now' if changed else 'was already'} {state}.")


class Command(ClientSwitchCommand):
    help = (
        "Enable a client again, named by its client id or its name. Tokens it held when it was disabled stay revoked."
    )
    enabled = True
