"""Site-wide admin wiring that must run after every admin module is registered."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from oauth2_provider.models import get_grant_model, get_id_token_model

from oauthgw.admin.users import StaffUserAdmin
from oauthgw.end_user_address import end_user_address

SITE_HEADER = "oauthgw administration"


def tidy_admin_site(site: admin.AdminSite = admin.site) -> None:
    """Hide the toolkit's admins for what the gateway never issues; keep shadow users out of Users."""
    site.site_header = SITE_HEADER
    site.site_title = SITE_HEADER
    site.index_title = "Authorization server"
    # The gateway serves neither authorization codes nor OpenID Connect.
    for model in (get_grant_model(), get_id_token_model()):
        if site.is_registered(model):
            site.unregister(model)
    user_model = get_user_model()
    if site.is_registered(user_model):
        site.unregister(user_model)
    site.register(user_model, StaffUserAdmin)


def login_client_ip(request) -> str:
    """The address django-axes counts failed admin logins against: the gateway's own rule."""
    return end_user_address(request.META)
