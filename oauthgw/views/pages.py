"""What the login, consent and message pages of the authorization endpoint share.

These are the gateway's only pages for resource owners (everything else is for
programs or for staff). Each carries what the admin's pages carry (the strict
Content-Security-Policy of ``oauthgw.middleware``, ``X-Frame-Options: DENY``, the
``Referrer-Policy``) and ``Cache-Control: no-store``: a page with a form bound
to one authorization request must never come back from a cache.

A form on these pages ends in a redirect to the client (the code, or an error),
and browsers apply the page's ``form-action`` to every redirect that follows a
form: the policy of a page names the client's redirect URI there, and nothing
else beyond the gateway itself.
"""

from urllib.parse import urlsplit

from django.template.response import TemplateResponse

from oauthgw import redirect_uris
from oauthgw.middleware import HEADER, POLICY

MESSAGE_TEMPLATE = "oauthgw/message.html"

# What a person is told at the login page, by the outcome of their attempt
# (oauthgw.signals names). A blocked owner reads what a wrong password reads.
WRONG_CREDENTIALS = "The username or password is not correct."
UNAVAILABLE = "The sign-in service is unavailable right now. Please try again in a few minutes."


def wait_message(seconds: int) -> str:
    """ "Too many attempts": how long to wait, in words a person reads at a glance (from ``Retry-After``)."""
    minutes = (max(1, seconds) + 59) // 60
    when = "a minute" if minutes <= 1 else f"{minutes} minutes"
    return f"Too many failed sign-in attempts. Please wait {when} before trying again."


def _form_action_source(redirect_uri: str) -> str:
    parts = urlsplit(redirect_uri)
    if parts.scheme in (redirect_uris.HTTP, redirect_uris.HTTPS):
        host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
        if parts.scheme == redirect_uris.HTTP:
            # A loopback redirect URI of a native app may use any port (RFC 8252 section 7.3).
            return f"http://{host}:*"
        port = f":{parts.port}" if parts.port else ""
        return f"https://{host}{port}"
    # A native app's private-use scheme.
    return f"{parts.scheme}:"


def policy_for(redirect_uri: str | None) -> str:
    """The page's Content-Security-Policy: ``POLICY``, with the client's redirect URI as a form's destination."""
    if not redirect_uri:
        return POLICY
    return POLICY.replace("form-action 'self'", f"form-action 'self' {_form_action_source(redirect_uri)}")


def page(request, template: str, context: dict, *, status: int = 200, redirect_uri: str | None = None):
    response = TemplateResponse(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    response[HEADER] = policy_for(redirect_uri)
    return response


def message_page(request, *, title: str, message: str, status: int, retry_after: int | None = None):
    """A page that says what went wrong and what to do, for a request that cannot go back to its client."""
    response = page(request, MESSAGE_TEMPLATE, {"title": title, "message": message}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


LOGIN_TEMPLATE = "oauthgw/login.html"
CONSENT_TEMPLATE = "oauthgw/consent.html"


def login_page(request, auth_request, *, username: str = "", message: str = "", status: int = 200, retry_after=None):
    """The login form of ``auth_request`` (an ``AuthorizationRequest``), with what the last attempt said."""
    context = {
        "title": "Sign in",
        "client": auth_request.client,
        "handle": auth_request.handle,
        "username": username,
        "message": message,
        "message_kind": "error",
    }
    response = page(request, LOGIN_TEMPLATE, context, status=status, redirect_uri=auth_request.redirect_uri)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def consent_page(request, auth_request, *, owner_name: str, scope_descriptions: dict[str, str]):
    scopes = [(scope, scope_descriptions.get(scope, scope)) for scope in auth_request.scope.split()]
    context = {
        "title": f"Allow {auth_request.client.name}?",
        "client": auth_request.client,
        "handle": auth_request.handle,
        "owner_name": owner_name,
        "scopes": scopes,
    }
    return page(request, CONSENT_TEMPLATE, context, redirect_uri=auth_request.redirect_uri)
