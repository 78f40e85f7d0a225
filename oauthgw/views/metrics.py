"""``GET /metrics``: Prometheus text format, for an allow-list of addresses or a token.

With several worker processes each writes its samples to
``PROMETHEUS_MULTIPROC_DIR`` (set by gatewayproj.server, or gunicorn.conf.py) and
a scrape aggregates them; without it, the process's own registry is served. Gauges that live in the
shared cache (circuit breakers) are collected at scrape time.
"""

import ipaddress
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from oauthgw.conf import gateway_settings
from oauthgw.credentials import authorization
from oauthgw.end_user_address import end_user_address
from oauthgw.observability.metrics import BreakerStateCollector
from oauthgw.views.read_only import read_only

logger = logging.getLogger(__name__)


def _networks(value: str) -> list:
    return [ipaddress.ip_network(item.strip(), strict=False) for item in value.split(",") if item.strip()]


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(gateway_settings.METRICS_ALLOWED_IPS))


def _token_presented(request) -> bool:
    expected = gateway_settings.METRICS_TOKEN
    scheme, presented = authorization(request.META)
    return bool(expected) and scheme == "bearer" and constant_time_compare(presented, expected)


def may_read_metrics(request) -> bool:
    return _token_presented(request) or _address_allowed(end_user_address(request.META))


def _exposition() -> bytes:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    live = CollectorRegistry()
    live.register(BreakerStateCollector())
    return generate_latest(registry) + generate_latest(live)


@login_not_required
@read_only
def metrics(request):
    if not may_read_metrics(request):
        logger.info("metrics refused to %s", end_user_address(request.META))
        return JsonResponse({"error": "forbidden", "error_description": "Metrics are not public."}, status=403)
    return HttpResponse(_exposition(), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
