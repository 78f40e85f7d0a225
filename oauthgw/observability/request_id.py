"""A request id on every log line and every response (``X-Request-ID``).

An incoming ``X-Request-ID`` from a proxy or client is kept when it is a plain
token of at most 128 characters; anything else is replaced by a fresh id, so a
log line can never be forged or broken by a header.
"""

import logging
import re
import uuid
from contextvars import ContextVar

from django.core.signals import request_finished
from django.dispatch import receiver

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
_VALID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

_current: ContextVar[str | None] = ContextVar("oauthgw_request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


def request_id_from(meta) -> str:
    incoming = meta.get(_META_KEY, "")
    if incoming and _VALID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Outermost middleware: every line logged while the request runs carries its id.

    The id stays set until the response is closed (``request_finished``), so the
    line Django's handler logs after the middleware chain for a 4xx/5xx has it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.META)
        request.request_id = request_id
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished, dispatch_uid="oauthgw.request_id.forget")
def _forget_request_id(sender, **kwargs) -> None:
    _current.set(None)


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (None outside a request) for formatters to use."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
