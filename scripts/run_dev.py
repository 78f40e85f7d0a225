#!/usr/bin/env python3
"""Serve the gateway and the development authorization server until told to stop.

``make run`` ends here (scripts/run-dev.sh execs it). It starts the development
authorization server and the gateway's production server (``python -m
gatewayproj.server`` with several worker processes), and stops both whichever
way it is asked to:

- Ctrl-C (the terminal sends SIGINT to every process of the job), or SIGTERM,
  SIGINT or SIGHUP to this process: both servers are stopped and waited for;
- SIGTERM, SIGINT or SIGHUP to make itself (``kill <pid of make>``): make passes
  SIGTERM on to this process, but SIGINT and SIGHUP it keeps, and waits for its
  child to end (it expects the terminal to have signalled the whole job). So this
  process watches make: a stop signal that make holds blocked while it handles
  it (``SigBlk`` in ``/proc/<pid>/status``) stops both servers too;
- its parent dies without a word (``kill -9 <pid of make>``): it notices within
  a quarter of a second and does the same;
- it dies itself without a word (SIGKILL): the kernel sends each server SIGTERM
  (``PR_SET_PDEATHSIG``);
- either server exits on its own: the other is stopped too, and it exits 1.

``--check-ports`` only checks that both ports are free (scripts/run-dev.sh runs
it first, so that a second ``make run`` stops before touching anything): a port
in use is named, with the variable that moves it, and the exit status is 1.

Environment: ``GATEWAY_PORT`` (8000), ``DEV_AUTH_PORT`` (9011).
"""

import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_STOP_SECONDS = 15
_POLL_SECONDS = 0.25
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def check_ports(ports: dict[str, str]) -> int:
    """0 when every port is free; else 1, naming the ones in use and how to move them."""
    taken = [(variable, port) for variable, port in ports.items() if _port_in_use(int(port))]
    for variable, port in taken:
        print(
            f"make run: port {port} on 127.0.0.1 is already in use (another make run or gateway?); "
            f"stop it, or choose another port: {variable}=... make run",
            file=sys.stderr,
        )
    return 1 if taken else 0


def _stop_signal_held(pid: int) -> bool:
    """Whether ``pid`` is handling a stop signal: it is blocked while its handler runs."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigBlk:"):
            blocked = int(line.split()[1], 16)
            return any(blocked & (1 << (signum - 1)) for signum in _STOP_SIGNALS)
    return False


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: if this supervisor is killed, the
    # kernel sends the child SIGTERM instead of leaving it serving.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env=env, preexec_fn=_die_with_parent)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + _STOP_SECONDS
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Stop(Exception):
    pass


def _raise_stop(signum, frame) -> None:
    raise _Stop(signal.Signals(signum).name)


def main() -> int:
    gateway_port = os.environ.get("GATEWAY_PORT", "8000")
    dev_auth_port = os.environ.get("DEV_AUTH_PORT", "9011")
    if "--check-ports" in sys.argv[1:]:
        return check_ports({"GATEWAY_PORT": gateway_port, "DEV_AUTH_PORT": dev_auth_port})
    python = sys.executable
    env = {**os.environ, "GATEWAY_BIND": f"127.0.0.1:{gateway_port}"}
    parent = os.getppid()
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _raise_stop)
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_start([python, "scripts/dev_authorization_server.py", "--port", dev_auth_port], env))
        processes.append(_start([python, "-m", "gatewayproj.server"], env))
        held = 0
        while True:
            if os.getppid() != parent:
                print("make run: its parent is gone; stopping", file=sys.stderr)
                return 0
            # Twice in a row: a signal blocked for an instant is not one being handled.
            held = held + 1 if _stop_signal_held(parent) else 0
            if held >= 2:
                print("make run: make was told to stop; stopping both servers", file=sys.stderr)
                return 0
            for process in processes:
                if process.poll() is not None:
                    name = " ".join(process.args[1:])
                    print(f"make run: {name} exited ({process.returncode}); stopping", file=sys.stderr)
                    return 1
            time.sleep(_POLL_SECONDS)
    except _Stop as stop:
        print(f"make run: {stop}; stopping the gateway and the development authorization server", file=sys.stderr)
        return 0
    finally:
        # A second Ctrl-C while stopping must not leave a server behind.
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
