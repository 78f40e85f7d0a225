"""A paced load generator: requests at a fixed rate, latency from when each was due (as wrk2 does).

wrk sends as fast as the server answers, so its latencies are those of a
saturated server. At a low, fixed rate the latency is what one request costs;
measuring it from the moment the request was due, not from when it left,
counts any wait behind a slow predecessor (no "coordinated omission").
Each sender keeps one HTTP/1.1 connection open, like a client's pool.
"""

import http.client
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

SENDERS = 8


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def paced(url: str, bodies: list[str], headers: dict, *, rate: float, seconds: float) -> dict:
    """POST ``bodies`` (in turn) to ``url`` at ``rate`` per second for ``seconds``; latencies in ms.

    Only 200 answers count as latencies; anything else is counted as failed.
    """
    parts = urlsplit(url)
    local = threading.local()
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def send(index: int, due: float) -> None:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request("POST", parts.path, bodies[index % len(bodies)], headers)
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            local.connection = None
            connection.close()
            ok = False
        elapsed = (time.perf_counter() - due) * 1000
        with lock:
            if ok:
                latencies.append(elapsed)
            else:
                failures[0] += 1

    count = int(rate * seconds)
    with ThreadPoolExecutor(SENDERS) as pool:
        started = time.perf_counter()
        for index in range(count):
            due = started + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(send, index, due)
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "requests": count,
        "failed": failures[0],
        "p50_ms": round(statistics.median(ordered), 3) if ordered else 0.0,
        "p90_ms": round(percentile(ordered, 0.90), 3),
        "p99_ms": round(percentile(ordered, 0.99), 3),
        "latencies_ms": latencies,
    }
