"""What the lose-unsynced-writes filesystem (``sdconform-lossfs``) costs a database that syncs
every write: throughput on the plain data folder against the same node with its data folder on
the filesystem (``Topology.start(..., power_loss=True)``).

    .venv/bin/python bench/lossfs.py
    .venv/bin/python bench/lossfs.py --seconds 5 --rounds 2 --only redis

Workloads, each on a fresh single-node cluster per round:

- ``redis-aof-always``: ``redis-benchmark -t set -c 16`` against Redis with ``appendonly yes``,
  ``appendfsync always`` (every write reaches the AOF and is fsynced before its reply). Each
  round first runs a short probe (also a warm-up), then a run sized to last about
  ``--seconds``; the rate is redis-benchmark's own requests per second.
- ``postgres-commit``: ``pgbench -i -s 1``, then ``pgbench -c 4 -j 2 -T SECONDS -M simple``
  (TPC-B-like: every transaction commits, each commit flushes the WAL); the rate is its tps.
  After the initialisation a CHECKPOINT, and on the filesystem a ``sync``, so that both
  variants start from data on disk (as the harness does once a cluster is set up).

Plain and lossfs rounds alternate (plain, lossfs, plain, lossfs...) so that the machine's noise
hits both; each line gives the medians and ``ratio_vs_plain`` = lossfs median / plain median.
The machine's load average is printed at the start and the end: on a busy machine (this one
has few cores, and others may be running) the numbers move. Progress goes to stderr. Every
cluster is stopped when its round ends, also on Ctrl-C or SIGTERM. No timing is asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from pytest_sdconform.backends import postgres as pg
from pytest_sdconform.backends import redis as rb
from pytest_sdconform.backends.base import Topology
from pytest_sdconform.backends.postgres.topology import BIN as PG_BIN
from pytest_sdconform.backends.postgres.topology import USER as PG_USER
from pytest_sdconform.cluster import Cluster
from pytest_sdconform.nodes.addresses import AddressBlock, allocate
from pytest_sdconform.provision import lossfs_binary
from pytest_sdconform.runs import new_run
from pytest_sdconform.runtimes.local import LocalRuntime

VARIANTS = ("plain", "lossfs")
REDIS_CLIENTS = 16
PG_CLIENTS = 4


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Workload:
    """One backend's topology and how to measure its rate (operations per second)."""

    name: str
    unit: str

    def topology(self) -> Topology[Any]:
        raise NotImplementedError

    def measure(self, cluster: Cluster[Any], variant: str, seconds: float) -> float:
        raise NotImplementedError


class RedisAofAlways(Workload):
    name = "redis-aof-always"
    unit = "SET/s"

    def __init__(self) -> None:
        self.estimate: dict[str, float] = {}  # variant -> the last rate seen

    def topology(self) -> Topology[Any]:
        return rb.Topology(persistence=rb.Persistence(appendonly=True, appendfsync="always"))

    def benchmark(self, address: str, requests: int) -> tuple[float, float]:
        """redis-benchmark's rate for ``requests`` SETs, and how long the run took."""
        argv = ["redis-benchmark", "-h", address, "-p", str(rb.PORT), "-t", "set",
                "-n", str(requests), "-c", str(REDIS_CLIENTS), "-q"]
        began = time.monotonic()
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        took = time.monotonic() - began
        # Quiet mode: "\r"-separated progress, then "SET: 12345.67 requests per second, ...".
        rates = re.findall(r"SET: ([0-9.]+) requests per second", out)
        if not rates:
            raise RuntimeError(f"no rate in redis-benchmark's output: {out[-300:]!r}")
        return float(rates[-1]), took

    def measure(self, cluster: Cluster[Any], variant: str, seconds: float) -> float:
        address = cluster.info.addresses["n1"]
        # A probe (also a warm-up) of about a second, to size the run to about ``seconds``.
        requests = int(self.estimate.get(variant) or self.estimate.get("plain") or 2000)
        probe, took = self.benchmark(address, requests)
        while took < 0.5:
            requests *= 4
            probe, took = self.benchmark(address, requests)
        rate, took = self.benchmark(address, max(1000, int(probe * seconds)))
        say(f"  ({int(probe * seconds)} SETs in {took:.1f}s, after a probe at {probe:.0f}/s)")
        self.estimate[variant] = rate
        return rate


class PostgresCommit(Workload):
    name = "postgres-commit"
    unit = "tps"

    def topology(self) -> Topology[Any]:
        return pg.Topology()

    def pgbench(self, address: str, *args: str) -> str:
        argv = [str(PG_BIN / "pgbench"), "-h", address, "-p", str(pg.PORT), "-U", PG_USER,
                *args, "postgres"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-500:]}")
        return done.stdout

    def measure(self, cluster: Cluster[Any], variant: str, seconds: float) -> float:
        address = cluster.info.addresses["n1"]
        self.pgbench(address, "-i", "-s", "1", "-q")
        with pg.connect(address, timeout=10) as conn:
            conn.execute("CHECKPOINT")
        disk = cluster.node("n1").disk
        if disk is not None:
            disk.sync()  # the initial data is on disk, as on the plain folder after CHECKPOINT
        out = self.pgbench(address, "-c", str(PG_CLIENTS), "-j", "2", "-T", f"{seconds:g}",
                           "-M", "simple", "-b", "tpcb-like")
        tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
        if tps is None:
            raise RuntimeError(f"no tps in pgbench's output: {out[-500:]!r}")
        return float(tps.group(1))


WORKLOADS: dict[str, Callable[[], Workload]] = {
    "redis": RedisAofAlways,
    "postgres": PostgresCommit,
}


def one_round(workload: Workload, variant: str, block: AddressBlock, seconds: float) -> float:
    """Start a fresh cluster (on the filesystem for ``lossfs``), measure, and stop it."""
    run = new_run()
    cluster = workload.topology().start(run, block, power_loss=variant == "lossfs")
    try:
        assert isinstance(cluster.runtime, LocalRuntime)
        if variant == "lossfs" and cluster.node("n1").disk is None:
            raise RuntimeError("the lossfs cluster's node has no lossy disk")
        rate = workload.measure(cluster, variant, seconds)
        disk = cluster.node("n1").disk
        if disk is not None:
            stats = disk.unsynced()
            say(f"  (lossfs holds {stats.get('writes')} unsynced writes, "
                f"{stats.get('bytes')} bytes, in {stats.get('files')} files)")
        return rate
    finally:
        cluster.stop()


def fmt(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 100 else f"{rate:.1f}"


def bench(workload: Workload, block: AddressBlock, rounds: int, seconds: float) -> str:
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(1, rounds + 1):
        for variant in VARIANTS:
            began = time.monotonic()
            say(f"{workload.name} round {r}/{rounds} {variant}: starting (load {load()})")
            rate = one_round(workload, variant, block, seconds)
            rates[variant].append(rate)
            say(f"{workload.name} round {r}/{rounds} {variant}: {fmt(rate)} {workload.unit} "
                f"({time.monotonic() - began:.0f}s with start and stop)")
    plain = statistics.median(rates["plain"])
    lossy = statistics.median(rates["lossfs"])
    ratio = lossy / plain if plain else float("nan")
    each = "; ".join(f"{v}: " + " ".join(fmt(x) for x in rates[v]) for v in VARIANTS)
    return (f"{workload.name}: plain={fmt(plain)}/s lossfs={fmt(lossy)}/s "
            f"ratio_vs_plain={ratio:.2f} (median of {rounds}; {workload.unit} per round: {each})")


def stop_on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of each variant")
    ap.add_argument("--only", choices=sorted(WORKLOADS), action="append",
                    help="only this backend (repeatable; default: all)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench: run as root (the filesystem is mounted for nodes of other users)",
              file=sys.stderr)
        return 2
    if shutil.which("redis-benchmark") is None and "redis" in (args.only or WORKLOADS):
        print("bench: redis-benchmark is missing (apt-get install redis-tools)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, stop_on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background

    probe_run = new_run()
    try:
        why = LocalRuntime(probe_run).capabilities()["power-loss"]
    finally:
        probe_run.forget()
    if why:
        print(f"bench: {why}", file=sys.stderr)
        return 2
    say(f"sdconform-lossfs: {lossfs_binary()}")  # built now, not inside a round

    cores = os.cpu_count() or 0
    print(f"machine: {cores} cores, load average at start {load()} (1, 5, 15 min); "
          "a busy machine moves these numbers: read the ratios, not the rates", flush=True)
    print(f"each round: a fresh single-node cluster, {args.seconds:g}s measured; "
          f"{args.rounds} rounds of each variant, alternating plain/lossfs", flush=True)
    block = allocate()
    try:
        for name in args.only or list(WORKLOADS):
            print(bench(WORKLOADS[name](), block, args.rounds, args.seconds), flush=True)
    except KeyboardInterrupt:
        print("bench: interrupted; every cluster started was stopped", file=sys.stderr)
        return 130
    finally:
        block.release()
    print(f"load average at end {load()} (1, 5, 15 min)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
