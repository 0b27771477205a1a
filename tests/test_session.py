"""The session: shared clusters live beside the cases' own clusters without colliding."""

from __future__ import annotations

from pathlib import Path

from pytest_sdconform.session import Options, Session


class Recording:
    """A topology that only records the address block it was started on."""

    backend = "fake"

    def __init__(self, name: str):
        self.name = name

    def describe(self) -> dict[str, str]:
        return {"name": self.name}

    def start(self, run: object, block: object, **options: object) -> object:
        class Started:
            def stop(self) -> None:
                pass

        started = Started()
        started.block = block  # type: ignore[attr-defined]
        return started


def test_each_shared_cluster_has_an_address_block_of_its_own(tmp_path: Path) -> None:
    """A case's own cluster (on the session's block) must not collide with a shared one."""
    session = Session.create(Options(report=tmp_path / "run"))
    a = session.shared_cluster(Recording("a"))  # type: ignore[arg-type]
    b = session.shared_cluster(Recording("b"))  # type: ignore[arg-type]
    assert session.shared_cluster(Recording("a")) is a  # type: ignore[arg-type]
    prefixes = {a.block.prefix, b.block.prefix, session.block.prefix}  # type: ignore[attr-defined]
    assert len(prefixes) == 3
    session.close()
