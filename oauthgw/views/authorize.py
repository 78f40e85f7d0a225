"""``GET /oauth2/authorize``: the authorization code flow with PKCE (RFC 6749 section 4.1, RFC 7636, RFC 9700).

The toolkit's ``AuthorizationView`` checks the request through oauthlib (the
client, its exact redirect URI, ``response_type=code``, an ``S256`` PKCE
challenge, the scopes) and writes the code; this subclass decides who is signed
in and what the person sees:

- a request whose client or redirect URI is not valid gets an error page and is
  never redirected (RFC 6749 section 4.1.2.1); any later error goes back to the
  client with ``error``, its ``state`` and ``iss`` (RFC 9207);
- a browser signed in at the gateway (``oauthgw.issuing.login_sessions``) for a
  first-party client gets its code at once; otherwise the login page, then for
  clients that are not first-party the consent page;
- ``prompt=login`` shows the login page even to a signed-in browser;
  ``prompt=none`` never shows a page: ``login_required`` or ``consent_required``.

Every page's form carries only the handle of the request it was shown for
(``oauthgw.issuing.authorization``); ``GET /oauth2/authorize/continue`` answers
that request, once.
"""

import logging

from django.contrib.auth.models import AnonymousUser
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.views import AuthorizationView
from oauthlib.common import add_params_to_uri

from oauthgw.issuer import gateway_issuer
from oauthgw.issuing.authorization import (
    authorization_request_answer,
    authorization_request_create,
    authorization_request_load,
    authorization_request_signed_in,
)
from oauthgw.issuing.clients import client_load
from oauthgw.issuing.login_sessions import COOKIE_NAME, login_session_for, login_session_valid
from oauthgw.models import LoginSession
from oauthgw.toolkit.oauth2_backends import with_issuer
from oauthgw.toolkit.scopes import scope_descriptions
from oauthgw.views.pages import consent_page, login_page, message_page

logger = logging.getLogger(__name__)

PROMPTS = frozenset({"none", "login", "consent"})
EXPIRED_TITLE = "This sign-in has expired"
EXPIRED_MESSAGE = "Go back to the application and start signing in again."


def expired_page(request):
    return message_page(request, title=EXPIRED_TITLE, message=EXPIRED_MESSAGE, status=400)


def client_disabled_page(request):
    return message_page(
        request,
        title="This application cannot sign you in",
        message="The application is not known or has been disabled. Contact whoever runs it.",
        status=400,
    )


def owner_name(user) -> str:
    owner = getattr(user, "resource_owner", None)
    return (owner.username or owner.subject) if owner is not None else ""


@method_decorator(never_cache, name="dispatch")
class AuthorizeView(AuthorizationView):
    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        # The toolkit's view signs people in with Django's own login
        # (LoginRequiredMixin), which is the admin's session here: a resource
        # owner signs in at the gateway's own page instead, with a session of its
        # own, and request.user (an admin, perhaps) is never the resource owner.
        request.user = AnonymousUser()
        self.oauth2_data = {}
        return View.dispatch(self, request, *args, **kwargs)

    def http_method_not_allowed(self, request, *args, **kwargs):
        response = message_page(
            request, title="Not a sign-in page", message="Open the link the application gave you.", status=405
        )
        response["Allow"] = "GET, HEAD"
        return response

    # --- Errors --------------------------------------------------------------------

    def authorization_error(self, error: OAuthToolkitError):
        """An error page when the client or the redirect URI is not valid; otherwise a redirect to the client."""
        oauthlib_error = error.oauthlib_error
        client = client_load(oauthlib_error.client_id or "")
        if isinstance(error, FatalClientError) or not oauthlib_error.redirect_uri or client is None:
            logger.info("authorization request refused with a page: %s", oauthlib_error.error)
            return message_page(
                self.request,
                title="This sign-in link is not valid",
                message=f"{oauthlib_error.description or oauthlib_error.error} Contact whoever runs the application.",
                status=oauthlib_error.status_code,
            )
        uri = add_params_to_uri(oauthlib_error.redirect_uri, oauthlib_error.twotuples)
        return self.redirect(with_issuer(uri, gateway_issuer(self.request)), client)

    def redirect_error(self, client, *, redirect_uri: str, state: str, error: str, description: str):
        params = [("error", error), ("error_description", description)]
        if state:
            params.append(("state", state))
        uri = with_issuer(add_params_to_uri(redirect_uri, params), gateway_issuer(self.request))
        return self.redirect(uri, client)

    # --- The request -----------------------------------------------------------------

    def get(self, request, *args, **kwargs):
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.authorization_error(error)
        client = credentials["request"].client
        redirect_uri, state = credentials["redirect_uri"], credentials.get("state") or ""
        refused = self._refused(request)
        if refused is not None:
            return self.redirect_error(
                client, redirect_uri=redirect_uri, state=state, error=refused[0], description=refused[1]
            )
        prompt = set(request.GET.get("prompt", "").split())
        session = None if "login" in prompt else login_session_for(request.COOKIES.get(COOKIE_NAME), client=client)
        needs_consent = not client.skip_authorization or "consent" in prompt
        if "none" in prompt and (session is None or needs_consent):
            error = "login_required" if session is None else "consent_required"
            description = "Nobody is signed in." if session is None else "The user has not allowed this client."
            return self.redirect_error(
                client, redirect_uri=redirect_uri, state=state, error=error, description=description
            )
        if session is not None and not needs_consent:
            try:
                location = self.answer(
                    client=client,
                    session=session,
                    redirect_uri=redirect_uri,
                    scopes=scopes,
                    state=state,
                    code_challenge=credentials["code_challenge"],
                    method=credentials["code_challenge_method"],
                )
            except OAuthToolkitError as error:
                return self.authorization_error(error)
            return self.redirect(location, client)
        auth_request = authorization_request_create(
            client=client,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            code_challenge=credentials["code_challenge"],
            method=credentials["code_challenge_method"],
        )
        if session is None:
            return login_page(request, auth_request)
        authorization_request_signed_in(auth_request, session=session)
        return consent_page(
            request, auth_request, owner_name=owner_name(session.user), scope_descriptions=scope_descriptions()
        )

    def _refused(self, request) -> tuple[str, str] | None:
        """(error, description) for parameters the gateway does not take, else None."""
        prompt = request.GET.get("prompt", "").split()
        if not set(prompt) <= PROMPTS:
            return "invalid_request", "prompt may only be none, login or consent."
        if "none" in prompt and len(prompt) > 1:
            return "invalid_request", "prompt=none cannot be combined with other values."
        if "resource" in request.GET:
            # RFC 8707 at the authorization endpoint is not served: the token request may narrow the audience.
            return "invalid_target", "Send resource with the token request, not the authorization request."
        return None

    # --- The answer --------------------------------------------------------------------

    def answer(self, *, client, session: LoginSession, redirect_uri, scopes, state, code_challenge, method) -> str:
        """Make the code (the toolkit's authorization response, ``iss`` added) and return its redirect."""
        credentials = {
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state or None,
            "code_challenge": code_challenge,
            "code_challenge_method": method,
            # Carried to the code's row: the family it starts takes this login's upstream verdict.
            "login_session_id": session.pk,
        }
        self.request.user = session.user
        try:
            uri, _, _, _ = self.create_authorization_response(self.request, " ".join(scopes), credentials, allow=True)
        finally:
            self.request.user = AnonymousUser()
        return uri


@method_decorator(never_cache, name="dispatch")
class ContinueView(AuthorizeView):
    """``GET /oauth2/authorize/continue?request=…``: answer a request the login or consent page completed."""

    def get(self, request, *args, **kwargs):
        auth_request = authorization_request_load(request.GET.get("request"))
        if auth_request is None:
            return expired_page(request)
        client = client_load(auth_request.client.client_id)
        if client is None or not client.enabled:
            return client_disabled_page(request)
        auth_request.client = client
        session = None
        if login_session_valid(auth_request.login_id):
            # None too if a logout deleted it a moment ago.
            session = (
                LoginSession.objects.select_related("user__resource_owner").filter(pk=auth_request.login_id).first()
            )
        if session is None:
            return login_page(request, auth_request)
        if not client.skip_authorization and not auth_request.consented:
            return consent_page(
                request, auth_request, owner_name=owner_name(session.user), scope_descriptions=scope_descriptions()
            )
        try:
            location = authorization_request_answer(
                auth_request,
                lambda: self.answer(
                    client=client,
                    session=session,
                    redirect_uri=auth_request.redirect_uri,
                    scopes=auth_request.scope.split(),
                    state=auth_request.state,
                    code_challenge=auth_request.code_challenge,
                    method=auth_request.code_challenge_method,
                ),
            )
        except OAuthToolkitError as error:
            return self.authorization_error(error)
        if location is None:
            return message_page(
                request,
                title="This sign-in is complete",
                message="The application already got its answer. Go back to the application.",
                status=400,
            )
        return self.redirect(location, client)
