"""A DPoP client as an application would write one: requests for HTTP, joserfc for the proofs.

joserfc (Authlib's JOSE library) signs the proofs and computes the key's
thumbprint, so the gateway's own verification (PyJWT and cryptography) meets
another implementation, not its own. The client does what RFC 9449 asks of one:
a fresh proof per request (``jti``, ``iat``, ``htm``, ``htu`` without query and
fragment, ``ath`` with an access token), the last ``DPoP-Nonce`` each server sent
in every later proof, and one retry when a server answers ``use_dpop_nonce``.
"""

import base64
import hashlib
import json
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import requests
from joserfc import jws
from joserfc.jwk import ECKey


class DPoPClient:
    """One key pair (ES256) and the nonces servers gave it; ``retries`` counts the nonce retries."""

    def __init__(self, key: ECKey | None = None):
        self.key = key or ECKey.generate_key("P-256")
        self.nonces: dict[str, str] = {}
        self.retries = 0

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint a token bound to this key carries as ``cnf.jkt``."""
        return self.key.thumbprint()

    def proof(self, method: str, url: str, *, access_token: str | None = None) -> str:
        parts = urlsplit(url)
        htu = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": htu, "iat": int(time.time())}
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        nonce = self.nonces.get(parts.netloc)
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jws.serialize_compact(header, json.dumps(claims), self.key)

    def _send(self, public_url: str, make_request) -> requests.Response:
        for attempt in range(2):
            response = make_request()
            nonce = response.headers.get("DPoP-Nonce")
            if nonce:
                self.nonces[urlsplit(public_url).netloc] = nonce
            if attempt == 0 and nonce and _asks_for_nonce(response):
                self.retries += 1
                continue
            return response
        return response

    def token(self, url: str, form: dict, *, auth=None, public_url: str | None = None) -> requests.Response:
        """POST ``form`` to the token endpoint ``url`` with a proof (a new connection each time).

        ``public_url``: the URL the client knows the endpoint by, which the proof
        names, when ``url`` reaches it another way (one instance behind a balancer).
        """
        public_url = public_url or url

        def request():
            headers = {"DPoP": self.proof("POST", public_url)}
            return requests.post(url, data=form, auth=auth, headers=headers, timeout=30)

        return self._send(public_url, request)

    def call(
        self, method: str, url: str, access_token: str, *, scheme: str = "DPoP", public_url: str | None = None
    ) -> requests.Response:
        """Call a protected resource with the token and a proof carrying its ``ath``."""
        public_url = public_url or url

        def request():
            headers = {
                "Authorization": f"{scheme} {access_token}",
                "DPoP": self.proof(method, public_url, access_token=access_token),
            }
            return requests.request(method, url, headers=headers, timeout=30)

        return self._send(public_url, request)


def _asks_for_nonce(response: requests.Response) -> bool:
    if response.status_code == 400:
        try:
            return response.json().get("error") == "use_dpop_nonce"
        except ValueError:
            return False
    return response.status_code == 401 and 'error="use_dpop_nonce"' in response.headers.get("WWW-Authenticate", "")
