"""Failed-login limits that stop password guessing without letting a guesser lock out anyone else.

RFC 6749 section 4.3.2 requires the token endpoint to protect the password grant
against brute force; RFC 6819 section 4.4.3.6 lists the means. The gateway counts
failed password logins in the shared state (Redis, or the database without it)
over a sliding window: ``THROTTLE_WINDOW`` seconds made of ``THROTTLE_BUCKET``-second
buckets, each an atomic counter that expires on its own. Over a limit it answers
429 ``slow_down`` with ``Retry-After`` (when the oldest failures leave the window)
and does not call the upstream.

Four counters, each asking "who does this refuse?":

- **username from one address** (``THROTTLE_USERNAME_FAILURES``, 10): the guesser's
  own lane. It applies to every attempt and refuses only that username from that
  address.
- **username from everywhere** (``THROTTLE_USERNAME_CEILING``, 100): caps a guesser
  who spreads over many addresses. It does not apply at an address where that
  exact username logged in successfully within ``THROTTLE_KNOWN_ADDRESS_DAYS``: a
  guesser elsewhere cannot lock the owner out where the owner usually logs in.
- **address** (``THROTTLE_IP_FAILURES``, 30): stops one host spraying passwords over
  many usernames. Same exemption: the people behind a NAT or a partner's backend
  who have logged in from it before keep logging in while a sprayer shares their
  address. It applies to the password grant only: refresh and client_credentials
  requests are never refused for it.
- **client** (``THROTTLE_CLIENT_FAILURES``, 1000): a ceiling against credential
  stuffing through one client over many addresses. Same exemption.

What counts: each attempt reserves its place on the counters that apply before
the upstream is asked (an atomic increment, undone if it went over), so a burst
of concurrent guesses cannot overshoot a limit: the upstream sees at most the
limit, exactly. The reservation stays as a failure when the upstream says no, and
also when the call fails in a way the input can cause (a timeout, a 5xx, a
malformed answer): an upstream that answers wrong passwords slowly is no free
oracle. It is released when the credentials are good, and when nothing was asked
(an open circuit) or the failure cannot be the input's (connection refused, the
gateway's own registration refused). A success never erases failures: they
leave the window as time passes, so a look-alike account's success (``VICTIM7``
at an upstream where case matters) cannot reset the counters of ``victim7``.

Usernames are counted by their skeleton: NFKC with case folded, surrounding space
stripped, and combining marks dropped (so ``victim``, ``VICTIM``, its full-width
form and ``victim`` with an accent or a variation selector share one count); usernames with
control or invisible formatting characters are refused before any of this
(``oauthgw.toolkit.request_checks``). An IPv6 client counts per /64. Identities are stored
as keyed hashes, never in the clear.

One more limit is not a count of failures but of calls waiting. Each upstream
call waits in a server thread for up to the upstream timeout, so one source the
upstream answers slowly (an upstream that tar-pits failed logins) could hold
every thread of the gateway for as long as its failure limits allow. Once one of
an address's calls has taken half the upstream timeout or more (a timeout
included), the address is marked slow for ``THROTTLE_WINDOW`` in the shared
state, read in the same round trip as the counters; while it is, it may have at
most ``THROTTLE_IP_CONCURRENCY`` upstream calls in flight at once in one worker
process (``upstream_call_slot``), and more are refused at once with 429 and
``Retry-After: 1``. The calls are counted in each process, not in the shared
state: the threads it protects are the process's own, a process-local count is
exact and costs no round trip, and a worker that dies leaves nothing behind. An
address whose calls are answered promptly is never capped: an office behind one
NAT address, or a backend logging its users in, may send as many logins at once
as it likes (a fresh address's first burst of slow calls is bounded by the
failure limits and the threads, once per window). Behind a slow address, the
people who share it share its places.

The faults of a call are also charged, for the circuit breaker, to its source
(``fault_source``: the username's skeleton from the address), so one source's
faults count there once however many there are.

Failed client authentications count nowhere: client secrets are generated with
about 760 bits, or typed with at least 32 characters, so guessing one is
hopeless however fast; counting them would let a client with a stale secret lock
every user behind its address out.
"""

import math
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from django.utils.crypto import salted_hmac

from oauthgw.caching import shared_state
from oauthgw.conf import gateway_settings
from oauthgw.end_user_address import address_block
from oauthgw.exceptions import Throttled

PAIR = "username"  # the username from this address
USERNAME = "username_everywhere"
CLIENT_IP = "ip"
CLIENT = "client"
CONCURRENT = "ip_concurrent"  # upstream calls of a slow address in flight in this process
# Counters a login from an address known for its username does not answer to.
_LIFTED_AT_A_KNOWN_ADDRESS = frozenset({USERNAME, CLIENT_IP, CLIENT})
_DAY = 24 * 3600


def _clock() -> float:
    # The seam tests replace to move time.
    return time.time()


def username_skeleton(username: str) -> str:
    """What a username is counted as: spellings that look alike count together."""
    decomposed = unicodedata.normalize("NFKD", username)
    # Marks (accents, variation selectors) and invisible format characters add nothing a reader sees.
    kept = "".join(
        char for char in decomposed if unicodedata.category(char)[0] != "M" and unicodedata.category(char) != "Cf"
    )
    return unicodedata.normalize("NFKC", kept.casefold()).strip()


def _exact_username(username: str) -> str:
    # The known-address mark is for this spelling only (case kept): a look-alike
    # account's success must not vouch for another's address.
    return unicodedata.normalize("NFKC", username).strip()


def _hashed(*parts: str) -> str:
    return salted_hmac("oauthgw.issuing.throttling", "\0".join(parts)).hexdigest()[:32]


@dataclass(frozen=True)
class _Counter:
    scope: str
    identity: str
    limit: int

    @cached_property
    def prefix(self) -> str:
        # One HMAC per counter, not one per bucket key.
        return f"oauthgw:throttle:v2:{self.scope}:{_hashed(self.scope, self.identity)}"


def _bucket_seconds() -> int:
    return max(1, int(gateway_settings.THROTTLE_BUCKET))


def _bucket_count() -> int:
    return max(1, math.ceil(gateway_settings.THROTTLE_WINDOW / _bucket_seconds()))


def _ttl() -> int:
    return _bucket_count() * _bucket_seconds() + _bucket_seconds()


def _buckets(counter: _Counter, now: float) -> list[tuple[int, str]]:
    """(bucket index, key) for the buckets in the window, oldest first."""
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


@dataclass
class PasswordAttempt:
    """A login that holds its places on the counters; say once how the upstream answered."""

    reserved: list[str] = field(default_factory=list)  # the current bucket keys this attempt added 1 to
    known_key: str = ""
    known: bool = False

    def rejected(self) -> None:
        """The upstream refused the credentials: the reservations stay, as failures."""
        self.reserved = []

    def faulted(self, *, input_dependent: bool) -> None:
        """The upstream gave no clear answer; one the input can cause counts as a failure."""
        if input_dependent:
            self.reserved = []
        else:
            self.abandoned()

    def accepted(self) -> None:
        """The credentials were good: not a failure; this address is now known for the username."""
        self.abandoned()
        if not self.known:
            shared_state.put(self.known_key, True, timeout=gateway_settings.THROTTLE_KNOWN_ADDRESS_DAYS * _DAY)

    def abandoned(self) -> None:
        """Nothing was decided about the credentials: give the places back."""
        reserved, self.reserved = self.reserved, []
        shared_state.counters_add(dict.fromkeys(reserved, -1), timeout=_ttl())


@dataclass(frozen=True)
class PasswordLimits:
    """A login's counters, to be read (``keys``) and then checked and reserved (``start``).

    Split in two so that the caller reads them in the same round trip as other
    shared state (the circuit breaker's).
    """

    buckets: dict[_Counter, list[tuple[int, str]]]  # the counters in force, each with its window's buckets
    known_key: str
    slow_key: str  # marks the address whose upstream calls were slow
    now: float

    @property
    def keys(self) -> list[str]:
        return [self.known_key, self.slow_key, *(key for pairs in self.buckets.values() for _, key in pairs)]

    def slowed(self, stored: dict) -> bool:
        """Whether an upstream call of this address took half the timeout or more within the window."""
        return bool(stored.get(self.slow_key))

    def timed(self, seconds: float, *, timeout: float) -> None:
        """Say how long this login's upstream call took; half the timeout or more marks the address slow."""
        if seconds >= timeout / 2:
            shared_state.put(self.slow_key, True, timeout=gateway_settings.THROTTLE_WINDOW)

    def start(self, stored: dict) -> PasswordAttempt:
        """Raise ``Throttled`` if a counter that applies is at its limit; else reserve and return the attempt.

        ``stored`` holds the shared state's values for ``keys`` (a key left out is 0).
        """
        known = bool(stored.get(self.known_key))
        applying = {
            counter: pairs
            for counter, pairs in self.buckets.items()
            if not (known and counter.scope in _LIFTED_AT_A_KNOWN_ADDRESS)
        }
        counts = {
            counter: [(index, max(0, int(stored.get(key, 0) or 0))) for index, key in pairs]
            for counter, pairs in applying.items()
        }
        # A caller already over a limit is refused on the read alone: it writes nothing.
        for counter, window in counts.items():
            if sum(count for _, count in window) >= counter.limit:
                raise Throttled(counter.scope, retry_after=_retry_after(window, counter.limit, self.now))
        attempt = PasswordAttempt(known_key=self.known_key, known=known)
        current = {counter: pairs[-1][1] for counter, pairs in applying.items()}
        reserved = shared_state.counters_add(dict.fromkeys(current.values(), 1), timeout=_ttl())
        attempt.reserved = list(reserved)
        for counter, window in counts.items():
            # The older buckets as read, this one as it is now with every reservation in it.
            total = sum(count for _, count in window[:-1]) + reserved.get(current[counter], 0)
            if total > counter.limit:
                attempt.abandoned()
                updated = [*window[:-1], (window[-1][0], reserved.get(current[counter], 0))]
                raise Throttled(counter.scope, retry_after=_retry_after(updated, counter.limit, self.now))
        return attempt


def password_limits(*, server_name: str, username: str, client_id: str, client_ip: str) -> PasswordLimits:
    """The failure counters a password login of ``username`` from ``client_ip`` via ``client_id`` must pass."""
    skeleton = f"{server_name}\0{username_skeleton(username)}"
    address = address_block(client_ip)
    counters = (
        _Counter(PAIR, f"{skeleton}\0{address}", gateway_settings.THROTTLE_USERNAME_FAILURES),
        _Counter(USERNAME, skeleton, gateway_settings.THROTTLE_USERNAME_CEILING),
        _Counter(CLIENT_IP, address, gateway_settings.THROTTLE_IP_FAILURES),
        _Counter(CLIENT, client_id, gateway_settings.THROTTLE_CLIENT_FAILURES),
    )
    now = _clock()
    known_key = f"oauthgw:throttle:v2:known:{_hashed('known', server_name, _exact_username(username), address)}"
    return PasswordLimits(
        buckets={counter: _buckets(counter, now) for counter in counters if counter.limit > 0},
        known_key=known_key,
        slow_key=f"oauthgw:throttle:v2:slow:{_hashed('slow', address)}",
        now=now,
    )


def fault_source(*, username: str, client_ip: str) -> str:
    """Who an upstream fault is charged to in the circuit breaker: a keyed hash of the username and the address."""
    return _hashed("source", username_skeleton(username), address_block(client_ip))


_in_flight: Counter[str] = Counter()
_in_flight_lock = threading.Lock()


@contextmanager
def upstream_call_slot(*, client_ip: str, capped: bool) -> Iterator[None]:
    """Count one of the address's upstream calls in this process; ``Throttled`` if ``capped`` and none is free.

    ``capped``: the address is slow (``PasswordLimits.slowed``). Calls of every
    address are counted, so the count is right the moment one turns slow.
    """
    limit = gateway_settings.THROTTLE_IP_CONCURRENCY
    address = address_block(client_ip)
    with _in_flight_lock:
        if capped and 0 < limit <= _in_flight[address]:
            raise Throttled(
                CONCURRENT,
                retry_after=1,
                description="Too many logins from this address at once; try again in a moment.",
            )
        _in_flight[address] += 1
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight[address] -= 1
            if not _in_flight[address]:
                del _in_flight[address]
