"""Container images for the docker runtime, built without any registry where root can run
debootstrap.

A node's spec names the ``image`` role it needs (``redis``, ``postgres``, ``nginx``, ``java``,
``python``); the docker runtime runs it in that role's image, built on first use (``ensure``).
``sdconform images build`` makes them ahead: a Debian base from ``debootstrap`` (imported as
``sdconform/debian:bookworm``; where debootstrap cannot run, Debian's official image pulled
from the engine's registry), then one image per role from Debian packages, so that every
binary sits where the local runtime finds it
(``/usr/lib/postgresql/15/bin``, ``redis-server`` on the PATH...) and a spec's command runs
unchanged in either place. Java and Python nodes read their jars or the harness's own package
from the host, mounted read-only at the same paths (``NodeSpec.shared``). ``--sdconform-image
role=name:tag`` runs a role in another image (an official one, where it is laid out the same).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..progress import progress
from ..provision import ProvisionError, apt_install

BASE = "sdconform/debian:bookworm"
OFFICIAL_BASE = "debian:bookworm-slim"  # the base where debootstrap cannot run
MIRROR = "http://deb.debian.org/debian"
VERSION = "1"  # bump when a role's packages change
LABEL = "sdconform.image"

# Role -> the Debian packages its image adds to the base. Every image has util-linux (setpriv,
# for nodes that run as another user) and iproute2 + iptables (faults from inside a node).
# "net" is the image of the containers that hold each node's network namespace (and run the
# partition rules and probes in it): it is built with every role, and a node in any other
# image (an official one) still gets its network from ours.
COMMON = ["ca-certificates", "iproute2", "iptables", "procps", "util-linux"]
NET_ROLE = "net"
ROLES: dict[str, list[str]] = {
    NET_ROLE: [],
    "redis": ["redis-server", "redis-tools", "redis-sentinel"],
    "memcached": ["memcached"],
    "postgres": ["postgresql-15"],
    "nginx": ["nginx-light"],
    "java": ["openjdk-17-jre-headless"],
    "python": ["python3"],
}


# Roles whose server no Debian package ships: their official image, pinned, pulled through the
# engine (never built here; where the engine reaches no registry, the role cannot run).
OFFICIAL: dict[str, str] = {"mongodb": "mongo:7.0.14"}


def tag(role: str) -> str:
    if role in OFFICIAL:
        return OFFICIAL[role]
    if role not in ROLES:
        raise ValueError(f"unknown image role {role!r}; known: {', '.join([*ROLES, *OFFICIAL])}")
    return f"sdconform/{role}:{VERSION}"


def dockerfile(role: str) -> str:
    packages = " ".join(COMMON + ROLES[role])
    return (
        f"FROM {BASE}\n"
        f"LABEL {LABEL}={role}\n"
        "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
        f"--no-install-recommends {packages} >/dev/null && rm -rf /var/lib/apt/lists/*\n"
    )


def have(client: Any, name: str) -> bool:
    import docker.errors

    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def debootstrap_unavailable() -> str | None:
    """Why the base cannot be made here with debootstrap (None: it can)."""
    if sys.platform != "linux":
        return f"debootstrap needs Linux, and this is {sys.platform}"
    if os.geteuid() != 0:
        return "debootstrap needs root"
    return None


def build_base(client: Any, mirror: str = MIRROR) -> None:
    """``debootstrap --variant=minbase bookworm`` into a scratch folder, imported as BASE; where
    debootstrap cannot run (a Mac, a CI runner's user without root), Debian's official
    ``debian:bookworm-slim`` from the engine's registry, tagged as BASE: the same release, so
    every role's packages and paths are the same."""
    why = debootstrap_unavailable()
    if why:
        progress(f"images: {why}; pulling {OFFICIAL_BASE} as the base instead")
        try:
            image = client.images.pull(*OFFICIAL_BASE.split(":"))
        except Exception as e:
            raise ProvisionError(f"{why}, and pulling {OFFICIAL_BASE} failed: {e}") from e
        repository, version = BASE.split(":")
        image.tag(repository, version)
        return
    if shutil.which("debootstrap") is None:
        apt_install(["debootstrap"], ["debootstrap"])
    with tempfile.TemporaryDirectory(prefix="sdconform-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        progress(f"images: debootstrap bookworm from {mirror} (about 40 s)")
        done = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs),
                               mirror], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ProvisionError(f"debootstrap failed: {done.stdout[-1500:]}{done.stderr[-500:]}")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True,
                             check=True).stdout
        repository, version = BASE.split(":")
        client.api.import_image_from_data(tar, repository=repository, tag=version,
                                          changes=['CMD ["bash"]'])


def build(client: Any, roles: Iterable[str] | None = None, force: bool = False) -> list[str]:
    """Build the base (when missing) and each role's image (when missing, or ``force``);
    returns the tags built."""
    built = []
    if force or not have(client, BASE):
        build_base(client)
        built.append(BASE)
    wanted = list(roles or ROLES)
    for role in [NET_ROLE, *(r for r in wanted if r != NET_ROLE)]:
        name = tag(role)
        if have(client, name) and not force:
            continue
        progress(f"images: building {name} ({', '.join(ROLES[role] or COMMON)})")
        try:
            client.images.build(fileobj=io.BytesIO(dockerfile(role).encode()), tag=name,
                                rm=True, forcerm=True, pull=False)
        except Exception as e:  # BuildError, APIError: the message has the failing step
            raise ProvisionError(f"building {name}: {e}") from e
        built.append(name)
    return built


def ensure(client: Any, role: str, overrides: Mapping[str, str] | None = None) -> str:
    """The image a role runs in, made available: ours built on first use (the base too), or
    the user's pulled when the engine does not have it. ProvisionError saying what failed."""
    name = resolve(role, overrides)
    if have(client, name):
        return name
    if name == tag(role) and role not in OFFICIAL:
        build(client, [role])
        return name
    progress(f"images: pulling {name} for the {role} role")
    try:
        client.images.pull(name)
    except Exception as e:
        raise ProvisionError(f"the {role} role's image {name} is not in the engine and could "
                             f"not be pulled: {e}") from e
    return name


def resolve(role: str, overrides: Mapping[str, str] | None = None) -> str:
    """The image a role runs in: the user's override, or ours."""
    return (overrides or {}).get(role) or tag(role)
