import json

from django.core.management.base import BaseCommand

from oauthgw import grants
from oauthgw.clients import client_secret_generate
from oauthgw.models import Application

DEMO_NAME = "local-demo"


class Command(BaseCommand):
    help = (
        "Development only: make sure the client 'local-demo' exists (all grants, scope hello) "
        "and give it a fresh secret, printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, **options):
        secret = client_secret_generate()
        client = Application.objects.filter(name=DEMO_NAME).first() or Application(name=DEMO_NAME)
        client.client_secret = secret
        client.enabled = True
        client.grant_types = " ".join(grants.SERVED)
        client.allowed_scopes = client.default_scopes = "hello"
        client.save()
        if options["as_json"]:
            self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret}))
        else:
            self.stdout.write(f"client_id:     {client.client_id}\nclient_secret: {secret}")
