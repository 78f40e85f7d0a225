"""Failed-login counters that stop password guessing before it reaches the upstream.

RFC 6749 section 4.3.2 requires the token endpoint to protect the password grant
against brute force; RFC 6819 section 4.4.3.6 lists the means. The gateway counts
failures per username (per authorization server), per client IP and per client,
in the shared cache, over a sliding window: ``THROTTLE_WINDOW`` seconds made of
``THROTTLE_BUCKET``-second buckets, each an atomic counter that expires on its own.
At a limit the gateway answers 429 ``slow_down`` with ``Retry-After`` (when the
oldest failures leave the window) and does not call the upstream, so an attacker
can never drive the upstream's own lockout through the gateway faster than the
limits allow.

What counts, and where it is checked:

- The upstream rejecting a username and password (``invalid_grant``) counts on all
  three counters. A success resets that username's counter; an upstream that gives
  no clear answer counts nowhere.
- A failed client authentication (``invalid_client``) counts nowhere. Client
  secrets are generated with about 760 bits, or typed with at least 32
  characters, so guessing one is hopeless however fast (RFC 6749 section 2.3.1's
  brute-force protection is their entropy); counting them would let a client
  with a stale secret, retrying, lock every user behind its address out.
- The IP limit is checked first on every token request, any grant: an address
  that sprays passwords gets nothing else either.
- The username and client limits are checked after the client has authenticated
  and may use the password grant, just before the upstream call: a caller without
  a client's secret cannot touch them, so cannot lock users out through it.
- A failure is counted when the upstream says no (an atomic increment), so many
  concurrent logins of one user with the right password all go through; a burst
  of concurrent guesses can overshoot a limit by the guesses still in flight.

Defaults, and why:

- 10 failures per username in 15 minutes (Okta's default lockout threshold).
  Someone who mistypes seldom fails ten times in a quarter of an hour; a guesser
  gets at most 960 tries a day per account, against passwords the upstream's own
  policy makes strong. Keep it below the upstream's own lockout threshold, so
  that the gateway throttles before the upstream locks the account.
- 30 per client IP in 15 minutes: room for a few people behind one address;
  stops a single host that sprays passwords across many usernames. Raise it for
  clients behind a large NAT, and set ``TRUSTED_PROXY_COUNT`` behind a proxy, or
  every user shares the proxy's address.
- 1000 per client in 15 minutes: a ceiling against credential stuffing spread over
  many addresses and usernames. Reaching it refuses password logins to all of the
  client's users, so it must sit well above the busiest client's normal failure
  rate (about one a second here).

Usernames are compared case-folded and NFKC-normalised (many upstreams ignore
case, and a guesser must not get five tries per spelling); an IPv6 client counts
per /64, the block one host usually holds. Identities are stored as keyed hashes,
never in the clear.

Unknown usernames and wrong passwords are counted and answered alike: the
upstream decides, and the gateway's answer (status, body, headers) and its own
work are the same for both; only the upstream's timing can differ.
"""

import ipaddress
import math
import time
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

from django.utils.crypto import salted_hmac

from oauthgw import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.near_cache import MISS, NearCache

USERNAME = "username"
CLIENT_IP = "ip"
CLIENT = "client"


class Throttled(Exception):
    """Too many recent failures for ``scope``; ``retry_after`` seconds until the next try may go."""

    def __init__(self, scope: str, *, retry_after: int):
        super().__init__(f"{scope} over its failure limit; retry after {retry_after}s")
        self.scope = scope
        self.retry_after = retry_after


def _clock() -> float:
    # The seam tests replace to move time.
    return time.time()


def _normalised_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold().strip()


def _normalised_ip(ip: str) -> str:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class _Counter:
    scope: str
    identity: str
    limit: int

    @cached_property
    def prefix(self) -> str:
        # One HMAC per counter, not one per bucket key: a password login reads and
        # writes up to 45 bucket keys.
        digest = salted_hmac("oauthgw.throttling", f"{self.scope}\0{self.identity}").hexdigest()[:32]
        return f"oauthgw:throttle:v1:{self.scope}:{digest}"


def _bucket_seconds() -> int:
    return max(1, int(gateway_settings.THROTTLE_BUCKET))


def _bucket_count() -> int:
    return max(1, math.ceil(gateway_settings.THROTTLE_WINDOW / _bucket_seconds()))


def _ttl() -> int:
    return _bucket_count() * _bucket_seconds() + _bucket_seconds()


def _buckets(counter: _Counter, now: float) -> list[tuple[int, str]]:
    """(bucket index, cache key) for the buckets in the window, oldest first."""
    current = int(now // _bucket_seconds())
    return [(index, f"{counter.prefix}:{index}") for index in range(current - _bucket_count() + 1, current + 1)]


def _retry_after(counts: list[tuple[int, int]], limit: int, now: float) -> int:
    """Seconds until enough of the oldest failures leave the window to go under ``limit``."""
    total = sum(count for _, count in counts)
    for index, count in counts:
        total -= count
        if total < limit:
            leaves_at = (index + _bucket_count()) * _bucket_seconds()
            return max(1, math.ceil(leaves_at - now))
    return 1


def _counts(buckets: dict[_Counter, list[tuple[int, str]]], stored: dict) -> dict[_Counter, list[tuple[int, int]]]:
    """Each counter's (bucket index, failures) in the window, from the cache's values."""
    return {
        counter: [(index, max(0, int(stored.get(key, 0) or 0))) for index, key in pairs]
        for counter, pairs in buckets.items()
    }


def _refuse_if_over(counters: list[_Counter], counts: dict[_Counter, list[tuple[int, int]]], now: float) -> None:
    for counter in counters:
        if sum(count for _, count in counts[counter]) >= counter.limit:
            raise Throttled(counter.scope, retry_after=_retry_after(counts[counter], counter.limit, now))


# Keyed by a counter's prefix; a bucket key is the prefix, a colon and the bucket's index.
_addresses_under_limit = NearCache(
    f"oauthgw:throttle:v1:{CLIENT_IP}:", shared=True, key_of=lambda bucket_key: bucket_key.rpartition(":")[0]
)


def _ip_counter(client_ip: str) -> _Counter:
    return _Counter(CLIENT_IP, _normalised_ip(client_ip), gateway_settings.THROTTLE_IP_FAILURES)


def client_ip_check(client_ip: str) -> None:
    """Raise ``Throttled`` if this address has failed too often; writes nothing.

    An address found under its limit stays under it until one of its buckets is
    written (a new failure): the window only loses failures as time passes. So
    each process remembers "under the limit" (``oauthgw.near_cache``) until Redis
    reports a write to one of the address's buckets, and most token requests
    check their address without a round trip.
    """
    counter = _ip_counter(client_ip)
    if counter.limit <= 0 or _addresses_under_limit.get(counter.prefix) is not MISS:
        return
    with _addresses_under_limit.filling(counter.prefix) as keep:
        now = _clock()
        buckets = {counter: _buckets(counter, now)}
        stored = shared_state.get_many([key for _, key in buckets[counter]])
        _refuse_if_over([counter], _counts(buckets, stored), now)
        keep(True, _ttl())


@dataclass
class PasswordAttempt:
    """A login that passed the limits; say once how the upstream answered."""

    counter_keys: dict[str, str] = field(default_factory=dict)  # scope -> current bucket key
    username_keys: list[str] = field(default_factory=list)  # the username's buckets that held failures

    def rejected(self) -> None:
        """The upstream refused the credentials: one failure on each counter."""
        for key in self.counter_keys.values():
            shared_state.counter_add(key, 1, timeout=_ttl())

    def accepted(self) -> None:
        """The credentials were good: forget the username's failures."""
        # Only the buckets that held failures when the limits were read: a failure
        # counted since then is one this success did not see, as if it came after.
        # In the common case (none) a success writes nothing.
        if self.username_keys:
            shared_state.delete_many(self.username_keys)

    def abandoned(self) -> None:
        """No verdict (the upstream did not answer): nothing failed."""


@dataclass(frozen=True)
class PasswordLimits:
    """A login's counters, to be read (``keys``) and then checked (``start``).

    Split in two so that the caller can read them in the same round trip as
    other shared state (the circuit breaker's).
    """

    buckets: dict[_Counter, list[tuple[int, str]]]  # the counters in force, each with its window's buckets
    now: float

    @property
    def keys(self) -> list[str]:
        return [key for pairs in self.buckets.values() for _, key in pairs]

    def start(self, stored: dict) -> PasswordAttempt:
        """Raise ``Throttled`` if any counter is at its limit; else the attempt to report back on.

        ``stored`` holds the cache's values for ``keys`` (a key left out has no failures).
        """
        counts = _counts(self.buckets, stored)
        _refuse_if_over(list(self.buckets), counts, self.now)
        return PasswordAttempt(
            counter_keys={counter.scope: pairs[-1][1] for counter, pairs in self.buckets.items()},
            username_keys=[
                key
                for counter, pairs in self.buckets.items()
                if counter.scope == USERNAME
                for (_, key), (_, count) in zip(pairs, counts[counter], strict=True)
                if count
            ],
        )


def password_limits(*, server_name: str, username: str, client_id: str, client_ip: str) -> PasswordLimits:
    """The failure counters a password login of ``username`` from ``client_ip`` via ``client_id`` must pass."""
    counters = (
        _Counter(
            USERNAME, f"{server_name}\0{_normalised_username(username)}", gateway_settings.THROTTLE_USERNAME_FAILURES
        ),
        _ip_counter(client_ip),
        _Counter(CLIENT, client_id, gateway_settings.THROTTLE_CLIENT_FAILURES),
    )
    now = _clock()
    return PasswordLimits(
        buckets={counter: _buckets(counter, now) for counter in counters if counter.limit > 0}, now=now
    )


def password_attempt_start(*, server_name: str, username: str, client_id: str, client_ip: str) -> PasswordAttempt:
    """Raise ``Throttled`` if any counter is at its limit; else the attempt to report back on.

    Failures are counted when the upstream says no, not reserved up front: many
    concurrent logins of one user with the right password must all go through. A
    burst of concurrent wrong guesses can overshoot a limit by the number still in
    flight, at most the upstream worker pool (``UPSTREAM_MAX_CONCURRENCY``).
    """
    limits = password_limits(server_name=server_name, username=username, client_id=client_id, client_ip=client_ip)
    # One read; a throttled caller writes nothing.
    return limits.start(shared_state.get_many(limits.keys))
