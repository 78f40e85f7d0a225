from django.core.management.base import BaseCommand, CommandError

from oauthgw.issuing.clients import client_set_enabled
from oauthgw.models import Application


class ClientSwitchCommand(BaseCommand):
    enabled: bool

    def add_arguments(self, parser):
        parser.add_argument("client_id", help="the client's key (client_id)")

    def handle(self, *args, **options):
        client = Application.objects.filter(client_id=options["client_id"]).first()
        if client is None:
            raise CommandError(f"No client with client_id {options['client_id']!r}.")
        changed = client_set_enabled(client=client, enabled=self.enabled)
        state = "enabled" if self.enabled else "disabled (its tokens are revoked)"
        self.stdout.write(f"{client.name} ({client.client_id}) {'is now' if changed else 'was already'} {state}.")


class Command(ClientSwitchCommand):
    help = "Enable a client again. Tokens it held when it was disabled stay revoked."
    enabled = True
