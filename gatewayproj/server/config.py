"""The server's settings, read once from the environment by the main process.

Every worker process inherits the same ``ServerConfig``. docs/operations.md
explains each value and how to size it.
"""

import math
import os
import resource
from dataclasses import dataclass

from gatewayproj.env import env_str

# File descriptors a worker keeps for itself beyond its connections: the
# database and Redis connections, the upstream's pool, log files, pipes.
_RESERVED_DESCRIPTORS = 256


class ConfigurationError(ValueError):
    """A server setting that cannot work; the message names the variable."""


def _number(name: str, default: str, *, minimum: float, kind=float):
    raw = env_str(name, default).strip()
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigurationError(f"{name}={raw!r} must be at least {minimum:g}")
    return value


def _bind(raw: str) -> tuple[str, int]:
    host, colon, port = raw.strip().rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"GATEWAY_BIND={raw!r} is not HOST:PORT (e.g. 127.0.0.1:8000 or [::]:8000)")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104  (":8000" means every address, as elsewhere)


def descriptor_limit() -> int:
    """The soft limit on open files, raised to the hard limit first: each connection is one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1_048_576 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int
    workers: int
    threads: int
    # Seconds: a new connection's request line and headers must have arrived within
    # ``header_timeout`` of its accept; a kept-alive connection's next request must
    # start within ``keepalive_timeout`` of the last answer, and its headers then
    # arrive within ``header_timeout``; a body within ``body_timeout`` of its headers.
    header_timeout: float
    body_timeout: float
    keepalive_timeout: float
    # Seconds an answer may take to be taken by a client that reads slowly.
    send_timeout: float
    graceful_timeout: float
    max_header_bytes: int
    # Connections one address may hold in one worker process, and a worker in all.
    max_connections_per_address: int
    max_connections: int
    access_log: bool
    backlog: int = 2048
    # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, filled in by each worker once Django is set up.
    max_body_bytes: int | None = None

    @classmethod
    def from_environment(cls) -> "ServerConfig":
        host, port = _bind(env_str("GATEWAY_BIND", "127.0.0.1:8000"))
        workers = int(_number("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1)), minimum=1, kind=int))
        # GATEWAY_BODY_READ_TIMEOUT bounds the headers and then the body, as it always has.
        read_timeout = _number("GATEWAY_BODY_READ_TIMEOUT", "10", minimum=0.1)
        per_address = int(_number("GATEWAY_MAX_CONNECTIONS_PER_ADDRESS", "256", minimum=0, kind=int))
        limit = descriptor_limit() - _RESERVED_DESCRIPTORS
        per_worker = int(_number("GATEWAY_MAX_CONNECTIONS", str(min(10_000, limit)), minimum=16, kind=int))
        if per_worker > limit:
            raise ConfigurationError(
                f"GATEWAY_MAX_CONNECTIONS={per_worker} exceeds what the open-files limit allows ({limit}); "
                "raise the limit (ulimit -n, LimitNOFILE= in systemd) or lower the setting"
            )
        return cls(
            host=host,
            port=port,
            workers=workers,
            threads=int(_number("GATEWAY_THREADS", "4", minimum=1, kind=int)),
            header_timeout=read_timeout,
            body_timeout=read_timeout,
            keepalive_timeout=_number("GATEWAY_KEEPALIVE_TIMEOUT", "5", minimum=0.1),
            send_timeout=_number("GATEWAY_SEND_TIMEOUT", "30", minimum=0.1),
            graceful_timeout=_number("GATEWAY_GRACEFUL_TIMEOUT", "30", minimum=0),
            max_header_bytes=16 * 1024,
            # The setting is for the whole server; the kernel spreads connections over
            # the workers, so each worker enforces its share (0: no limit).
            max_connections_per_address=math.ceil(per_address / workers) if per_address else 0,
            max_connections=per_worker,
            access_log=env_str("GATEWAY_ACCESS_LOG", "1") != "0",
        )

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
