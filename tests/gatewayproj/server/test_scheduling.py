"""Threads shared fairly between addresses (gatewayproj.server.scheduling)."""

import asyncio
import threading

from gatewayproj.server.scheduling import Scheduler


def run(threads: int, jobs: list[tuple[str, str]]) -> tuple[list[str], dict]:
    """Submit ``(address, name)`` jobs that each wait to be released; return the order they started in."""
    started: list[str] = []
    peak: dict[str, int] = {}
    running: dict[str, int] = {}
    lock = threading.Lock()
    gates = {name: threading.Event() for _, name in jobs}

    async def main():
        loop = asyncio.get_running_loop()
        scheduler = Scheduler(threads, loop)
        finished = asyncio.Queue()

        def job(address, name):
            def body():
                with lock:
                    started.append(name)
                    running[address] = running.get(address, 0) + 1
                    peak[address] = max(peak.get(address, 0), running[address])
                gates[name].wait(5)
                with lock:
                    running[address] -= 1
                return name

            return body

        for address, name in jobs:
            scheduler.submit(address, job(address, name), lambda result, error: finished.put_nowait(result))
        # Release the jobs in the order they started, one at a time.
        for _ in jobs:
            while True:
                with lock:
                    candidates = [name for name in started if not gates[name].is_set()]
                if candidates:
                    break
                await asyncio.sleep(0.01)
            gates[candidates[0]].set()
            await finished.get()
        scheduler.stop()

    asyncio.run(main())
    return started, peak


def test_one_address_never_holds_every_thread():
    jobs = [("flood", f"f{n}") for n in range(6)] + [("other", "o1")]

    started, peak = run(3, jobs)

    assert peak["flood"] == 2  # three threads: one is always left for someone else
    assert started.index("o1") <= 2  # the other address's job started at once, not after the flood's


def test_addresses_take_turns_rather_than_first_come_first_served():
    jobs = [("a", "a1"), ("a", "a2"), ("a", "a3"), ("a", "a4"), ("b", "b1"), ("b", "b2")]

    started, _ = run(1, jobs)

    assert started == ["a1", "b1", "a2", "b2", "a3", "a4"]


def test_a_lone_address_uses_all_but_one_thread_and_a_single_thread_is_shared():
    _, peak = run(4, [("only", f"j{n}") for n in range(8)])
    assert peak["only"] == 3

    _, peak = run(1, [("only", f"j{n}") for n in range(3)])
    assert peak["only"] == 1
