"""The adapter to django-oauth-toolkit and oauthlib: what the toolkit asks, answered by the policy.

The request validator (thin delegation to ``oauthgw.issuing``), the oauthlib
server with only the grants the gateway serves, the backend that hands Django
requests to oauthlib, the scopes backend, the token generator, the checks on a
raw token request, and the shape of the token endpoint's responses.
"""
