"""Count the SQL queries one request of each scenario costs, in-process.

    DJANGO_SETTINGS_MODULE=... python -m bench.queries DIR   (DIR as written by bench.prepare)

Prints a JSON object {scenario: queries}. Each request is made twice and the
second one is counted, so one-off work (a first connection, a cold cache) is not
counted; for the refresh grant a fresh token is used each time. Counts include
transaction savepoints, which PostgreSQL executes as statements too.
"""

import json
import sys
from pathlib import Path

import django


def main() -> None:
    directory = Path(sys.argv[1])
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.inprocess import scenarios

    counts = {}
    for name, call in scenarios(directory).items():
        first = call()
        with CaptureQueriesContext(connection) as captured:
            response = call()
        if first.status_code != 200 or response.status_code != 200:
            raise SystemExit(f"{name}: HTTP {first.status_code}/{response.status_code} {response.content[:200]!r}")
        counts[name] = len(captured.captured_queries)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
