"""The oauthlib server the toolkit drives: only the grants the gateway serves.

A narrower server than oauthlib's all-in-one ``Server`` means an authorization
code, implicit or device request can never reach a grant handler by accident.
"""

from oauthlib.oauth2 import (
    BearerToken,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceEndpoint,
    ResourceOwnerPasswordCredentialsGrant,
    RevocationEndpoint,
    TokenEndpoint,
)

from oauthgw import grants
from oauthgw.issuing.lifetimes import access_token_expires_in


class GatewayServer(TokenEndpoint, ResourceEndpoint, RevocationEndpoint):
    def __init__(self, request_validator, token_generator=None, refresh_token_generator=None, **kwargs):
        bearer = BearerToken(
            request_validator,
            token_generator=token_generator,
            expires_in=access_token_expires_in,
            refresh_token_generator=refresh_token_generator,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type=grants.PASSWORD,
            grant_types={
                grants.PASSWORD: ResourceOwnerPasswordCredentialsGrant(request_validator),
                grants.REFRESH_TOKEN: RefreshTokenGrant(request_validator),
                grants.CLIENT_CREDENTIALS: ClientCredentialsGrant(request_validator),
            },
            default_token_type=bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": bearer})
        RevocationEndpoint.__init__(self, request_validator)
