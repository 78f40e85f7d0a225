"""The end user's IP address (not the OAuth client's), believing X-Forwarded-For only from trusted proxies."""

import ipaddress
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


def address_block(ip: str) -> str:
    """What one source's address counts as: an IPv4 address, an IPv6 client's /64 (it owns all of it).

    An IPv4-mapped IPv6 address is its IPv4 address; anything that is not an
    address is kept as it is.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
