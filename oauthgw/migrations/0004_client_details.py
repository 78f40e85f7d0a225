# Client names become required and unique regardless of case; clients get a
# description and an owner or contact. Existing clients without a name, or
# sharing one, are renamed first (the oldest keeps its name).

import django.db.models.functions.text
from django.db import migrations, models

MAX_NAME = 255


def _unique(base: str, taken: set[str], first_suffix: int) -> str:
    base = base[: MAX_NAME - 8]
    number = first_suffix
    candidate = base if number == 1 else f"{base} ({number})"
    while candidate.lower() in taken:
        number += 1
        candidate = f"{base} ({number})"
    return candidate


def name_every_client_uniquely(apps, schema_editor):
    Application = apps.get_model("oauthgw", "Application")
    clients = list(Application.objects.order_by("pk").values_list("pk", "name", "client_id"))
    taken: set[str] = set()
    renames = []
    for pk, name, client_id in clients:
        key = name.strip().lower()
        if key and key not in taken:
            taken.add(key)
        else:
            renames.append((pk, name.strip(), client_id))
    for pk, name, client_id in renames:
        # An empty name becomes "client <start of its id>"; a repeated one gets " (2)", " (3)", ...
        new_name = _unique(name, taken, 2) if name else _unique(f"client {client_id[:8]}", taken, 1)
        taken.add(new_name.lower())
        Application.objects.filter(pk=pk).update(name=new_name)


class Migration(migrations.Migration):

    dependencies = [
        ("oauthgw", "0003_shared_values"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="application",
            options={"verbose_name": "client", "verbose_name_plural": "clients"},
        ),
        migrations.AddField(
            model_name="application",
            name="contact",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Who to ask about this client: a team, a person, an e-mail address.",
                max_length=255,
                verbose_name="owner or contact",
            ),
        ),
        migrations.AddField(
            model_name="application",
            name="description",
            field=models.TextField(blank=True, default="", help_text="What the client is and what it is for."),
        ),
        migrations.RunPython(name_every_client_uniquely, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="application",
            name="name",
            field=models.CharField(
                help_text="Unique: how operators and the audit trail tell clients apart.", max_length=255
            ),
        ),
        migrations.AddConstraint(
            model_name="application",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"),
                name="unique_client_name_ci",
                violation_error_message="A client with this name already exists (names ignore case).",
            ),
        ),
        migrations.AddConstraint(
            model_name="application",
            constraint=models.CheckConstraint(
                condition=models.Q(("name", ""), _negated=True),
                name="client_name_not_empty",
                violation_error_message="A client needs a name.",
            ),
        ),
    ]
