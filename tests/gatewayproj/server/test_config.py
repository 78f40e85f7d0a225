"""The production server's settings (gatewayproj.server.config), read from the environment."""

import pytest

from gatewayproj.server import master
from gatewayproj.server.config import ConfigurationError, ServerConfig


@pytest.mark.parametrize(
    ("bind", "host", "port"),
    [("127.0.0.1:8000", "127.0.0.1", 8000), ("[::]:9100", "::", 9100), (":8080", "0.0.0.0", 8080)],
)
def test_the_bind_address_is_host_and_port(monkeypatch, bind, host, port):
    monkeypatch.setenv("GATEWAY_BIND", bind)

    config = ServerConfig.from_environment()

    assert (config.host, config.port) == (host, port)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_BIND", "localhost"),
        ("GATEWAY_BIND", "127.0.0.1:99999"),
        ("WEB_CONCURRENCY", "0"),
        ("GATEWAY_THREADS", "many"),
        ("GATEWAY_BODY_READ_TIMEOUT", "-1"),
        ("GATEWAY_MAX_CONNECTIONS", "100000000"),
    ],
)
def test_a_setting_that_cannot_work_is_an_error_naming_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError, match=name):
        ServerConfig.from_environment()


def test_the_per_address_limit_is_for_the_whole_server_and_shared_out_between_workers(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    monkeypatch.setenv("GATEWAY_MAX_CONNECTIONS_PER_ADDRESS", "100")

    assert ServerConfig.from_environment().max_connections_per_address == 25

    monkeypatch.setenv("GATEWAY_MAX_CONNECTIONS_PER_ADDRESS", "0")
    assert ServerConfig.from_environment().max_connections_per_address == 0


def test_timeouts_come_from_their_variables(monkeypatch):
    monkeypatch.setenv("GATEWAY_BODY_READ_TIMEOUT", "2.5")
    monkeypatch.setenv("GATEWAY_KEEPALIVE_TIMEOUT", "3")
    monkeypatch.setenv("GATEWAY_GRACEFUL_TIMEOUT", "7")

    config = ServerConfig.from_environment()

    assert (config.header_timeout, config.body_timeout, config.keepalive_timeout) == (2.5, 2.5, 3.0)
    assert config.graceful_timeout == 7.0


def test_a_given_metrics_directory_is_emptied_at_start(monkeypatch, tmp_path):
    (tmp_path / "counter_12345.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    owned = master._metrics_directory()

    assert owned is None
    assert list(tmp_path.iterdir()) == []


def test_a_dead_workers_live_gauges_are_removed_and_its_counters_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")

    master._mark_dead(4242)

    assert [path.name for path in tmp_path.iterdir()] == ["counter_4242.db"]
