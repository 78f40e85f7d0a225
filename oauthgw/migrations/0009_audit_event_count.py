# Issue 19: failures of unauthenticated token requests are counted per source and interval.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('oauthgw', '0008_jwt_access_tokens'),
    ]

    operations = [
        migrations.AddField(
            model_name='auditevent',
            name='count',
            field=models.PositiveIntegerField(default=1, db_default=1),
        ),
        migrations.AddField(
            model_name='auditevent',
            name='aggregate_key',
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True),
        ),
    ]
