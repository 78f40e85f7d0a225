"""The oauthlib server the toolkit drives: only the grants and the response type the gateway serves.

A narrower server than oauthlib's all-in-one ``Server`` means an implicit or
device request can never reach a grant handler by accident: the authorization
endpoint knows ``response_type=code`` alone, and its PKCE knows ``S256`` alone
(RFC 9700 section 2.1.1: ``plain``, or a request naming no method, which RFC
7636 reads as ``plain``, is refused before the login page is shown).
"""

from oauthlib.oauth2 import (
    AuthorizationCodeGrant,
    AuthorizationEndpoint,
    BearerToken,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceEndpoint,
    ResourceOwnerPasswordCredentialsGrant,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256

from oauthgw import grants
from oauthgw.issuing.lifetimes import access_token_expires_in


class S256AuthorizationCodeGrant(AuthorizationCodeGrant):
    # oauthlib's private table of PKCE methods (tests/test_architecture.py pins it).
    _code_challenge_methods = {"S256": code_challenge_method_s256}


class GatewayServer(AuthorizationEndpoint, TokenEndpoint, ResourceEndpoint, RevocationEndpoint):
    def __init__(self, request_validator, token_generator=None, refresh_token_generator=None, **kwargs):
        bearer = BearerToken(
            request_validator,
            token_generator=token_generator,
            expires_in=access_token_expires_in,
            refresh_token_generator=refresh_token_generator,
        )
        # The code is marked used only once every check of its exchange passed:
        # a wrong verifier does not use it up (oauthgw.issuing.authorization_codes).
        authorization_code = S256AuthorizationCodeGrant(
            request_validator, post_token=[request_validator.authorization_code_claim]
        )
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": authorization_code},
            default_token_type=bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type=grants.PASSWORD,
            grant_types={
                grants.AUTHORIZATION_CODE: authorization_code,
                grants.PASSWORD: ResourceOwnerPasswordCredentialsGrant(request_validator),
                grants.REFRESH_TOKEN: RefreshTokenGrant(request_validator),
                grants.CLIENT_CREDENTIALS: ClientCredentialsGrant(request_validator),
            },
            default_token_type=bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": bearer})
        RevocationEndpoint.__init__(self, request_validator)
