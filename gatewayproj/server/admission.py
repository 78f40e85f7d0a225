"""Which connections a worker keeps, so that no address, however patient, crowds the others out.

Each worker process holds at most ``max_connections`` connections, and one
address at most ``max_connections_per_address`` of them. A connection that has
not yet delivered a whole request (it is silent, or still sending its headers
or body) holds nothing but a socket; one that has is waiting for, or getting,
its answer. When a new connection would go over a limit, the worker closes the
address's (or, for the worker's limit, anyone's) connection that has been
quiet the longest among those holding no request; only when there is none is
the new one refused. So a flood of idle or stalled connections from one address
only ever displaces that address's own, while a client that sends its request
as it connects, as every real client does, is served — even from that address.

Addresses are counted as the socket sees them: IPv4 by address, IPv6 by /64
(one host usually holds a whole /64). Behind a reverse proxy every connection
comes from the proxy, so the proxy sets its own per-address limits
(docs/operations.md) and this one should be raised or turned off (0).
"""

import ipaddress
from typing import Protocol


class Admitted(Protocol):
    address: str

    @property
    def holds_request(self) -> bool: ...

    def evict(self) -> None: ...


def address_key(host: str) -> str:
    """The address a connection counts against: the host itself, or an IPv6 host's /64."""
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))


class Admission:
    """The connections of one worker, in order of their last activity, per address and in all."""

    def __init__(self, *, per_address: int, total: int):
        self.per_address = per_address
        self.total = total
        # Dicts keep insertion order: re-inserting on activity makes each an LRU list.
        self._all: dict[Admitted, None] = {}
        self._by_address: dict[str, dict[Admitted, None]] = {}
        self.evicted = 0
        self.refused = 0

    def __len__(self) -> int:
        return len(self._all)

    def admit(self, connection: Admitted) -> bool:
        """Register a new connection, displacing quiet ones over a limit; False: refuse it."""
        group = self._by_address.get(connection.address)
        if group is None:
            group = self._by_address[connection.address] = {}
        if (self.per_address and len(group) >= self.per_address and not self._evict_from(group)) or (
            len(self._all) >= self.total and not self._evict_from(self._all)
        ):
            self.refused += 1
            if not group:
                del self._by_address[connection.address]
            return False
        group[connection] = None
        self._all[connection] = None
        return True

    def active(self, connection: Admitted) -> None:
        """``connection`` made progress: it is the last to be displaced."""
        group = self._by_address.get(connection.address)
        if group is not None and group.pop(connection, 0) is None:
            group[connection] = None
            del self._all[connection]
            self._all[connection] = None

    def release(self, connection: Admitted) -> None:
        """``connection`` is closed (idempotent)."""
        if self._all.pop(connection, 0) is None:
            group = self._by_address[connection.address]
            del group[connection]
            if not group:
                del self._by_address[connection.address]

    def connections(self) -> list[Admitted]:
        return list(self._all)

    def _evict_from(self, candidates: dict[Admitted, None]) -> bool:
        for candidate in candidates:
            if not candidate.holds_request:
                self.release(candidate)
                candidate.evict()
                self.evicted += 1
                return True
        return False
