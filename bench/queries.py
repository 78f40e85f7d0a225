"""Count the SQL queries one request of each scenario costs, in-process.

    DJANGO_SETTINGS_MODULE=... python -m bench.queries DIR   (DIR as written by bench.prepare)

Prints a JSON object {scenario: queries}. Each request is made twice and the
second one is counted, so one-off work (a first connection, a cold cache) is not
counted; for the refresh grant a fresh token is used each time. Counts include
transaction savepoints, which PostgreSQL executes as statements too.
"""

import base64
import json
import sys
from pathlib import Path
from urllib.parse import quote_plus, urlencode

import django

FORM = "application/x-www-form-urlencoded"


def _basic(client: dict) -> str:
    pair = f"{quote_plus(client['client_id'])}:{quote_plus(client['client_secret'])}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def main() -> None:
    directory = Path(sys.argv[1])
    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    credentials = json.loads((directory / "credentials.json").read_text())
    spare = (directory / "refresh_spare.txt").read_text().split()
    owner = credentials["resource_owner"]
    http = Client()

    def token(client_name: str, **form):
        return lambda: http.post(
            "/oauth2/token", urlencode(form), content_type=FORM, HTTP_AUTHORIZATION=_basic(credentials[client_name])
        )

    def refresh():
        return token("password", grant_type="refresh_token", refresh_token=spare.pop())()

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {credentials['access_token']}"}
    scenarios = {
        "client_credentials": token("client_credentials", grant_type="client_credentials"),
        "password": token("password", grant_type="password", username=owner["username"], password=owner["password"]),
        "refresh_token": refresh,
        "helloworld_bearer": lambda: http.get("/helloworld/", **bearer),
        "helloworld_floor": lambda: http.get("/bench/floor/"),
        "introspection": lambda: http.post(
            "/oauth2/introspect",
            urlencode({"token": credentials["access_token"]}),
            content_type=FORM,
            HTTP_AUTHORIZATION=_basic(credentials["introspection"]),
        ),
    }
    counts = {}
    for name, call in scenarios.items():
        first = call()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        if first.status_code != 200 or response.status_code != 200:
            raise SystemExit(f"{name}: HTTP {first.status_code}/{response.status_code} {response.content[:200]!r}")
        counts[name] = len(captured.captured_queries)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
