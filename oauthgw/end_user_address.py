"""The end user's IP address (not the OAuth client's), believing X-Forwarded-For only from trusted proxies."""

from collections.abc import Mapping

from oauthgw.conf import gateway_settings


def end_user_address(meta: Mapping[str, str]) -> str:
    """``meta`` is a WSGI environ (Django's ``request.META`` or oauthlib's headers copy).

    With N trusted proxies, each appends the address it saw to X-Forwarded-For, so
    the Nth entry from the right is the last one a trusted party wrote; anything to
    its left may be forged by the client.
    """
    peer = meta.get("REMOTE_ADDR", "") or ""
    trusted = gateway_settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return peer
    hops = [hop.strip() for hop in (meta.get("HTTP_X_FORWARDED_FOR", "") or "").split(",") if hop.strip()]
    if len(hops) < trusted:
        return peer
    return hops[-trusted]
