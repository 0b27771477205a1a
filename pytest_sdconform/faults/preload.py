"""LD_PRELOAD libraries for clock skew: getting them (libfaketime, our shim) and reading a binary's
ELF to know what it is (Go, static, jemalloc, JVM...) and so which library it can take.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import struct
import subprocess
from pathlib import Path

from ..provision import ProvisionError, apt_install, cache_dir, progress, run_logged
from . import FaultUnavailable

SHIM_SOURCE = Path(__file__).with_name("clockshim.c")
SHIM_FLAGS = ("-O2", "-shared", "-fPIC", "-Wall")
LIBFAKETIME_GLOBS = (
    "/usr/lib/*/faketime/libfaketime.so.1",  # Debian, multiarch
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",  # built from source
)
PT_INTERP, SHT_DYNSYM, SHN_UNDEF = 3, 11, 0


def find_libfaketime() -> Path | None:
    for pattern in LIBFAKETIME_GLOBS:
        for found in sorted(glob.glob(pattern)):
            return Path(found)
    return None


def libfaketime_library() -> Path:
    """libfaketime, installed with apt on first use; FaultUnavailable if that cannot be done."""
    found = find_libfaketime()
    if found is None:
        try:
            apt_install(["faketime"])
        except ProvisionError as e:
            raise FaultUnavailable(f"clock skew with libfaketime: {e}") from e
        found = find_libfaketime()
    if found is None:
        raise FaultUnavailable(f"libfaketime.so.1 not found in {', '.join(LIBFAKETIME_GLOBS)}")
    remove_stale_faketime_shm()
    return found


def shim_library() -> Path:
    """The shim, compiled into the cache, named by a hash of its source: an edit rebuilds it."""
    digest = hashlib.sha256(SHIM_SOURCE.read_bytes() + repr(SHIM_FLAGS).encode()).hexdigest()
    target = cache_dir() / "lib" / f"clockshim-{digest[:16]}.so"
    if target.exists():
        return target
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        try:
            apt_install(["gcc", "libc6-dev"], ["gcc"])
        except ProvisionError as e:
            raise FaultUnavailable(f"the clock shim needs a C compiler: {e}") from e
        compiler = shutil.which("gcc")
        if compiler is None:
            raise FaultUnavailable("the clock shim needs a C compiler (gcc) on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"building the clock skew shim from {SHIM_SOURCE.name} (first use only)")
    # Build beside the target and rename: parallel workers may build at the same time.
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    run_logged([compiler, *SHIM_FLAGS, "-o", str(partial), str(SHIM_SOURCE)], "gcc clockshim.c")
    partial.replace(target)
    return target


def remove_stale_faketime_shm(shm: Path = Path("/dev/shm")) -> list[Path]:
    """Remove what libfaketime 0.9.10 leaves in /dev/shm for every process that was killed or
    exec'd another program (a shell wrapper, setpriv): ``faketime_shm_PID`` and
    ``sem.faketime_sem_PID`` of processes that are gone. A pid that is reused later merely
    makes libfaketime skip its shared memory, which plain offsets do not need."""
    removed = []
    for path in shm.glob("*faketime_*_*"):
        pid = path.name.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass  # another user's, or removed by a concurrent run
    return removed


def resolve(binary: str | Path, depth: int = 0) -> Path:
    """The ELF file that runs for ``binary``: looked up on PATH, symlinks followed, and a script
    replaced by its interpreter (a script that execs another program must be named by it)."""
    found = shutil.which(str(binary)) or str(binary)
    path = Path(os.path.realpath(found))
    if not path.is_file():
        raise FaultUnavailable(f"clock skew: {binary} not found")
    with open(path, "rb") as fh:
        head = fh.read(256)
    if head.startswith(b"#!") and depth < 4:
        words = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
        if words and Path(words[0]).name == "env":
            words = [w for w in words[1:] if not w.startswith("-")]
        if not words:
            raise FaultUnavailable(f"clock skew: {binary} is a script without an interpreter")
        return resolve(words[0], depth + 1)
    return path


def read_elf(path: Path) -> tuple[bool, set[str], set[str], set[str]]:
    """(has a program interpreter, section names, imported and exported dynamic symbols)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if head[:4] != b"\x7fELF" or head[4:6] != b"\x02\x01":
            raise FaultUnavailable(f"clock skew: {path} is not a 64-bit little-endian ELF file")
        phoff, shoff = struct.unpack_from("<QQ", head, 32)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<5H", head, 54)
        fh.seek(phoff)
        phdrs = fh.read(phentsize * phnum)
        interp = any(
            struct.unpack_from("<I", phdrs, i * phentsize)[0] == PT_INTERP for i in range(phnum)
        )
        fh.seek(shoff)
        shdrs = fh.read(shentsize * shnum)
        # (name, type, flags, addr, offset, size, link): enough to find names and symbols
        sections = [struct.unpack_from("<IIQQQQI", shdrs, i * shentsize) for i in range(shnum)]

        def contents(index: int) -> bytes:
            fh.seek(sections[index][4])
            return fh.read(sections[index][5])

        def string(table: bytes, at: int) -> str:
            return table[at : table.find(b"\0", at)].decode(errors="replace")

        names_table = contents(shstrndx) if 0 < shstrndx < shnum else b""
        names = {string(names_table, s[0]) for s in sections}
        imported: set[str] = set()
        exported: set[str] = set()
        for index, section in enumerate(sections):
            if section[1] != SHT_DYNSYM:
                continue
            symbols, strings = contents(index), contents(section[6])
            for at in range(24, len(symbols), 24):  # Elf64_Sym is 24 bytes; entry 0 is null
                name, _info, _other, shndx = struct.unpack_from("<IBBH", symbols, at)
                if name:
                    (imported if shndx == SHN_UNDEF else exported).add(string(strings, name))
    return interp, names, imported, exported


def libraries(path: Path) -> list[Path]:
    """The shared libraries the loader maps for ``path``, transitively (from ``ldd``)."""
    try:
        ldd = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        # Without the list a jemalloc server would be given libfaketime, and hang.
        raise FaultUnavailable(f"clock skew: cannot list the libraries of {path}: {e}") from e
    out = ldd.stdout
    found = []
    for line in out.splitlines():
        words = line.split()
        candidates = [words[2]] if "=>" in words and len(words) > 2 else words[:1]
        found += [Path(w) for w in candidates if w.startswith("/") and Path(w).is_file()]
    return found


def binary_traits(binary: str | Path) -> set[str]:
    """What matters about a binary for clock skew: ``go``, ``static``, ``jemalloc``, ``jvm``,
    ``clock_nanosleep`` (it or a library it loads imports that function), ``getenv`` (it
    defines its own, as bash does)."""
    path = resolve(binary)
    interp, sections, undefined, exported = read_elf(path)
    traits = {"getenv"} & exported
    if sections & {".note.go.buildid", ".go.buildinfo"}:
        traits.add("go")
    if not interp:  # a static-pie binary has no interpreter either
        return traits | {"static"}
    libs = libraries(path)
    names = {lib.name for lib in libs}
    if any(n.startswith("libjemalloc") for n in names):
        traits.add("jemalloc")
    if any(n.startswith(("libjli", "libjvm")) for n in names):
        traits.add("jvm")
    for lib in [path, *libs]:
        if "clock_nanosleep" in (undefined if lib == path else read_elf(lib)[2]):
            traits.add("clock_nanosleep")
            break
    return traits
