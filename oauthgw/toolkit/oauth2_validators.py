"""django-oauth-toolkit's request validator for the gateway: each override delegates to a policy.

The toolkit asks its validator every question of a token request. The answers
live in the issuing policy (``oauthgw.issuing``); each override here translates
between oauthlib's request and that policy, and turns its outcomes into
oauthlib's errors:

- clients: one read of the client row per request and the same work whether or
  not the client exists (``issuing.clients``);
- resource owners: vouched for by an external authorization server instead of
  Django's ``authenticate()`` (``issuing.password``);
- grants and scopes: from the client's own settings; the password grant's
  sunset (``issuing.password_sunset``) before anything else of a login;
- grants and scopes: from the client's own settings; a public client (no
  secret) authenticates with its client_id alone and may only use the
  authorization code and the refresh token;
- authorization codes: stored by checksum, claimed once, and a replay revokes
  what the first exchange issued (``issuing.authorization_codes``); the family a
  code starts takes its login's upstream verdict (``issuing.login_sessions``);
- refresh tokens: claimed, validated and rotated by ``issuing.refresh``;
- sessions: started with a new token family, re-verified and ended by
  ``issuing.sessions``;
- lifetimes: the client's own (``issuing.lifetimes``);
- DPoP: the key a request's tokens are bound to, a client that must send a
  proof, a public client's bound refresh token (``issuing.dpop``); the binding
  is written with the access token's row (``dpop.bindings``);
- JWT access tokens: a ``resource`` outside the client's audiences is refused
  before anything else is done (``issuing.jwt_access_tokens``).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import router, transaction
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors, utils

from oauthgw import grants
from oauthgw.caching.bearer_cache import access_token_load
from oauthgw.conf import gateway_settings
from oauthgw.credentials import authorization, check_credential_characters, parse_basic_credentials
from oauthgw.dpop.bindings import dpop_binding_save
from oauthgw.end_user_address import end_user_address
from oauthgw.exceptions import (
    CircuitOpen,
    InvalidJWT,
    MalformedCredentials,
    PasswordGrantEnded,
    ResourceOwnerBlocked,
    SlowDownError,
    TemporarilyUnavailableError,
    Throttled,
    UpstreamUnavailable,
)
from oauthgw.issuing import authorization_codes, dpop, lifetimes, refresh, sessions
from oauthgw.issuing.clients import CLIENT_READ_KEY, client_load, client_secret_matches
from oauthgw.issuing.jwt_access_tokens import jwt_audience_check
from oauthgw.issuing.login_sessions import login_session_upstream_login
from oauthgw.issuing.password import resource_owner_authenticate
from oauthgw.issuing.password_sunset import password_grant_sunset_check
from oauthgw.models import Application
from oauthgw.signals import CODE_REUSED, OWNER_BLOCKED, token_client_note, token_outcome_note
from oauthgw.token_formats import looks_like_jwt
from oauthgw.token_verification import jwt_access_token_verify


@contextmanager
def _upstream_errors(request) -> Iterator[None]:
    """The policy's "try again later" outcomes as the OAuth errors a client is told (429, 503)."""
    try:
        yield
    except Throttled as exc:
        raise SlowDownError(retry_after=exc.retry_after, description=exc.description, request=request) from exc
    except UpstreamUnavailable as exc:
        # An open circuit knows when it will let a request through again.
        retry_after = exc.retry_after if isinstance(exc, CircuitOpen) else gateway_settings.UPSTREAM_RETRY_AFTER
        raise TemporarilyUnavailableError(
            retry_after=retry_after,
            description="The authorization server is unavailable; try again later.",
            request=request,
        ) from exc


def _grant_allowed(client, grant_type: str) -> bool:
    # A public client has no secret: whatever its row says, only the code and refresh grants.
    if client.is_public and grant_type not in grants.PUBLIC_CLIENT_GRANTS:
        return False
    return client.allows_grant_type(grant_type)


class GatewayOAuth2Validator(OAuth2Validator):
    # One instance serves every thread: keep it stateless.

    # --- Clients --------------------------------------------------------------------

    def authenticate_client(self, request, *args, **kwargs):
        # Replaces the toolkit's, which read the client twice on a failure and
        # verified no hash for an unknown one: the time told which ids exist.
        client_id, secret = self._presented_client_credentials(request)
        if not client_id:
            return False
        client = self._load_application(client_id, request)
        if client is not None and client.is_public:
            # A public client has no secret, so one presented proves nothing
            # (its stored hash is of no secret anyone holds): refused, after the same work.
            client_secret_matches(None, secret)
            authenticated = False
        else:
            authenticated = client_secret_matches(client, secret)
        # For the audit trail: a failure of an unauthenticated request is counted, not written out.
        token_client_note(registered_id=client.client_id if client is not None else "", authenticated=authenticated)
        return authenticated

    def authenticate_client_id(self, client_id, request, *args, **kwargs):
        # A public client only names itself, and its id is public: anyone may send it. For the
        # audit trail its failures are counted per source like an unauthenticated client's,
        # under its id, so a flood in its name cannot grow the table either.
        named = super().authenticate_client_id(client_id, request, *args, **kwargs)
        token_client_note(registered_id=request.client.client_id if named else "", authenticated=False)
        return named

    def _presented_client_credentials(self, request) -> tuple[str, str]:
        """(client_id, secret) from the Basic header, else the body; empty when absent or malformed."""
        encoded = self._extract_basic_auth(request)
        try:
            if encoded:
                return parse_basic_credentials(encoded)
            client_id, secret = request.client_id or "", getattr(request, "client_secret", "") or ""
            check_credential_characters(client_id, secret)
        except MalformedCredentials:
            return "", ""
        return client_id, secret

    def _extract_basic_auth(self, request):
        # The toolkit compares the scheme case-sensitively; RFC 7235 section 2.1 does not.
        scheme, credentials = authorization(request.headers)
        return credentials if scheme == "basic" and credentials else None

    def _load_application(self, client_id, request):
        # Replaces the toolkit's (client metadata documents are off): the row is
        # read once per request (the token view's read when it made one), never
        # copied between requests.
        client = request.client or request.headers.get(CLIENT_READ_KEY)
        if not (isinstance(client, Application) and client.client_id == client_id):
            client = client_load(client_id)
        request.client = client if client is not None and client.is_usable(request) else None
        return request.client

    # --- Grants and scopes ----------------------------------------------------------

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        # Replaces the toolkit's check rather than extending it: that one lets any
        # token-issuing client refresh and nags about the password grant on every
        # request; here each grant, refresh_token included, is an explicit opt-in
        # per client (RFC 9700 section 2.4: password only where allowed).
        if not _grant_allowed(client, grant_type):
            return False
        dpop.token_request_key(client=client, request=request)
        jwt_audience_check(request)
        return True

    def _require_allowed_scopes(self, client, request) -> None:
        requested = (request.scope or "").split()
        if not self.validate_scopes(client.client_id, requested, client, request):
            raise errors.InvalidScopeError(request=request)

    # --- The password grant -----------------------------------------------------------

    def validate_user(self, username, password, client, request, *args, **kwargs):
        # oauthlib checks the user before the grant and the scopes; both must be
        # settled before the credentials leave the gateway, and the grant's
        # sunset before anything can count a failure.
        if not _grant_allowed(client, grants.PASSWORD):
            raise errors.UnauthorizedClientError(request=request)
        try:
            password_grant_sunset_check(client=client, request=request)
        except PasswordGrantEnded as exc:
            raise errors.UnauthorizedClientError(description=exc.description, request=request) from exc
        dpop.token_request_key(client=client, request=request)
        self._require_allowed_scopes(client, request)
        jwt_audience_check(request)
        try:
            with _upstream_errors(request):
                login = resource_owner_authenticate(
                    client=client,
                    username=username,
                    password=password,
                    client_ip=end_user_address(request.headers),
                )
        except ResourceOwnerBlocked:
            # Told apart in the audit trail only: the client hears what a wrong password hears.
            token_outcome_note(OWNER_BLOCKED, username=username)
            return False
        if login is None:
            return False
        request.user = login.user
        # Carries the upstream's refresh token to the session: never logged, never in an error.
        request.upstream_login = login
        return True

    # --- The authorization code grant ------------------------------------------------

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs):
        # Only "code" (RFC 9700 section 2.1.2): oauthlib hands the code grant any
        # response_type containing "code", which the toolkit would refuse as
        # unauthorized_client; the client is told it is not served.
        if response_type != "code":
            raise errors.UnsupportedResponseTypeError(request=request)
        return client.allows_grant_type(grants.AUTHORIZATION_CODE)

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        # Replaces the toolkit's, which stores the code itself: only its checksum is kept.
        authorization_codes.authorization_code_create(
            code=code["code"],
            client=request.client,
            user=request.user,
            redirect_uri=request.redirect_uri,
            scopes=request.scopes,
            code_challenge=request.code_challenge or "",
            method=request.code_challenge_method or "",
            login_id=getattr(request, "login_session_id", None),
        )

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        row = authorization_codes.authorization_code_load(code=code, client=client)
        if row is None:
            return False
        if row.used is not None:
            token_outcome_note(CODE_REUSED)
            authorization_codes.authorization_code_replayed(code_id=row.pk)
            return False
        if row.is_expired():
            return False
        owner = getattr(row.user, "resource_owner", None)
        if owner is None or owner.blocked:
            token_outcome_note(OWNER_BLOCKED, username=owner.username if owner else "")
            return False
        request.scopes = row.scope.split()
        request.user = row.user
        request.authorization_code = row
        return True

    def get_code_challenge(self, code, request):
        return request.authorization_code.code_challenge or None

    def get_code_challenge_method(self, code, request):
        return request.authorization_code.code_challenge_method or None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *args, **kwargs):
        # RFC 6749 section 4.1.3: identical to the one the code was sent to.
        return redirect_uri == request.authorization_code.redirect_uri

    def authorization_code_claim(self, request) -> None:
        """oauthlib's last check of a code exchange (``post_token``): use the code up, or refuse a replay."""
        row = request.authorization_code
        if not authorization_codes.authorization_code_claim(row):
            # Another exchange of the same code got there first.
            token_outcome_note(CODE_REUSED)
            authorization_codes.authorization_code_replayed(code_id=row.pk)
            raise errors.InvalidGrantError(request=request)
        request.upstream_login = login_session_upstream_login(
            session_id=row.login_id,
            user=row.user,
            client=request.client,
            take_refresh_token=request.client.allows_grant_type(grants.REFRESH_TOKEN),
        )

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        # Replaces the toolkit's delete: the used row stays, naming what it issued.
        family = getattr(request, "issued_token_family", None)
        access_token = getattr(request, "issued_access_token", None)
        authorization_codes.authorization_code_record_issued(
            code_id=request.authorization_code.pk,
            family=family,
            access_token_id=access_token.pk if access_token is not None and family is None else None,
        )

    # --- The refresh grant -----------------------------------------------------------

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        def toolkit_validate() -> bool:
            return super(GatewayOAuth2Validator, self).validate_refresh_token(
                refresh_token, client, request, *args, **kwargs
            )

        # A bound refresh token without its key: refused before the session may ask the upstream.
        if not dpop.refresh_token_key_matches(token=refresh_token, client=client, request=request):
            return False
        with _upstream_errors(request):
            return refresh.refresh_token_validate(
                token=refresh_token,
                client=client,
                request=request,
                client_ip=end_user_address(request.headers),
                toolkit_validate=toolkit_validate,
            )

    def get_original_scopes(self, refresh_token, request, *args, **kwargs):
        # A refresh never carries a scope the client has lost since the pair was issued.
        original = utils.scope_to_list(super().get_original_scopes(refresh_token, request, *args, **kwargs)) or []
        kept = [scope for scope in original if scope in request.client.allowed_scope_set]
        if original and not kept:
            raise errors.InvalidScopeError(description="The client may no longer use these scopes.", request=request)
        return " ".join(kept)

    # --- Saving tokens --------------------------------------------------------------

    def save_bearer_token(self, token, request, *args, **kwargs):
        # The dict is serialised after this returns, so changes reach the client
        # for both the password and the refresh grant.
        token["token_type"] = dpop.token_type(request)
        if "refresh_token" in token:
            expires_in = self._refresh_token_expires_in(request)
            if request.client.allows_grant_type(grants.REFRESH_TOKEN) and expires_in > 0:
                token["refresh_token_expires_in"] = expires_in
            else:
                # Not this client's grant, or a session the upstream vouched for no longer than this login.
                del token["refresh_token"]
        # Replaces the toolkit's transaction, which wraps every save: a single
        # access token row is one INSERT and needs no BEGIN/COMMIT; a pair is
        # written in one transaction, the refresh grant's own when the token view
        # has opened it (no savepoint: a failure rolls back the whole grant).
        if "refresh_token" not in token:
            return self._save_bearer_token(token, request, *args, **kwargs)
        with transaction.atomic(using=router.db_for_write(get_access_token_model()), savepoint=False):
            return self._save_bearer_token(token, request, *args, **kwargs)

    def _refresh_token_expires_in(self, request) -> int:
        now = timezone.now()
        login = getattr(request, "upstream_login", None)
        if login is not None:
            # A password login starts a session now (``_create_refresh_token``).
            request.session_started = now
            ends = sessions.login_session_ends(
                client=request.client, login=login, grant_type=request.grant_type, now=now
            )
        else:
            ends = getattr(request, "session_ends", None)
        return lifetimes.refresh_token_expires_in(request.client, session_ends=ends, now=now)

    def _save_bearer_token(self, token, request, *args, **kwargs):
        if not refresh.refresh_token_rotate(validator=self, token=token, request=request):
            super()._save_bearer_token(token, request, *args, **kwargs)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token=source_refresh_token)
        # What a code's exchange issued (``invalidate_authorization_code``).
        request.issued_access_token = access_token
        jkt = dpop.request_jkt(request)
        if jkt is not None:
            # A public client's refresh token, written next, is bound through this row (oauthgw.dpop.bindings).
            dpop_binding_save(access_token_id=access_token.pk, jkt=jkt)
        return access_token

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        if previous_refresh_token is None:
            request.issued_token_family = refresh_token.token_family
            # A new token family: a login's session begins.
            sessions.session_start(
                family=refresh_token.token_family,
                client=request.client,
                user=request.user,
                grant_type=request.grant_type,
                login=getattr(request, "upstream_login", None),
                started=getattr(request, "session_started", None) or refresh_token.created,
            )
        return refresh_token

    # --- Access tokens ---------------------------------------------------------------

    def _load_access_token(self, token):
        # Through the bearer cache (Redis), else the database: the same read as
        # the resource server's (oauthgw.resource_server.tokens), and a JWT's
        # signature and claims checked first, as there.
        if looks_like_jwt(token):
            try:
                jwt_access_token_verify(token)
            except InvalidJWT:
                return None
        return access_token_load(token)
