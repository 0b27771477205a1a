"""History file formats: ours (JSON Lines), Jepsen EDN, and the public test corpora's formats."""

from __future__ import annotations

import os

from ..history import History, HistoryError
from . import jepsen, jsonl, knossos, porcupine

FORMATS = ("auto", "jsonl", "porcupine-etcd", "porcupine-kv", "knossos-edn", "jepsen-edn")


def detect(path: str, head: str) -> str:
    """Guess a file's format from its first non-blank characters (and its name)."""
    first = next((ln.strip() for ln in head.splitlines() if ln.strip()), "")
    if first.startswith("INFO") and "jepsen.util" in first:
        return "porcupine-etcd"
    if first.startswith("{:process"):
        return "porcupine-kv"
    if first.startswith(jepsen.HEADER):
        return "jepsen-edn"
    if first.startswith(("[", "(", ";")) or path.endswith(".edn"):
        return "knossos-edn"
    if first.startswith("{") or not first:
        return "jsonl"
    raise HistoryError(f"cannot tell the history format from {first[:40]!r}; use --format", path, 1)


def parse(text: str, fmt: str = "auto", path: str | None = None) -> History:
    if fmt == "auto":
        fmt = detect(path or "", text[:4096])
    if fmt == "jsonl":
        return jsonl.parse(text.splitlines(), path)
    if fmt == "porcupine-etcd":
        return porcupine.parse_etcd(text, path)
    if fmt == "porcupine-kv":
        return porcupine.parse_kv(text, path)
    if fmt == "knossos-edn":
        return knossos.parse(text, path)
    if fmt == "jepsen-edn":
        return jepsen.parse(text, path)
    raise HistoryError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", path)


def read_history(path: str | os.PathLike[str], fmt: str = "auto") -> History:
    """Read a history file in any supported format; bad input raises HistoryError."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise HistoryError(f"cannot read: {e.strerror}", path) from None
    except UnicodeDecodeError:
        raise HistoryError("not a text file (UTF-8 expected)", path) from None
    history = parse(text, fmt, path)
    history.complete()  # raises, with the line, on a completion without an invocation
    return history
