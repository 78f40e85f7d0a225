"""The issuing policy: who gets a token, for how long, and how it is rotated, limited, revoked and purged.

One module per concern: the password grant (``password``) and who was vouched
for (``resource_owners``); the authorization code flow's authorization requests
waiting for a person (``authorization``), its codes (``authorization_codes``) and
the login page's sessions (``login_sessions``); one guarded question to the upstream for a login and
a session's re-verification (``upstream_checks``) inside the failure limits
(``throttling``); refresh rotation whole (``refresh``); sessions bound to the
upstream's verdict (``sessions``); token lifetimes (``lifetimes``); client
services and the per-request client read (``clients``); a client's last day of the password
grant (``password_sunset``); deleting a retired client
(``client_deletion``); bulk revocation
(``bulk_revocation``); introspection (``introspection``); JWT access tokens'
claims and audience (``jwt_access_tokens``) and the signing-key schedule
(``key_rotation``); DPoP at the token endpoint: which requests need a proof, what
a proof binds (``dpop``); and what stops being kept, purged without a command
(``retention``). It may call the external authorization servers
(``oauthgw.upstream``), observability and the caches, never the toolkit adapter
or the entry points.
"""
