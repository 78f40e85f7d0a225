from django.apps import AppConfig


class OauthgwConfig(AppConfig):
    name = "oauthgw"
    verbose_name = "OAuth gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from oauthgw.admin.site import tidy_admin_site
        from oauthgw.observability import audit

        audit.connect_receivers()
        # After django.contrib.admin's ready() has imported every admin module.
        tidy_admin_site()

        from oauthgw import checks  # noqa: F401  (registers the system checks)
        from oauthgw.caching import bearer_cache
        from oauthgw.dpop import checks as dpop_checks  # noqa: F401  (registers the DPoP checks)
        from oauthgw.issuing import clients, retention
        from oauthgw.observability import metrics  # noqa: F401  (registers its signal receiver)

        bearer_cache.connect_receivers()
        clients.connect_receivers()
        retention.connect_receivers()
