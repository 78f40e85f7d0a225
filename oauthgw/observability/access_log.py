"""gunicorn's own logs as JSON lines, like the application's.

The access log has one object per request with the request id; only the fields
below are written, never request headers (Authorization), cookies or the query
string, any of which may carry a credential. gunicorn's error log (start-up,
worker restarts, timeouts) uses the application's JSON formatter.
"""

import json
from datetime import UTC, datetime

from gunicorn.glogging import Logger

from oauthgw.observability.json_logs import JsonFormatter


def _response_header(resp, name: str) -> str | None:
    for key, value in resp.headers:
        if key.lower() == name:
            return value
    return None


class JsonLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "request_id": _response_header(resp, "x-request-id"),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info(json.dumps(line, ensure_ascii=False))
