"""The access log: one JSON object per request, whichever server answered it.

Only the fields below are written, never request headers (Authorization),
cookies or the query string, any of which may carry a credential. The gateway's
server (``gatewayproj.server``) logs as ``gatewayproj.access``; gunicorn, when it
serves the gateway, as ``gunicorn.access`` (``gatewayproj.gunicorn_logging``).
"""

import json
from datetime import UTC, datetime


def access_log_line(
    *,
    request_id: str | None,
    remote_addr: str | None,
    method: str | None,
    path: str | None,
    status: int,
    sent: int | None,
    seconds: float,
    user_agent: str | None,
    logger: str = "gatewayproj.access",
    plain: bool = False,
) -> str:
    """The line for one request: a JSON object, or with ``plain`` (DJANGO_LOG_FORMAT=plain) the same fields as text."""
    if plain:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        return (
            f"{stamp} INFO {logger} {remote_addr} {method} {path} {status} {sent}B "
            f"{seconds * 1000:.1f}ms [{request_id}]"
        )
    return json.dumps(
        {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": logger,
            "request_id": request_id,
            "remote_addr": remote_addr,
            "method": method,
            "path": path,
            "status": status,
            "bytes": sent,
            "duration_ms": round(seconds * 1000, 3),
            "user_agent": user_agent,
        },
        ensure_ascii=False,
    )
