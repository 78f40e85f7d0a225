"""The benchmark's scenarios as in-process calls through Django's test client.

Shared by ``bench.queries`` (SQL per request) and ``bench.cpu`` (CPU per request):
each scenario is a function that makes one request and returns the response.
``directory`` is what ``bench.prepare`` wrote.
"""

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from bench.common import basic

FORM = "application/x-www-form-urlencoded"


def scenarios(directory: Path) -> dict[str, Callable]:
    from django.test import Client

    credentials = json.loads((directory / "credentials.json").read_text())
    # Each refresh spends a token: the spare ones first, then the wrk pool's.
    refresh_tokens = (directory / "refresh_tokens.txt").read_text().split()
    refresh_tokens += (directory / "refresh_spare.txt").read_text().split()
    owner = credentials["resource_owner"]
    http = Client()

    def token(client_name: str, **form):
        return lambda: http.post(
            "/oauth2/token", urlencode(form), content_type=FORM, HTTP_AUTHORIZATION=basic(credentials[client_name])
        )

    def refresh():
        return token("password", grant_type="refresh_token", refresh_token=refresh_tokens.pop())()

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {credentials['access_token']}"}
    return {
        "client_credentials": token("client_credentials", grant_type="client_credentials"),
        "password": token("password", grant_type="password", username=owner["username"], password=owner["password"]),
        "refresh_token": refresh,
        "helloworld_bearer": lambda: http.get("/helloworld/", **bearer),
        "helloworld_floor": lambda: http.get("/bench/floor/"),
        "introspection": lambda: http.post(
            "/oauth2/introspect",
            urlencode({"token": credentials["access_token"]}),
            content_type=FORM,
            HTTP_AUTHORIZATION=basic(credentials["introspection"]),
        ),
    }
