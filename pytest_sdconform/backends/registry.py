"""The backends this package has: every subpackage of ``backends`` with a ``provision``.

Nothing outside a backend names a database: ``sdconform provision`` and the plugin ask here.
A new backend is found by being a package of the backend shape (``__init__.py`` exposing
``Topology`` and ``provision``).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from .. import backends


def names() -> list[str]:
    """Every backend's name (its package's), sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(backends.__path__) if m.ispkg)


def load(name: str) -> ModuleType:
    """A backend's package; ValueError naming the known ones for an unknown name."""
    if name not in names():
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(names())}")
    module = importlib.import_module(f"{backends.__name__}.{name}")
    for needed in ("Topology", "provision"):
        if not hasattr(module, needed):
            raise TypeError(f"backend {name} ({module.__file__}) has no {needed}")
    return module


def provision(name: str) -> object:
    """Build or install what ``name``'s nodes need (idempotent); what it says it provided, if
    anything (a path, or why there is nothing to provide, as MongoDB's says)."""
    provided: object = load(name).provision()
    return provided
