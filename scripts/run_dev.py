#!/usr/bin/env python3
"""Serve the gateway and the development authorization server until told to stop.

``make run`` ends here (scripts/run-dev.sh execs it). It starts the development
authorization server and the gateway's production server (``python -m
gatewayproj.server``: granian with several worker processes), and stops both
whichever way it is asked to:

- Ctrl-C, or SIGTERM / SIGHUP to this process (``kill <make pid>`` sends make's
  children SIGTERM): both servers are stopped and waited for;
- its parent dies without a word (``kill -9 <make pid>``): it notices within
  half a second and does the same;
- it dies itself without a word (SIGKILL): the kernel sends each server SIGTERM
  (``PR_SET_PDEATHSIG``);
- either server exits on its own: the other is stopped too.

Environment: ``GATEWAY_PORT`` (8000), ``DEV_AUTH_PORT`` (9011).
"""

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_STOP_SECONDS = 15


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
    python = sys.executable
    env = {**os.environ, "GATEWAY_BIND": f"127.0.0.1:{gateway_port}"}
    parent = os.getppid()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_start([python, "scripts/dev_authorization_server.py", "--port", dev_auth_port], env))
        processes.append(_start([python, "-m", "gatewayproj.server"], env))
        while True:
            if os.getppid() != parent:
                print("make run: its parent is gone; stopping", file=sys.stderr)
                return 0
            for process in processes:
                if process.poll() is not None:
                    name = " ".join(process.args[1:])
                    print(f"make run: {name} exited ({process.returncode}); stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except _Stop as stop:
        print(f"make run: {stop}; stopping the gateway and the development authorization server", file=sys.stderr)
        return 0
    finally:
        # A second Ctrl-C while stopping must not leave a server behind.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        _stop(processes)


if __name__ == "__main__":
    sys.exit(main())
