"""``GET /.well-known/jwks.json``: the public keys that verify the gateway's JWT access tokens (RFC 7517).

Cacheable for ``OAUTHGW_JWKS_MAX_AGE`` seconds, less than the delay between a
key's publication and its first signature (``oauthgw.issuing.key_rotation``): an
API that refetches when its copy expires has every key before it meets a token
signed with it. Readable from any origin, like the metadata document, so a
browser-based verifier can fetch it.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse

from oauthgw import signing_keys
from oauthgw.conf import gateway_settings
from oauthgw.issuing.key_rotation import signing_key_ensure
from oauthgw.views.read_only import read_only


@login_not_required
@read_only
def jwks(request):
    # On a fresh installation the first key is made here or by the first JWT
    # issued, whichever comes first, so an API that fetches early is not left
    # with an empty set for max-age seconds.
    signing_key_ensure()
    response = JsonResponse(signing_keys.jwks())
    response["Cache-Control"] = f"public, max-age={gateway_settings.JWKS_MAX_AGE}"
    response["Access-Control-Allow-Origin"] = "*"
    return response
