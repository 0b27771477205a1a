"""Toxiproxy faults against the real pinned server: each proves itself, heals, leaves nothing."""

from __future__ import annotations

import shutil
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_sdconform.faults import FaultNotEffective, FaultUnavailable
from pytest_sdconform.faults.latency import (
    Bandwidth,
    Latency,
    ResetPeer,
    RoundTrip,
    Slicer,
    Timeout,
)
from pytest_sdconform.faults.toxiproxy import (
    Proxy,
    Toxic,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyServer,
)
from pytest_sdconform.nodes.addresses import AddressBlock
from pytest_sdconform.runs import Run, process_start_time
from pytest_sdconform.runtimes.local import LocalRuntime

integration = pytest.mark.integration
PING = RoundTrip(b"ping")  # the echo server answers any bytes


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(1 << 16):
                self.request.sendall(data)
        except OSError:
            pass  # a reset connection is what some tests are about


class EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


@pytest.fixture
def echo(block: AddressBlock) -> Iterator[str]:
    """An echo server on a node address (the upstream); yields its ``host:port``."""
    server = EchoServer((block.node(1), 0), EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{block.node(1)}:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def start_server(run: Run, block: AddressBlock) -> ToxiproxyServer:
    server = ToxiproxyServer(LocalRuntime(run), block.harness())
    try:
        server.start()
    except FaultUnavailable as e:
        if shutil.which("go") is None:
            pytest.skip(str(e))  # names the missing Go toolchain; with it, a build error fails
        raise
    return server


@pytest.fixture
def toxiproxy(run: Run, block: AddressBlock) -> Iterator[ToxiproxyServer]:
    server = start_server(run, block)
    yield server
    server.stop()


def echo_time(proxy: Proxy, nbytes: int = 1, timeout: float = 10.0) -> float:
    """Our own measurement, independent of the faults' probes: best of three echoes."""
    probe = RoundTrip(b"x" * nbytes, nbytes, timeout)
    return min(probe(proxy) for _ in range(3))


def is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@integration
def test_client_speaks_the_api(toxiproxy: ToxiproxyServer, echo: str) -> None:
    client = toxiproxy.client
    assert client.version()  # "git": go install sets no version (see the report)
    proxy = toxiproxy.proxy("p1", echo)
    assert proxy.host == toxiproxy.address and proxy.port > 0 and proxy.upstream == echo
    assert client.proxies() == {"p1": proxy} and client.proxy("p1") == proxy
    added = client.add_toxic("p1", Toxic("latency", {"latency": 10}, "upstream", 0.5, "slow"))
    assert added == Toxic("latency", {"latency": 10, "jitter": 0}, "upstream", 0.5, "slow")
    assert client.toxics("p1") == [added]
    with pytest.raises(ToxiproxyError) as dup:
        client.add_toxic("p1", Toxic("latency", {"latency": 10}, "upstream", name="slow"))
    assert dup.value.status == 409
    with pytest.raises(ToxiproxyError) as bad:
        client.add_toxic("p1", Toxic("no-such-toxic"))
    assert bad.value.status == 400
    assert client.remove_toxic("p1", "slow") is True
    assert client.remove_toxic("p1", "slow") is False
    with pytest.raises(ToxiproxyError):
        client.remove_toxic("p1", "slow", missing_ok=False)
    assert not client.set_enabled("p1", False).enabled
    assert not is_listening(proxy.host, proxy.port)
    client.add_toxic("p1", Toxic("latency", {"latency": 10}))
    client.reset()  # enables every proxy and removes every toxic
    assert client.proxy("p1").enabled and client.toxics("p1") == []
    assert echo_time(proxy) < 1.0
    assert client.delete_proxy("p1") is True and client.delete_proxy("p1") is False
    assert client.proxies() == {}


@integration
def test_latency_adds_its_delay_and_heal_removes_it(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    before = echo_time(proxy)
    held = socket.create_connection((proxy.host, proxy.port))  # open before the fault
    fault = Latency(toxiproxy.client, [proxy], 200, probe=PING)
    value = fault.start()
    assert value["latency"] == 200 and value["measured"]["p1"]["added_ms"] >= 180
    during = echo_time(proxy)
    assert during - before >= 0.18
    began = time.monotonic()
    held.sendall(b"x")
    assert held.recv(1) == b"x" and time.monotonic() - began >= 0.18  # open connections too
    held.close()
    healed = fault.stop()
    assert healed["removed"] and toxiproxy.client.toxics("p1") == []
    after = echo_time(proxy)
    assert after < 0.1
    assert fault.stop() == {"removed": []}  # heal is idempotent
    print(
        f"latency 200 ms: round trip {before * 1000:.2f} -> {during * 1000:.1f} ->"
        f" {after * 1000:.2f} ms; fault measured {value['measured']['p1']}"
    )


@integration
def test_latency_on_both_streams_of_two_proxies(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxies = [toxiproxy.proxy("p1", echo), toxiproxy.proxy("p2", echo)]
    fault = Latency(toxiproxy.client, proxies, 100, jitter_ms=10, stream="both", probe=PING)
    value = fault.start()
    assert set(value["measured"]) == {"p1", "p2"} and value["stream"] == "upstream+downstream"
    assert all(echo_time(p) >= 0.18 for p in proxies)  # the echo crosses both streams
    assert len(fault.stop()["removed"]) == 4
    assert all(echo_time(p) < 0.1 for p in proxies)


@integration
def test_bandwidth_limits_throughput(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = Bandwidth(toxiproxy.client, [proxy], kbps=100)
    value = fault.start()
    assert value["rate"] == 100 and value["measured"]["p1"]["added_ms"] >= 200
    slow = echo_time(proxy, 50_000)
    assert 50_000 / slow <= 125_000  # bytes per second: the 100 KB/s limit, give or take
    fault.stop()
    fast = echo_time(proxy, 50_000)
    assert fast < 0.25
    print(f"bandwidth 100 KB/s: 50 kB echo {slow * 1000:.0f} ms, healed {fast * 1000:.1f} ms")


@integration
def test_slicer_spreads_data_over_time(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = Slicer(toxiproxy.client, [proxy], average_size=50, size_variation=10, delay_us=2000)
    assert fault.start()["measured"]["p1"]["added_ms"] > 0
    assert echo_time(proxy, 6_000) >= 0.1  # at least 100 slices, 2 ms apart
    fault.stop()
    assert echo_time(proxy, 6_000) < 0.1


@integration
def test_timeout_stops_data_and_closes(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = Timeout(toxiproxy.client, [proxy], 300, probe=PING)
    value = fault.start()
    assert value["measured"]["p1"]["broken_after_ms"] >= 250
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as conn:
        began = time.monotonic()
        conn.sendall(b"x")
        assert conn.recv(1) == b""  # no data, then closed
        assert time.monotonic() - began >= 0.25
    fault.stop()
    assert echo_time(proxy) < 0.1
    assert fault.stop() == {"removed": []}


@integration
def test_timeout_zero_drops_data_and_never_closes(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = Timeout(toxiproxy.client, [proxy], 0, probe=RoundTrip(b"ping", timeout=0.5))
    assert fault.start()["measured"]["p1"]["error"] == "TimeoutError"
    fault.stop()
    assert echo_time(proxy) < 0.1


@integration
def test_reset_peer_resets_connections(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = ResetPeer(toxiproxy.client, [proxy], probe=PING)
    assert fault.start()["measured"]["p1"]["error"] in (
        "ConnectionResetError",
        "ConnectionAbortedError",
    )
    with socket.create_connection((proxy.host, proxy.port), timeout=5) as conn:
        conn.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            conn.recv(1)
    fault.stop()
    assert echo_time(proxy) < 0.1
    assert fault.stop() == {"removed": []}


@integration
def test_a_probe_that_sees_nothing_is_no_proof(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = Latency(toxiproxy.client, [proxy], 200, probe=lambda p: 0.001)
    with pytest.raises(FaultNotEffective, match="0/3 probes affected"):
        fault.start()
    assert toxiproxy.client.toxics("p1") == []  # a failed start leaves nothing behind
    silent = Latency(toxiproxy.client, [proxy], 200)  # the echo server never speaks first
    with pytest.raises(FaultNotEffective, match="fails before the fault"):
        silent.start()


@integration
def test_heal_is_proven_too(toxiproxy: ToxiproxyServer, echo: str) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    fault = Latency(toxiproxy.client, [proxy], 100, probe=PING)
    fault.start()
    toxiproxy.client.add_toxic("p1", Toxic("latency", {"latency": 100}, name="not-ours"))
    with pytest.raises(FaultNotEffective, match="not healed"):
        fault.stop()  # removes its own toxic, and sees the delay is still there
    toxiproxy.client.reset()
    healed = fault.stop()  # a heal that failed is proven again on the next stop
    assert healed["removed"] == [] and healed["round_trip_ms"]["p1"] < 100
    assert fault.stop() == {"removed": []}


@integration
def test_partial_toxicity_is_proven_on_some_connections(
    toxiproxy: ToxiproxyServer, echo: str
) -> None:
    proxy = toxiproxy.proxy("p1", echo)
    # 20 connections at toxicity 0.5: all unharmed by chance once in a million runs.
    fault = Latency(toxiproxy.client, [proxy], 50, toxicity=0.5, probe=PING, samples=10)
    value = fault.start()
    assert value["toxicity"] == 0.5 and value["measured"]["p1"]["added_ms"] >= 45
    fault.stop()
    assert echo_time(proxy) < 0.1


@integration
def test_stopped_server_leaves_nothing(run: Run, block: AddressBlock, echo: str) -> None:
    began = time.monotonic()
    server = start_server(run, block)
    ready = time.monotonic() - began
    proxy = server.proxy("p1", echo)
    pid = server.node.pid if server.node else None
    assert pid is not None and process_start_time(pid) is not None
    assert {
        "kind": "process",
        "name": "toxiproxy",
        "pid": pid,
        "start_time": process_start_time(pid),
    } in run.resources()
    assert (server.node.log if server.node else None) is not None
    server.stop()
    assert process_start_time(pid) is None
    assert not is_listening(server.address, server.port)
    assert not is_listening(proxy.host, proxy.port)
    server.stop()  # twice is fine
    print(f"toxiproxy ready in {server.started_in:.3f} s ({ready:.3f} s with provisioning)")


def test_toxics_and_faults_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError):
        Toxic("latency", stream="sideways").to_json()
    client = ToxiproxyClient("http://127.0.0.1:1")  # never called: arguments are checked first
    proxy = Proxy("p", "127.0.0.1:1", "127.0.0.1:2")
    with pytest.raises(ValueError, match="jitter"):
        Latency(client, [proxy], 100, jitter_ms=100)
    with pytest.raises(ValueError, match="delay"):
        Slicer(client, [proxy], delay_us=0)
    with pytest.raises(ValueError, match="no proxies"):
        Timeout(client, [], 100)
    with pytest.raises(ValueError, match="toxicity"):
        ResetPeer(client, [proxy], toxicity=0)
