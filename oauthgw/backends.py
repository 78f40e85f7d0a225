"""The Django authentication backend of the gateway's login page: resource owners vouched for upstream.

``ResourceOwnerBackend.authenticate(request, username, password, client=...)``
asks the client's authorization server through the very policy the password
grant uses (``oauthgw.issuing.password.resource_owner_authenticate``): the
same block, the same login limits (what one username, address or client may
fail), the same circuit breaker, identity from the upstream's ``sub``, and the
upstream's refresh token kept for the session. There is no second copy of
those rules.

Its outcomes, as Django's backends give them: the resource owner's shadow user
(``user.upstream_login`` carries what the server said), or None when the server
said no. The other outcomes are the policy's exceptions, raised to the caller:
``Throttled`` (with ``retry_after``), ``UpstreamUnavailable`` and
``ResourceOwnerBlocked``, so the page can tell a person to wait, to come back
later, or (for a blocked owner) exactly what a wrong password is told.

It is deliberately absent from ``AUTHENTICATION_BACKENDS``: those authenticate
staff for the admin, behind django-axes. The login page calls this backend alone
(``login_page_authenticate``), so a staff account's password is never accepted
there and a resource owner's failures never count against a staff account of
the same name; and the admin's stack never consults the upstream.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import BaseBackend

from oauthgw.end_user_address import end_user_address
from oauthgw.issuing.password import resource_owner_authenticate


class ResourceOwnerBackend(BaseBackend):
    def authenticate(self, request, username=None, password=None, *, client=None, **kwargs):
        if client is None or username is None or password is None:
            # Not a login-page call (the admin's login, say): nothing to do with resource owners.
            return None
        login = resource_owner_authenticate(
            client=client, username=username, password=password, client_ip=end_user_address(request.META)
        )
        if login is None:
            return None
        user = login.user
        user.upstream_login = login
        return user

    def get_user(self, user_id):
        # Only shadow users of resource owners, never a staff account.
        return get_user_model().objects.filter(pk=user_id, resource_owner__isnull=False).first()


def login_page_authenticate(request, *, client, username: str, password: str):
    """Authenticate at the login page through ``ResourceOwnerBackend`` alone (see the module's docstring)."""
    return ResourceOwnerBackend().authenticate(request, username=username, password=password, client=client)
