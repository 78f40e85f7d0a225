"""Glewlwyd's own REST APIs, as its operator and its users call them (not the gateway's business).

The administrator ``admin`` / ``password`` exists in every database
scripts/glewlwyd/start.sh makes. Glewlwyd answers errors with empty bodies;
these helpers fail loudly on anything but 200.
"""

from urllib.parse import quote

import requests

ADMIN = ("admin", "password")


class GlewlwydAccounts:
    def __init__(self, base_url: str, scope: str):
        self.api = f"{base_url}/api"
        self.scope = scope

    def _session(self, username: str, password: str) -> requests.Session:
        session = requests.Session()
        answer = session.post(f"{self.api}/auth/", json={"username": username, "password": password}, timeout=10)
        assert answer.status_code == 200, f"Glewlwyd login of {username!r}: HTTP {answer.status_code}"
        return session

    def _admin(self, method: str, path: str, **kwargs) -> None:
        answer = self._session(*ADMIN).request(method, f"{self.api}{path}", timeout=10, **kwargs)
        assert answer.status_code == 200, f"{method} {path}: HTTP {answer.status_code}"

    def create_user(self, username: str, password: str) -> None:
        user = {"username": username, "name": username, "email": "", "password": password, "enabled": True}
        self._admin("POST", "/user/", json={**user, "scope": self.scope.split()})

    def set_enabled(self, username: str, password: str, *, enabled: bool) -> None:
        user = {"username": username, "name": username, "email": "", "password": password, "enabled": enabled}
        self._admin("PUT", f"/user/{quote(username, safe='')}", json={**user, "scope": self.scope.split()})

    def delete_user(self, username: str) -> None:
        self._admin("DELETE", f"/user/{quote(username, safe='')}")

    def revoke_own_refresh_tokens(self, username: str, password: str, *, plugin: str) -> int:
        """What a user does on Glewlwyd's profile page after losing a phone: disable every refresh token."""
        session = self._session(username, password)
        # The OpenID Connect plugin lists them at /<plugin>/token, the legacy one at /<plugin>/profile/token.
        tokens_path = f"{self.api}/{plugin}/token" if plugin == "oidc" else f"{self.api}/{plugin}/profile/token"
        tokens = session.get(tokens_path, timeout=10)
        assert tokens.status_code == 200, f"listing refresh tokens: HTTP {tokens.status_code}"
        disabled = 0
        for token in tokens.json():
            if token["enabled"]:
                answer = session.delete(f"{tokens_path}/{quote(token['token_hash'], safe='')}", timeout=10)
                assert answer.status_code == 200, f"disabling a refresh token: HTTP {answer.status_code}"
                disabled += 1
        return disabled
