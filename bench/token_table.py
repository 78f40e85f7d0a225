"""Token table bounds on PostgreSQL: lookups with 100 vs 1,000,000 live rows, and cleartokens.

    python bench/token_table.py      (BENCH_POSTGRES as for bench/run.py; ~2-4 minutes)

1. A fresh database (oauthgw_bench_tokens), migrated, with one client.
2. 100 live access tokens: time 2,000 lookups by checksum (the query every token
   check runs on a cache miss) and an unknown checksum.
3. 1,000,000 more live rows, inserted with one INSERT ... SELECT generate_series:
   the same timings, and the query plan.
4. 1,000,000 expired rows, then django-oauth-toolkit's ``cleartokens`` in a child
   process: wall time, the child's peak RSS, and the rows left.

Prints a JSON summary and writes it to bench/token_table.json.
"""

import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
DATABASE = "oauthgw_bench_tokens"
LOOKUPS = 2000
MILLION = 1_000_000

# 64 hex characters from a row number i (two md5s), as the checksum column holds a SHA-256.
_INSERT_SQL = """
INSERT INTO oauth2_provider_accesstoken
    (token, token_checksum, expires, scope, application_id, user_id, created, updated, resource)
SELECT '', md5(%(salt)s || i::text) || md5(i::text || %(salt)s), now() + %(expires_in)s::interval, 'hello',
       %(application)s, NULL, now(), now(), '[]'
FROM generate_series(1, %(count)s) AS i
"""
_LOOKUP_SQL = "SELECT id FROM oauth2_provider_accesstoken WHERE token_checksum = %s LIMIT 1"


def checksum(salt: str, i: int) -> str:
    """The checksum _INSERT_SQL gives row i."""
    return hashlib.md5(f"{salt}{i}".encode()).hexdigest() + hashlib.md5(f"{i}{salt}".encode()).hexdigest()  # noqa: S324


def log(message: str) -> None:
    print(f"[token-table] {message}", flush=True)


def env() -> dict:
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "OAUTHGW_"))},
        "DJANGO_SETTINGS_MODULE": "gatewayproj.settings",
        "DATABASE_URL": f"{POSTGRES}/{DATABASE}",
        "PYTHONPATH": str(ROOT),
    }


def recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env(), check=True)


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def insert(cursor, *, application: int, count: int, expires_in: str, salt: str) -> float:
    started = time.perf_counter()
    cursor.execute(_INSERT_SQL, {"application": application, "count": count, "expires_in": expires_in, "salt": salt})
    cursor.execute("ANALYZE oauth2_provider_accesstoken")
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return round(statistics.median(samples), 1), round(samples[int(len(samples) * 0.99)], 1)


def lookup_timings(cursor, *, salt: str, count: int) -> dict:
    """Microseconds per lookup by checksum: raw SQL round trip, and through the ORM as the gateway does it."""
    from oauth2_provider.models import get_access_token_model

    model = get_access_token_model()
    checksums = [checksum(salt, random.randint(1, count)) for _ in range(LOOKUPS)]
    sql, orm, misses = [], [], []
    for value in checksums:
        started = time.perf_counter()
        cursor.execute(_LOOKUP_SQL, [value])
        assert cursor.fetchone() is not None
        sql.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        assert model.objects.select_related("application").filter(token_checksum=value).first() is not None
        orm.append((time.perf_counter() - started) * 1e6)
    for n in range(LOOKUPS // 4):
        started = time.perf_counter()
        cursor.execute(_LOOKUP_SQL, [f"{n:064x}"])
        assert cursor.fetchone() is None
        misses.append((time.perf_counter() - started) * 1e6)
    sql_p50, sql_p99 = _percentiles(sql)
    orm_p50, orm_p99 = _percentiles(orm)
    return {
        "sql_hit_p50_us": sql_p50,
        "sql_hit_p99_us": sql_p99,
        "sql_miss_p50_us": _percentiles(misses)[0],
        "orm_hit_p50_us": orm_p50,
        "orm_hit_p99_us": orm_p99,
    }


def plan(cursor, checksum: str) -> str:
    cursor.execute(
        "EXPLAIN ANALYZE SELECT * FROM oauth2_provider_accesstoken WHERE token_checksum = %s LIMIT 1", [checksum]
    )
    return "\n".join(row[0] for row in cursor.fetchall())


# VmHWM (this process's peak resident set) rather than ru_maxrss, which Linux
# carries over from the parent across fork and exec.
_CLEARTOKENS = """
import json, re, time
import django

def peak_mib():
    status = open("/proc/self/status").read()
    return round(int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024, 1)

django.setup()
from django.core.management import call_command
baseline = peak_mib()
started = time.perf_counter()
call_command("cleartokens")
print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "peak_rss_mib": peak_mib(),
                  "peak_rss_before_mib": baseline}))
"""


def clear_tokens() -> dict:
    """cleartokens in a fresh process that reports its own peak resident memory."""
    result = subprocess.run(
        [sys.executable, "-c", _CLEARTOKENS], cwd=ROOT, env=env(), check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    log(f"creating {DATABASE}")
    recreate_database()
    os.environ.update(env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from oauthgw.issuing.clients import client_create

    client, _ = client_create(name="token-table", grant_types=["client_credentials"], scopes=["hello"])
    results = {}
    with connection.cursor() as cursor:
        insert(cursor, application=client.pk, count=100, expires_in="1 day", salt="small")
        results["lookup_100_live_rows"] = lookup_timings(cursor, salt="small", count=100)
        log(f"100 live rows: {results['lookup_100_live_rows']}")
        results["plan_100_live_rows"] = plan(cursor, checksum("small", 42))

        seconds = insert(cursor, application=client.pk, count=MILLION, expires_in="1 day", salt="live")
        log(f"inserted {MILLION} live rows in {seconds:.1f}s")
        results["lookup_1m_live_rows"] = lookup_timings(cursor, salt="live", count=MILLION)
        log(f"1,000,100 live rows: {results['lookup_1m_live_rows']}")
        results["plan_1m_live_rows"] = plan(cursor, checksum("live", 42))
        log("plan:\n" + results["plan_1m_live_rows"])

        seconds = insert(cursor, application=client.pk, count=MILLION, expires_in="-2 days", salt="expired")
        log(f"inserted {MILLION} expired rows in {seconds:.1f}s")
        cursor.execute("SELECT count(*) FROM oauth2_provider_accesstoken")
        results["rows_before_cleartokens"] = cursor.fetchone()[0]
    connection.close()

    log("running manage.py cleartokens")
    results["cleartokens"] = clear_tokens()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE expires < now()) FROM oauth2_provider_accesstoken")
        left, expired_left = cursor.fetchone()
    results["rows_after_cleartokens"] = left
    results["expired_rows_after_cleartokens"] = expired_left
    log(json.dumps(results["cleartokens"]) + f"; rows {results['rows_before_cleartokens']} -> {left}")
    connection.close()
    drop_database()
    (ROOT / "bench" / "token_table.json").write_text(json.dumps(results, indent=2) + "\n")
    write_readme_section(results)
    print(json.dumps(results, indent=2))


def write_readme_section(results: dict) -> None:
    small, large, clear = results["lookup_100_live_rows"], results["lookup_1m_live_rows"], results["cleartokens"]
    text = "\n".join(
        [
            f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (`bench/token_table.json`).",
            "",
            "| access-token lookup by checksum | 100 live rows | 1,000,100 live rows |",
            "| --- | ---: | ---: |",
            f"| SQL round trip, hit, p50 / p99 (µs) | {small['sql_hit_p50_us']} / {small['sql_hit_p99_us']}"
            f" | {large['sql_hit_p50_us']} / {large['sql_hit_p99_us']} |",
            f"| SQL round trip, miss, p50 (µs) | {small['sql_miss_p50_us']} | {large['sql_miss_p50_us']} |",
            f"| Django ORM with the client joined, hit, p50 / p99 (µs) | {small['orm_hit_p50_us']} /"
            f" {small['orm_hit_p99_us']} | {large['orm_hit_p50_us']} / {large['orm_hit_p99_us']} |",
            "",
            "Plan with 1,000,100 live rows:",
            "",
            "```",
            results["plan_1m_live_rows"],
            "```",
            "",
            f"`cleartokens` with 1,000,000 expired rows among {results['rows_before_cleartokens']:,}: "
            f"{clear['seconds']} s, peak RSS {clear['peak_rss_mib']} MiB "
            f"({clear['peak_rss_before_mib']} MiB before it started: Django and the app loaded); "
            f"{results['rows_after_cleartokens']:,} rows left, {results['expired_rows_after_cleartokens']} of them "
            "expired. The toolkit deletes in batches of 10,000 rows "
            "(`CLEAR_EXPIRED_TOKENS_BATCH_SIZE`), so memory does not grow with the table.",
        ]
    )
    readme = ROOT / "bench" / "README.md"
    start, end = "<!-- token-table:start -->", "<!-- token-table:end -->"
    content = readme.read_text()
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{text}\n{end}{tail}")


if __name__ == "__main__":
    main()
