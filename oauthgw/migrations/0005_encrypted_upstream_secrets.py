"""The authorization servers' client secrets, encrypted at rest (oauthgw.encryption).

Encrypts every stored plain value with the newest configured key (or the
development key derived from SECRET_KEY), in the migration's transaction: either
every secret is moved to the encrypted column and the plain column dropped, or
nothing changes. Reversible: the reverse decrypts them back.
"""

from django.db import migrations, models

import oauthgw.encryption


def encrypt_secrets(apps, schema_editor):
    server_model = apps.get_model("oauthgw", "AuthorizationServer")
    servers = server_model.objects.using(schema_editor.connection.alias).exclude(client_secret="")
    for pk, plaintext in servers.values_list("pk", "client_secret"):
        server_model.objects.using(schema_editor.connection.alias).filter(pk=pk).update(
            encrypted_client_secret=oauthgw.encryption.encrypt(plaintext)
        )


def decrypt_secrets(apps, schema_editor):
    server_model = apps.get_model("oauthgw", "AuthorizationServer")
    servers = server_model.objects.using(schema_editor.connection.alias).exclude(encrypted_client_secret="")
    for pk, token in servers.values_list("pk", "encrypted_client_secret"):
        server_model.objects.using(schema_editor.connection.alias).filter(pk=pk).update(
            client_secret=oauthgw.encryption.decrypt(token)
        )


class Migration(migrations.Migration):

    dependencies = [
        ("oauthgw", "0004_client_details"),
    ]

    operations = [
        migrations.AddField(
            model_name="authorizationserver",
            name="encrypted_client_secret",
            field=oauthgw.encryption.EncryptedTextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
        migrations.RemoveField(
            model_name="authorizationserver",
            name="client_secret",
        ),
    ]
