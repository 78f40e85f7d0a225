"""Prometheus metrics of the authorization server: every one of them is defined here.

Token requests are counted from ``token_request_finished``, calls to an
authorization server from ``upstream_call_finished`` (the upstream client, which
knows no metrics, announces each). Labels are bounded: grant types outside the
served ones count as ``other``, a client id is recorded only for issued tokens
(an authenticated, registered client), reasons are RFC 6749 error codes, and
servers are the configured ones. Circuit-breaker state is read when ``/metrics``
is scraped (``BreakerStateCollector``).
"""

from django.dispatch import receiver
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from oauthgw import grants
from oauthgw.models import AuthorizationServer
from oauthgw.signals import (
    ACCEPTED,
    SUCCESSFUL,
    THROTTLED,
    TokenOutcome,
    token_request_finished,
    upstream_call_finished,
)
from oauthgw.upstream.breaker import breaker_state
from oauthgw.upstream.servers import default_authorization_server

_LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TOKENS_ISSUED = Counter(
    "oauthgw_tokens_issued", "Tokens issued, by grant type and client.", ["grant_type", "client_id"]
)
TOKEN_FAILURES = Counter(
    "oauthgw_token_failures", "Token requests refused, by grant type and reason.", ["grant_type", "reason"]
)
THROTTLED_REQUESTS = Counter(
    "oauthgw_throttled", "Token requests refused by throttling, by grant type.", ["grant_type"]
)
TOKEN_LATENCY = Histogram(
    "oauthgw_token_request_duration_seconds",
    "Time to answer a token request, by grant type.",
    ["grant_type"],
    buckets=_LATENCY_BUCKETS,
)

UPSTREAM_LATENCY = Histogram(
    "oauthgw_upstream_request_duration_seconds",
    "Time until an authorization server answered a password check, or the gateway gave up.",
    ["server"],
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "oauthgw_upstream_errors", "Password checks without a clear answer, by server and kind.", ["server", "kind"]
)

# Circuit-breaker states as numbers for a gauge: alerting on > 0 catches both.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


def _grant_label(grant_type: str) -> str:
    return grant_type if grant_type in grants.SERVED else "other"


@receiver(token_request_finished, dispatch_uid="oauthgw.observability.metrics.count_token_request")
def count_token_request(sender, outcome: TokenOutcome, **kwargs) -> None:
    grant_type = _grant_label(outcome.grant_type)
    TOKEN_LATENCY.labels(grant_type).observe(outcome.latency)
    if outcome.outcome in SUCCESSFUL:
        TOKENS_ISSUED.labels(grant_type, outcome.client_id).inc()
        return
    if outcome.outcome in ACCEPTED:
        return
    TOKEN_FAILURES.labels(grant_type, outcome.outcome).inc()
    if outcome.outcome == THROTTLED:
        THROTTLED_REQUESTS.labels(grant_type).inc()


@receiver(upstream_call_finished, dispatch_uid="oauthgw.observability.metrics.count_upstream_call")
def count_upstream_call(sender, *, server: str, latency: float, fault: str | None, **kwargs) -> None:
    UPSTREAM_LATENCY.labels(server).observe(latency)
    if fault is not None:
        UPSTREAM_ERRORS.labels(server, fault).inc()


class BreakerStateCollector:
    """``oauthgw_upstream_circuit_state``: read from the shared cache at scrape time.

    The state lives in the cache every instance shares, so it is collected live
    rather than kept per process.
    """

    def collect(self):
        gauge = GaugeMetricFamily(
            "oauthgw_upstream_circuit_state",
            "Circuit breaker of each authorization server: 0 closed, 1 half-open, 2 open.",
            labels=["server"],
        )
        for server, state in _breaker_states():
            gauge.add_metric([server], BREAKER_STATES.get(state, 2))
        yield gauge


def _breaker_states() -> list[tuple[str, str]]:
    names = [default_authorization_server().name]
    names += list(AuthorizationServer.objects.values_list("name", flat=True))
    return [(name, breaker_state(name)) for name in names]
