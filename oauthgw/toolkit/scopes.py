"""Scopes per client: the toolkit's scopes backend, reading the Application's fields."""

from oauth2_provider.scopes import SettingsScopes


class ApplicationScopes(SettingsScopes):
    """All scopes come from ``OAUTH2_PROVIDER["SCOPES"]``; each client gets its own subset."""

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        if application is None:
            # Asked without a client (server metadata): every scope that exists.
            return sorted(self.get_all_scopes())
        known = set(self.get_all_scopes())
        return sorted(application.allowed_scope_set & known)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        if application is None:
            return []
        return sorted(application.default_scope_set & set(self.get_available_scopes(application)))


def scope_descriptions() -> dict[str, str]:
    """Each scope's description, as the consent page shows it (``OAUTH2_PROVIDER["SCOPES"]``)."""
    return dict(ApplicationScopes().get_all_scopes())
