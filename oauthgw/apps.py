from django.apps import AppConfig


class OauthgwConfig(AppConfig):
    name = "oauthgw"
    verbose_name = "OAuth gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauthgw import audit
        from oauthgw.admin.site import tidy_admin_site

        audit.connect_receivers()
        # After django.contrib.admin's ready() has imported every admin module.
        tidy_admin_site()

        from oauthgw import bearer_cache, checks, clients, metrics  # noqa: F401  (checks and metrics register themselves)

        bearer_cache.connect_receivers()
        clients.connect_receivers()
