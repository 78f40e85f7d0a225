"""A worker's threads, shared fairly between the addresses whose requests wait for them.

Django runs in a fixed pool of threads (``GATEWAY_THREADS`` per worker). Requests
wait for a thread in one queue per address and take turns: a thread that comes
free serves the address after the last one served, not the oldest request, so a
client sending a hundred requests at once delays its own, not everyone's. And
one address never holds every thread: with two or more, one is always left for
the others, so requests that take long (a password check the authorization
server answers slowly) from one source cannot keep everyone else waiting for
their end.

Behind a trusted reverse proxy the address is the end user's
(``OAUTHGW_TRUSTED_PROXY_COUNT``), as the login limits count it. Everything here
runs on the worker's event loop, except the jobs themselves.
"""

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Callable


class Scheduler:
    def __init__(self, threads: int, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.free = threads
        # The most threads one address may hold: all but one, so others always have one.
        self.share = max(1, threads - 1)
        self.running: dict[str, int] = {}
        # Addresses with waiting jobs, in the order they take turns (a dict as an ordered set).
        self._turns: dict[str, deque] = {}
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"gateway-{n}", daemon=True) for n in range(threads)]
        for thread in self._threads:
            thread.start()

    @property
    def waiting(self) -> int:
        return sum(len(jobs) for jobs in self._turns.values())

    def submit(self, key: str, job: Callable[[], object], done: Callable[[object, BaseException | None], None]) -> None:
        """Run ``job()`` in a thread when it is ``key``'s turn; ``done(result, error)`` runs on the loop after."""
        if self.free and key not in self._turns and self.running.get(key, 0) < self.share:
            self._start(key, job, done)
            return
        jobs = self._turns.get(key)
        if jobs is None:
            jobs = self._turns[key] = deque()
        jobs.append((job, done))
        if self.free:
            self._next()

    def stop(self) -> None:
        for _ in self._threads:
            self._calls.put(None)

    def _start(self, key: str, job, done) -> None:
        self.free -= 1
        self.running[key] = self.running.get(key, 0) + 1
        self._calls.put((key, job, done))

    def _finished(self, key: str, done, result, error) -> None:
        self.free += 1
        count = self.running[key] - 1
        if count:
            self.running[key] = count
        else:
            del self.running[key]
        if key in self._turns:
            # The address just served waits behind the others for its next turn.
            self._turns[key] = self._turns.pop(key)
        self._next()
        done(result, error)

    def _next(self) -> None:
        # The first address in turn that may take another thread goes next, and then to the back.
        for key in self._turns:
            if self.running.get(key, 0) < self.share:
                jobs = self._turns.pop(key)
                job, done = jobs.popleft()
                if jobs:
                    self._turns[key] = jobs
                self._start(key, job, done)
                return

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            key, job, done = call
            try:
                result, error = job(), None
            except BaseException as exc:  # handed to ``done``, on the loop, which decides
                result, error = None, exc
            self.loop.call_soon_threadsafe(self._finished, key, done, result, error)
