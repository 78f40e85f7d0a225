"""Reading the gateway's JWT access tokens in tests as an API would: with its published JWKS."""

import base64
import json

import jwt
from django.conf import settings


def published_jwks(client) -> jwt.PyJWKSet:
    return jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())


def verified_claims(client, token: str, *, audience: str | list[str] | None = None) -> dict:
    """The claims of ``token`` verified against the JWKS, as an external API would verify them.

    ``audience``: the API's identifier; HelloWorld's (the default ``aud``) unless said.
    """
    audience = audience or settings.HELLOWORLD_AUDIENCE
    header = jwt.get_unverified_header(token)
    key = published_jwks(client)[header["kid"]]
    return jwt.decode(token, key, algorithms=["ES256", "RS256"], audience=audience, issuer="http://testserver")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict, dict, str]:
    """(header, payload, signature segment) of a compact JWS, none of it verified."""
    header, payload, signature = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload), signature


def reassembled(header: dict, payload: dict, signature: str) -> str:
    encode = lambda part: b64url(json.dumps(part, separators=(",", ":")).encode())  # noqa: E731
    return f"{encode(header)}.{encode(payload)}.{signature}"
