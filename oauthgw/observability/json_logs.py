"""One JSON object per log line, for log shippers.

Fields: time, level, logger, message, request_id, and the exception when there
is one. Messages are formatted with their arguments as usual; the gateway's code
never passes a password, secret or token to a logger (tests check the output).
"""

import json
import logging
from datetime import UTC, datetime

# Extras some log calls attach (django.request, django.server) that are safe and useful.
_EXTRA_FIELDS = ("status_code",)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for field in _EXTRA_FIELDS:
            value = getattr(record, field, None)
            if isinstance(value, int | str):
                document[field] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)
