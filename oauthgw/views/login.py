"""The login and consent pages' forms, and logging out: ``/oauth2/login``, ``/oauth2/consent``, ``/oauth2/logout``.

``POST /oauth2/login`` checks the username and password through
``oauthgw.backends.ResourceOwnerBackend``, the password grant's own policy.
What the person reads, by outcome:

- accepted: a login session starts (its cookie), then 303 to
  ``/oauth2/authorize/continue``, which answers the request once;
- rejected, or a blocked owner: the form again, "the username or password is
  not correct" (200), whether or not the username exists;
- throttled: 429 with ``Retry-After``, "wait N minutes";
- the authorization server unavailable: 503 with ``Retry-After``, "try again
  in a few minutes". No code is ever issued without the server's yes.

Every attempt is in the audit trail (grant type ``authorization_code``:
``signed_in``, ``invalid_grant``, ``owner_blocked``, ``throttled``,
``upstream_unavailable``). The forms are CSRF-protected and bound to their
request by its handle; a form naming another client than its request's is
refused. A second submission of the same form while the first asks the server
waits for it and shows its outcome: the password goes upstream once.
"""

import logging
import time
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider.http import OAuth2ResponseRedirect
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2.rfc6749 import errors

from oauthgw import grants
from oauthgw.backends import login_page_authenticate
from oauthgw.conf import gateway_settings
from oauthgw.end_user_address import end_user_address
from oauthgw.exceptions import CircuitOpen, ResourceOwnerBlocked, Throttled, UpstreamUnavailable
from oauthgw.issuer import gateway_issuer
from oauthgw.issuing.authorization import (
    authorization_request_answer,
    authorization_request_consent,
    authorization_request_load,
    authorization_request_signed_out,
    login_attempt_failed,
    login_attempt_start,
    login_attempt_succeeded,
    login_attempt_wait,
)
from oauthgw.issuing.clients import client_load
from oauthgw.issuing.login_sessions import (
    COOKIE_NAME,
    COOKIE_PATH,
    login_cookie_settings,
    login_session_end,
    login_session_start,
    login_session_valid,
)
from oauthgw.signals import (
    OWNER_BLOCKED,
    SIGNED_IN,
    THROTTLED,
    UPSTREAM_UNAVAILABLE,
    NotedClient,
    TokenOutcome,
    token_request_finished,
)
from oauthgw.toolkit.oauth2_backends import with_issuer
from oauthgw.toolkit.request_checks import check_login_parameters
from oauthgw.views.pages import UNAVAILABLE, WRONG_CREDENTIALS, login_page, message_page, page, wait_message

logger = logging.getLogger(__name__)

INVALID_GRANT = "invalid_grant"
LOGOUT_TEMPLATE = "oauthgw/logout.html"


def continue_url(handle: str) -> str:
    return f"{reverse('oauth2_provider:authorize-continue')}?{urlencode({'request': handle})}"


def _bound_request(request):
    """The posted form's authorization request, or the page that says why there is none."""
    auth_request = authorization_request_load(request.POST.get("request"))
    if auth_request is None:
        return None, message_page(
            request,
            title="This sign-in has expired",
            message="Go back to the application and start signing in again.",
            status=400,
        )
    if request.POST.get("client_id") != auth_request.client.client_id:
        logger.warning("a form for client %s was posted to another client's request", request.POST.get("client_id"))
        return None, message_page(
            request,
            title="This form does not belong to this sign-in",
            message="Go back to the application and start signing in again.",
            status=400,
        )
    client = client_load(auth_request.client.client_id)
    if client is None or not client.enabled:
        return None, message_page(
            request,
            title="This application cannot sign you in",
            message="The application is not known or has been disabled. Contact whoever runs it.",
            status=400,
        )
    auth_request.client = client
    return auth_request, None


@method_decorator(never_cache, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class LoginView(View):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        started = time.monotonic()
        auth_request, refused = _bound_request(request)
        if refused is not None:
            return refused
        username, password = request.POST.get("username", ""), request.POST.get("password", "")
        try:
            check_login_parameters(username=username, password=password)
        except errors.InvalidRequestError as exc:
            message = "Enter your username and password." if not (username and password) else exc.description
            return login_page(request, auth_request, username=username[:256], message=message)
        if auth_request.login_id is not None:
            if login_session_valid(auth_request.login_id):
                # An earlier submission of this form signed in already.
                return HttpResponseRedirect(continue_url(auth_request.handle), status=303)
            # That sign-in ended (it expired, the owner was blocked): this one starts anew.
            authorization_request_signed_out(auth_request)
        timeout = gateway_settings.UPSTREAM_TIMEOUT + 2
        if not login_attempt_start(auth_request, seconds=timeout):
            return self._after_other_attempt(request, auth_request, username, timeout)
        outcome, retry_after, user = self._authenticate(request, auth_request, username, password)
        response = self._respond(request, auth_request, outcome, retry_after, user, username)
        self._announce(request, auth_request, username, outcome, response.status_code, time.monotonic() - started)
        return response

    def _authenticate(self, request, auth_request, username: str, password: str):
        """(outcome, retry_after, user) of one attempt; the request's hold is released whatever happens."""
        try:
            user = login_page_authenticate(request, client=auth_request.client, username=username, password=password)
        except Throttled as exc:
            return THROTTLED, exc.retry_after, None
        except CircuitOpen as exc:
            return UPSTREAM_UNAVAILABLE, exc.retry_after, None
        except UpstreamUnavailable:
            return UPSTREAM_UNAVAILABLE, gateway_settings.UPSTREAM_RETRY_AFTER, None
        except ResourceOwnerBlocked:
            return OWNER_BLOCKED, None, None
        except BaseException:
            login_attempt_failed(auth_request, outcome=UPSTREAM_UNAVAILABLE)
            raise
        return (SIGNED_IN if user is not None else INVALID_GRANT), None, user

    def _respond(self, request, auth_request, outcome: str, retry_after, user, username: str):
        if outcome != SIGNED_IN:
            retry_at = timezone.now() + timedelta(seconds=retry_after) if retry_after else None
            login_attempt_failed(auth_request, outcome=outcome, retry_at=retry_at)
            return self._failure_page(request, auth_request, outcome, retry_after, username)
        lasts = gateway_settings.LOGIN_SESSION_SECONDS
        session, key = login_session_start(
            login=user.upstream_login, lasts=lasts or gateway_settings.AUTHORIZATION_REQUEST_SECONDS
        )
        login_attempt_succeeded(auth_request, session=session)
        response = HttpResponseRedirect(continue_url(auth_request.handle), status=303)
        # The browser's earlier session (another user, or prompt=login) ends with this login.
        login_session_end(request.COOKIES.get(COOKIE_NAME))
        if lasts > 0:
            response.set_cookie(COOKIE_NAME, key, **login_cookie_settings())
        else:
            response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH)
        return response

    def _failure_page(self, request, auth_request, outcome: str, retry_after, username: str):
        if outcome == THROTTLED:
            return login_page(
                request,
                auth_request,
                username=username,
                message=wait_message(retry_after),
                status=429,
                retry_after=retry_after,
            )
        if outcome == UPSTREAM_UNAVAILABLE:
            return login_page(
                request, auth_request, username=username, message=UNAVAILABLE, status=503, retry_after=retry_after
            )
        # A wrong password, an unknown username and a blocked owner read alike.
        return login_page(request, auth_request, username=username, message=WRONG_CREDENTIALS)

    def _after_other_attempt(self, request, auth_request, username: str, timeout: float):
        """This form was submitted twice: wait for the first submission, and answer as it did."""
        current = login_attempt_wait(auth_request, seconds=timeout)
        if current.login_id is not None:
            return HttpResponseRedirect(continue_url(current.handle), status=303)
        current.client = auth_request.client
        retry_after = None
        if current.retry_at is not None:
            retry_after = max(1, int((current.retry_at - timezone.now()).total_seconds()))
        return self._failure_page(request, current, current.outcome or INVALID_GRANT, retry_after, username)

    def _announce(self, request, auth_request, username: str, outcome: str, status: int, latency: float) -> None:
        token_request_finished.send(
            sender=LoginView,
            outcome=TokenOutcome(
                outcome=outcome,
                status=status,
                grant_type=grants.AUTHORIZATION_CODE,
                client_id=auth_request.client.client_id,
                username=username[: gateway_settings.MAX_USERNAME_LENGTH],
                client_ip=end_user_address(request.META),
                latency=latency,
                # The page's client is a registered one, but anyone may post to its page: a failure
                # is counted per source like an unauthenticated request's, under the client's id.
                client=NotedClient(registered_id=auth_request.client.client_id, authenticated=False),
            ),
        )


@method_decorator(never_cache, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class ConsentView(View):
    """``POST /oauth2/consent``: the person allows the client (then the request is answered) or denies it."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        auth_request, refused = _bound_request(request)
        if refused is not None:
            return refused
        if not login_session_valid(auth_request.login_id):
            return login_page(request, auth_request)
        if "deny" in request.POST:
            location = authorization_request_answer(auth_request, lambda: self._denied(request, auth_request))
            if location is None:
                return HttpResponseRedirect(continue_url(auth_request.handle), status=303)
            # The toolkit's redirect checks the scheme against the client's own.
            return OAuth2ResponseRedirect(location, auth_request.client.get_allowed_schemes())
        authorization_request_consent(auth_request)
        return HttpResponseRedirect(continue_url(auth_request.handle), status=303)

    def _denied(self, request, auth_request) -> str:
        params = [("error", "access_denied"), ("error_description", "The user denied the request.")]
        if auth_request.state:
            params.append(("state", auth_request.state))
        return with_issuer(add_params_to_uri(auth_request.redirect_uri, params), gateway_issuer(request))


@method_decorator(never_cache, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class LogoutView(View):
    """``/oauth2/logout``: GET asks, POST ends this browser's login session (the gateway's, never the admin's)."""

    http_method_names = ["get", "head", "post"]

    def get(self, request, *args, **kwargs):
        return page(request, LOGOUT_TEMPLATE, {"title": "Sign out", "signed_out": False})

    def post(self, request, *args, **kwargs):
        login_session_end(request.COOKIES.get(COOKIE_NAME))
        response = page(request, LOGOUT_TEMPLATE, {"title": "Signed out", "signed_out": True})
        response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, samesite="Lax")
        return response
