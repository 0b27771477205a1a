"""A private Docker engine for machines without one of their own (our CI, a bare Linux host).

``sdconform engine start`` runs Debian's ``dockerd`` with its own data root (in the cache, so
built images survive), exec root, socket and pidfile, and prints the ``DOCKER_HOST`` that names
it; ``sdconform engine stop`` stops it by pid and undoes what dockerd does to the host and
leaves behind when it exits: the ``docker0`` bridge, its DOCKER* chains and the rules that jump
to them or masquerade its subnets, the FORWARD policy it sets to DROP, and
``net.ipv4.ip_forward``, each put back as it was before the start. A user with an engine of their
own (Docker Desktop, Podman's socket, a remote host) needs none of this: set ``DOCKER_HOST``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from .provision import ProvisionError, apt_install, cache_dir
from .runs import is_same_process, process_start_time, state_dir

FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def home() -> Path:
    """Socket, pidfile, exec root and the record of what the host looked like before."""
    return state_dir() / "engine"


def socket_url() -> str:
    return f"unix://{home() / 'docker.sock'}"


def _record() -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((home() / "engine.json").read_text())
    except (OSError, ValueError):
        return None
    return record


def running() -> bool:
    record = _record()
    return bool(record and is_same_process(record["pid"], record["start_time"]))


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                          check=False)


def _forward_policy() -> str:
    for line in _iptables("-S", "FORWARD").stdout.splitlines():
        if line.startswith("-P FORWARD "):
            return line.split()[2]
    return "ACCEPT"


def start(timeout: float = 30.0) -> str:
    """Start the private engine (once); returns its DOCKER_HOST."""
    if running():
        return socket_url()
    if shutil.which("dockerd") is None:
        apt_install(["docker.io"], ["dockerd"])
    folder = home()
    folder.mkdir(parents=True, exist_ok=True)
    before = {"ip_forward": FORWARD.read_text().strip() if FORWARD.exists() else "0",
              "forward_policy": _forward_policy(),
              "had_docker0": Path("/sys/class/net/docker0").exists(),
              # Another engine's chains: its rules are not ours to remove at the stop.
              "other_engine": "DOCKER" in _iptables("-S").stdout}
    log = open(folder / "dockerd.log", "ab")  # noqa: SIM115 (the daemon writes it after we return)
    process = subprocess.Popen(
        ["dockerd", "--data-root", str(cache_dir() / "docker"), "--exec-root",
         str(folder / "exec"), "-H", socket_url(), "--pidfile", str(folder / "dockerd.pid")],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    record = {"pid": process.pid, "start_time": process_start_time(process.pid), **before}
    (folder / "engine.json").write_text(json.dumps(record))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop()
            raise ProvisionError(f"dockerd exited with {process.returncode}; see "
                                 f"{folder / 'dockerd.log'}")
        if subprocess.run(["docker", "-H", socket_url(), "version"], capture_output=True,
                          check=False).returncode == 0 or _ping():
            return socket_url()
        time.sleep(0.2)
    stop()
    raise ProvisionError(f"dockerd did not answer within {timeout:.0f}s; see "
                         f"{folder / 'dockerd.log'}")


def _ping() -> bool:
    try:
        import docker

        docker.DockerClient(base_url=socket_url()).ping()
    except Exception:
        return False
    return True


def stop() -> list[str]:
    """Stop the private engine and put the host back; returns what was undone."""
    record = _record()
    if record is None:
        return []
    undone = []
    pid = record["pid"]
    if is_same_process(pid, record["start_time"]):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while is_same_process(pid, record["start_time"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_same_process(pid, record["start_time"]):
            os.killpg(pid, signal.SIGKILL)
        undone.append(f"dockerd (pid {pid}) stopped")
    undone += _undo_host(record)
    left = leftovers(record)
    if left:
        raise ProvisionError("the host is not as it was before the engine: " + "; ".join(left))
    (home() / "engine.json").unlink(missing_ok=True)
    return undone


def leftovers(before: dict[str, Any]) -> list[str]:
    """What of the engine is still on the host after the stop (nothing, normally)."""
    left = []
    if running():
        left.append("dockerd still running")
    if not before["had_docker0"] and Path("/sys/class/net/docker0").exists():
        left.append("bridge docker0")
    if not before.get("other_engine") and "DOCKER" in _iptables("-S").stdout:
        left.append("DOCKER chains in the filter table")
    if FORWARD.exists() and FORWARD.read_text().strip() != before["ip_forward"]:
        left.append("net.ipv4.ip_forward")
    return left


def _undo_host(before: dict[str, Any]) -> list[str]:
    undone = []
    for table in () if before.get("other_engine") else ("filter", "nat"):
        rules = _iptables("-t", table, "-S").stdout.splitlines()
        for rule in rules:  # jumps into DOCKER* chains and docker's masquerades
            words = rule.split()
            if words[0] == "-A" and ("DOCKER" in rule or "docker0" in rule
                                     or (table == "nat" and "MASQUERADE" in words
                                         and words[1] == "POSTROUTING" and "br-" in rule)):
                if words[1].startswith("DOCKER"):
                    continue  # inside a chain that goes as a whole
                if _iptables("-t", table, "-D", *words[1:]).returncode == 0:
                    undone.append(f"iptables -t {table} {rule}")
        for rule in rules:
            words = rule.split()
            if words[0] == "-N" and words[1].startswith("DOCKER"):
                _iptables("-t", table, "-F", words[1])
                if _iptables("-t", table, "-X", words[1]).returncode == 0:
                    undone.append(f"iptables -t {table} chain {words[1]}")
    if _forward_policy() != before["forward_policy"]:
        _iptables("-P", "FORWARD", before["forward_policy"])
        undone.append(f"FORWARD policy back to {before['forward_policy']}")
    if not before["had_docker0"] and Path("/sys/class/net/docker0").exists():
        subprocess.run(["ip", "link", "delete", "docker0"], capture_output=True, check=False)
        undone.append("bridge docker0")
    if FORWARD.exists() and FORWARD.read_text().strip() != before["ip_forward"]:
        FORWARD.write_text(before["ip_forward"] + "\n")
        undone.append(f"net.ipv4.ip_forward back to {before['ip_forward']}")
    return undone
