"""The issuing policy: who gets a token, for how long, and how it is rotated, limited and revoked.

One module per concern: the password grant and its resource owners, refresh
rotation (whole, in ``refresh``), the failed-login limits, token lifetimes, client
services, bulk revocation and introspection. It may call the external
authorization servers (``oauthgw.upstream``) and the caches, never the toolkit
adapter or the views.
"""
