"""Talking to a Docker-API engine: connecting to the one ``DOCKER_HOST`` names, where it runs
(this machine, a VM, another machine: what it can mount of ours), and removing what a run
labelled (the runtime's end, and ``sdconform cleanup`` for runs that died)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from ..nodes import NodeSpec
from . import RuntimeUnsupported

LABEL = "sdconform.run"


def engine(host: str | None = None) -> Any:
    """A client of the engine ``DOCKER_HOST`` names; RuntimeUnsupported saying why not."""
    try:
        import docker
    except ImportError as e:
        raise RuntimeUnsupported(f"{e}: install the docker extra "
                                 "(pip install 'pytest-sdconform[docker]')") from e
    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
        client.ping()
    except Exception as e:
        where = host or os.environ.get("DOCKER_HOST") or "the default socket"
        raise RuntimeUnsupported(f"no Docker engine answers at {where} ({e}); start one, or "
                                 "`sdconform engine start` for a private one") from e
    return client


def elsewhere(url: str, info: Mapping[str, Any]) -> str | None:
    """Why an engine cannot see this machine's folders (None: it runs here). ``url``: its
    ``DOCKER_HOST`` ("" for the default socket); ``info``: what the engine says of itself."""
    if url and not url.startswith("unix://"):
        return f"the engine at {url} is on another machine"
    if "Docker Desktop" in str(info.get("OperatingSystem", "")):
        return "the engine runs in Docker Desktop's VM"
    return None


def shared_unavailable(url: str, spec: NodeSpec) -> str | None:
    """Why a node cannot read the host folders its spec shares (None: it can). An engine on
    another machine has none of them; Docker Desktop shares the Mac's folders with its VM, but
    a Mac's Python interpreter does not run in a Linux container."""
    if not spec.shared:
        return None
    if url and not url.startswith(("unix://", "npipe://")):
        return (f"{spec.name} reads folders of this machine ({', '.join(map(str, spec.shared))}), "
                f"which the engine at {url} cannot mount")
    if spec.image == "python" and sys.platform != "linux":
        return (f"{spec.name} runs this machine's Python interpreter, which is a {sys.platform} "
                "one: it cannot run in a Linux container")
    return None


def remove_labelled(client: Any, run_id: str) -> list[str]:
    """Remove the containers, volumes and networks labelled with a run (what cleanup calls)."""
    removed = []
    selector = {"label": f"{LABEL}={run_id}"}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True)
        removed.append(f"container {container.name}")
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)
        removed.append(f"volume {volume.name}")
    for network in client.networks.list(filters=selector):
        network.remove()
        removed.append(f"network {network.name}")
    return removed
