from django.apps import AppConfig


class OauthgwConfig(AppConfig):
    name = "oauthgw"
    verbose_name = "OAuth gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauthgw import bearer_cache, checks, metrics  # noqa: F401  (checks and metrics register themselves)

        bearer_cache.connect_receivers()
