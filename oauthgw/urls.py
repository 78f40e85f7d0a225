"""The authorization server's endpoints.

Named in the toolkit's namespace (``oauth2_provider``) so its RFC 8414 metadata
view finds them; only what the gateway serves is mounted.
"""

from django.urls import path, re_path

from oauthgw.issuing.password_sunset import GUIDE_PATH
from oauthgw.views.authorize import AuthorizeView, ContinueView
from oauthgw.views.guides import password_grant_guide
from oauthgw.views.introspect import IntrospectView
from oauthgw.views.jwks import jwks
from oauthgw.views.login import ConsentView, LoginView, LogoutView
from oauthgw.views.metadata import ServerMetadataView
from oauthgw.views.revoke import RevokeView
from oauthgw.views.token import TokenView

app_name = "oauth2_provider"

urlpatterns = [
    # The authorization code flow: the authorization endpoint and its pages for people.
    re_path(r"^oauth2/authorize/?$", AuthorizeView.as_view(), name="authorize"),
    path("oauth2/authorize/continue", ContinueView.as_view(), name="authorize-continue"),
    path("oauth2/login", LoginView.as_view(), name="login"),
    path("oauth2/consent", ConsentView.as_view(), name="consent"),
    path("oauth2/logout", LogoutView.as_view(), name="logout"),
    re_path(r"^oauth2/token/?$", TokenView.as_view(), name="token"),
    re_path(r"^oauth2/revoke/?$", RevokeView.as_view(), name="revoke-token"),
    re_path(r"^oauth2/introspect/?$", IntrospectView.as_view(), name="introspect"),
    path(".well-known/oauth-authorization-server", ServerMetadataView.as_view(), name="oauth-server-metadata"),
    path(".well-known/jwks.json", jwks, name="jwks"),
    # Below the issuer, as oauthgw.issuing.password_sunset.guide_url expects.
    path(GUIDE_PATH, password_grant_guide, name="password-grant-guide"),
]
