"""Which connections a worker keeps (gatewayproj.server.admission): quiet ones make way, busy ones stay."""

import pytest

from gatewayproj.server.admission import Admission, address_key


class Conn:
    def __init__(self, address: str, *, busy: bool = False):
        self.address = address
        self.holds_request = busy
        self.evicted = False

    def evict(self):
        self.evicted = True


def test_an_address_over_its_limit_displaces_its_own_quietest_connection():
    admission = Admission(per_address=2, total=100)
    first, second, third = Conn("198.51.100.1"), Conn("198.51.100.1"), Conn("198.51.100.1")
    other = Conn("203.0.113.9")
    for connection in (first, other, second):
        assert admission.admit(connection)
    admission.active(first)  # first spoke last: second is now the quietest

    assert admission.admit(third)

    assert (first.evicted, second.evicted, third.evicted, other.evicted) == (False, True, False, False)
    assert len(admission) == 3


def test_a_connection_holding_a_request_is_never_displaced_and_the_newcomer_is_refused_instead():
    admission = Admission(per_address=2, total=100)
    busy = [Conn("198.51.100.1", busy=True), Conn("198.51.100.1", busy=True)]
    for connection in busy:
        admission.admit(connection)

    refused = Conn("198.51.100.1")

    assert not admission.admit(refused)
    assert not any(connection.evicted for connection in busy)
    assert admission.refused == 1
    assert admission.admit(Conn("203.0.113.9"))  # other addresses are not affected


def test_the_worker_limit_displaces_the_quietest_connection_of_anyone():
    admission = Admission(per_address=0, total=3)
    oldest, middle, newest = Conn("a"), Conn("b"), Conn("c")
    for connection in (oldest, middle, newest):
        admission.admit(connection)

    assert admission.admit(Conn("d"))

    assert (oldest.evicted, middle.evicted, newest.evicted) == (True, False, False)


def test_released_connections_free_their_place_and_release_is_idempotent():
    admission = Admission(per_address=1, total=10)
    connection = Conn("198.51.100.1", busy=True)
    admission.admit(connection)

    admission.release(connection)
    admission.release(connection)

    assert len(admission) == 0
    assert admission.admit(Conn("198.51.100.1", busy=True))


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("fe80::1%eth0", "fe80::/64"),
    ],
)
def test_ipv6_hosts_count_per_64_and_ipv4_per_address(host, key):
    assert address_key(host) == key
