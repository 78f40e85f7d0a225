"""The production server's launcher (gatewayproj.server): configuration and worker clean-up."""

import inspect

from granian.server import Server

from gatewayproj import server


def test_granians_private_respawn_hook_keeps_the_signature_gateway_server_overrides():
    # GatewayServer._respawn_workers marks replaced workers' Prometheus files dead. If a
    # granian upgrade changes this, revisit that override (and its use of wrks[i].inner.pid).
    parameters = list(inspect.signature(Server._respawn_workers).parameters)

    assert parameters == ["self", "workers", "spawn_target", "target_loader", "delay"]


def test_the_server_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_BIND", "0.0.0.0:9100")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GATEWAY_BODY_READ_TIMEOUT", "2.5")

    built = server.build_server()

    assert (built.bind_addr, built.bind_port, built.workers) == ("0.0.0.0", 9100, 3)
    assert built.http1_settings.header_read_timeout == 2500
    assert built.respawn_failed_workers


def test_a_given_metrics_directory_is_emptied_at_start(monkeypatch, tmp_path):
    (tmp_path / "counter_12345.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    owned = server._metrics_directory()

    assert owned is None
    assert list(tmp_path.iterdir()) == []


def test_a_replaced_workers_live_gauges_are_removed(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_4242.db").write_bytes(b"")

    server._mark_dead([4242])

    # Counters stay: their totals still count; a dead process's live gauges do not.
    assert [path.name for path in tmp_path.iterdir()] == ["counter_4242.db"]


def test_a_worker_told_to_stop_before_it_installed_its_own_signal_handlers_exits(monkeypatch):
    # Forked workers inherit the main process's handler until granian installs theirs.
    built = server.build_server()
    built.pid = 1  # the main process, as seen from a worker
    exits = []
    monkeypatch.setattr(server.os, "_exit", exits.append)

    built.signal_handler_interrupt()

    assert exits == [0]
