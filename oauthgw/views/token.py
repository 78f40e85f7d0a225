import logging
import time

from django.db import IntegrityError, transaction
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauthlib.oauth2.rfc6749 import errors

from oauthgw import grants
from oauthgw.cors import cors_allow_for_client
from oauthgw.end_user_address import end_user_address
from oauthgw.issuing import dpop
from oauthgw.issuing.clients import client_load
from oauthgw.issuing.password_sunset import password_grant_sunset_noting
from oauthgw.issuing.refresh import refresh_grant_transaction
from oauthgw.middleware import DATABASE_UNAVAILABLE, database_unavailable_response
from oauthgw.signals import (
    NotedClient,
    TokenOutcome,
    outcome_of,
    token_client_noted,
    token_outcome_noting,
    token_request_finished,
)
from oauthgw.toolkit.request_checks import check_token_request, describe_token_request
from oauthgw.toolkit.responses import oauth_error_response, token_endpoint_response
from oauthgw.views.base import OAuthEndpointView

logger = logging.getLogger(__name__)


@method_decorator(
    sensitive_post_parameters("password", "client_secret", "refresh_token", "code", "code_verifier"), name="dispatch"
)
class TokenView(OAuthEndpointView):
    """``POST /oauth2/token``: the authorization_code, password, refresh_token and client_credentials grants."""

    def post(self, request, *args, **kwargs):
        started = time.monotonic()
        address = end_user_address(request.META)
        with token_outcome_noting() as noted, password_grant_sunset_noting() as announced:
            try:
                response = self._respond(request)
            except DATABASE_UNAVAILABLE as exc:
                # Answered here rather than by the middleware, so audit and metrics still count it.
                logger.warning("database unavailable during a token request: %s", exc)
                response = database_unavailable_response(request)
            except IntegrityError as exc:
                response = self._client_deleted_meanwhile(request, exc)
            note = noted()
            client = token_client_noted()
            sunset = announced()
        if sunset is not None:
            # Whatever the answer: the client learns that its password grant ends, when, and where to go.
            for name, value in sunset.headers().items():
                response[name] = value
        self._allow_origin(request, response)
        outcome = outcome_of(response.status_code, response.content, note)
        if response.status_code == 503:
            # The cause was logged once where it happened (oauthgw.issuing.password,
            # oauthgw.upstream.breaker); Django's request logger would add an ERROR
            # line without it for every request of an outage.
            response._has_been_logged = True
        owner = note.username if note else ""
        self._announce(request, response, outcome, owner, client, address, time.monotonic() - started)
        return response

    def _respond(self, request):
        proof = None
        try:
            check_token_request(request)
            if dpop.HEADER in request.META:
                # Before any transaction or upstream call: its replay mark must not roll back.
                _, client_id, _ = describe_token_request(request)
                proof = dpop.token_request_proof(request, client_id=client_id)
        except errors.OAuth2Error as error:
            return oauth_error_response(error)
        grant_type = request.POST.get("grant_type")
        if grant_type == grants.REFRESH_TOKEN:
            # The refresh token's row lock (oauthgw.issuing.refresh) must hold
            # until the rotated pair is saved, so the whole grant is one transaction.
            with refresh_grant_transaction():
                _, headers, body, status = self.create_token_response(request)
        elif grant_type == grants.AUTHORIZATION_CODE:
            # Claiming the code and saving what it issued commit together, so a
            # concurrent replay finds the family it must revoke
            # (oauthgw.issuing.authorization_codes). No upstream call happens here.
            with transaction.atomic():
                _, headers, body, status = self.create_token_response(request)
        else:
            _, headers, body, status = self.create_token_response(request)
        return token_endpoint_response({**headers, **dpop.next_nonce_headers(proof)}, body, status)

    def _allow_origin(self, request, response) -> None:
        if request.META.get("HTTP_ORIGIN"):
            _, client_id, _ = describe_token_request(request)
            cors_allow_for_client(request, response, client_load(client_id))

    def _client_deleted_meanwhile(self, request, exc: IntegrityError):
        """invalid_client for a client deleted between its authentication and its token's insert.

        The deletion (``oauthgw.issuing.client_deletion``) commits first and the
        token then refers to no client. Any other IntegrityError is a fault, and stays one.
        """
        _, client_id, _ = describe_token_request(request)
        if client_load(client_id) is not None:
            raise exc
        logger.info("client %s was deleted while its token request was answered", client_id)
        return oauth_error_response(errors.InvalidClientError())

    def _announce(
        self, request, response, outcome: str, owner: str, client: NotedClient, address: str, latency: float
    ) -> None:
        grant_type, client_id, username = describe_token_request(request)
        # A refresh names no username: the session's owner, when the policy said whose it was.
        username = username or owner
        token_request_finished.send(
            sender=TokenView,
            outcome=TokenOutcome(
                outcome=outcome,
                status=response.status_code,
                grant_type=grant_type,
                client_id=client_id,
                username=username,
                client_ip=address,
                latency=latency,
                client=client,
            ),
        )
