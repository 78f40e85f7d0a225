"""gunicorn's own logs as JSON lines, like the application's, when gunicorn serves the gateway.

The access log has the fields of ``oauthgw.observability.access_log``;
gunicorn's error log (start-up, worker restarts, timeouts) uses the
application's JSON formatter.
"""

from gunicorn.glogging import Logger

from oauthgw.observability.access_log import access_log_line
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
        line = access_log_line(
            request_id=_response_header(resp, "x-request-id"),
            remote_addr=environ.get("REMOTE_ADDR"),
            method=environ.get("REQUEST_METHOD"),
            path=environ.get("PATH_INFO"),
            status=int(status),
            sent=getattr(resp, "sent", None),
            seconds=request_time.total_seconds(),
            user_agent=environ.get("HTTP_USER_AGENT"),
            logger="gunicorn.access",
        )
        self.access_log.info(line)
