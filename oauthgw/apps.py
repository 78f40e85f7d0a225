from django.apps import AppConfig


class OauthgwConfig(AppConfig):
    name = "oauthgw"
    verbose_name = "OAuth gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauthgw import checks  # noqa: F401  (registers the system checks)
