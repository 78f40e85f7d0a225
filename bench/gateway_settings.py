"""The gateway's own settings plus the benchmark's floor route (``bench/gateway_urls.py``)."""

from gatewayproj.settings import *  # noqa: F403

ROOT_URLCONF = "bench.gateway_urls"
