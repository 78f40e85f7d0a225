"""The resource server: how the APIs behind the gateway check bearer tokens (RFC 6750).

It knows tokens only through ``tokens.access_token_for`` (a read of the token
with its client and resource owner, from the bearer cache or the database) and
never imports the issuing policy or the upstream client: a second protected API
needs nothing from the authorization server's side.
"""
