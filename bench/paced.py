"""A paced load generator: requests at a fixed rate, latency from when each was due (as wrk2 does).

wrk sends as fast as the server answers, so its latencies are those of a
saturated server. At a low, fixed rate the latency is what one request costs;
measuring it from the moment the request was due, not from when it left,
counts any wait behind a slow predecessor (no "coordinated omission").

Several targets are served in turn, request by request, at one rate in all:
on a machine shared with other work, every target then meets the same
conditions, and their difference is the difference of the targets. Each sender
keeps one HTTP/1.1 connection per target open, like a client's pool.
"""

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SENDERS = 8


@dataclass
class Target:
    url: str
    bodies: list[str]  # POSTed in turn
    headers: dict
    latencies_ms: list[float] = field(default_factory=list)  # of 200 answers
    failed: int = 0  # anything else, or no answer


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def paced(targets: list[Target], *, rate: float, seconds: float) -> None:
    """Send ``rate`` requests per second in all for ``seconds``, to each target in turn; record on the targets."""
    local = threading.local()
    lock = threading.Lock()

    def send(index: int, due: float) -> None:
        target = targets[index % len(targets)]
        parts = urlsplit(target.url)
        connections = local.__dict__.setdefault("connections", {})
        body = target.bodies[(index // len(targets)) % len(target.bodies)]
        # A kept-alive connection the server has closed fails before any answer: one more
        # try on a new connection, as a client's pool does.
        for attempt in (1, 2):
            reused = target.url in connections
            if not reused:
                connections[target.url] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            connection = connections[target.url]
            try:
                connection.request("POST", parts.path, body, target.headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connections.pop(target.url).close()
                ok = False
                if not reused or attempt == 2:
                    break
            except OSError:
                connections.pop(target.url).close()
                ok = False
                break
        elapsed = (time.perf_counter() - due) * 1000
        with lock:
            if ok:
                target.latencies_ms.append(elapsed)
            else:
                target.failed += 1

    with ThreadPoolExecutor(SENDERS) as pool:
        started = time.perf_counter()
        for index in range(int(rate * seconds)):
            due = started + index / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(send, index, due)
