from oauthgw.management.commands.enable_client import ClientSwitchCommand


class Command(ClientSwitchCommand):
    help = (
        "Disable a client, named by its client id or its name: the token endpoint refuses it and its tokens are "
        "revoked at once, in every gateway process and instance."
    )
    enabled = False
