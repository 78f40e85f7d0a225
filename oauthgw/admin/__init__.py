"""The authorization server's admin: one module per model admin.

django-oauth-toolkit registers the client and token models itself, with the
classes its ``*_ADMIN_CLASS`` settings name (below); the rest register here.
``site.tidy_admin_site`` hides what the gateway does not serve once every admin
module is loaded.
"""

from oauthgw.admin.applications import ApplicationAdmin
from oauthgw.admin.audit import AuditEventAdmin
from oauthgw.admin.authorization_servers import AuthorizationServerAdmin
from oauthgw.admin.resource_owners import ResourceOwnerAdmin
from oauthgw.admin.signing_keys import SigningKeyAdmin
from oauthgw.admin.tokens import AccessTokenAdmin, RefreshTokenAdmin

__all__ = [
    "AccessTokenAdmin",
    "ApplicationAdmin",
    "AuditEventAdmin",
    "AuthorizationServerAdmin",
    "RefreshTokenAdmin",
    "ResourceOwnerAdmin",
    "SigningKeyAdmin",
]
