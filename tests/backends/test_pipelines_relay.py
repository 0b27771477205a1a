"""The relay's parsing of logical decoding output, and the relay topology's checks."""

from __future__ import annotations

import pytest

from pytest_sdconform.backends.pipelines import Topology
from pytest_sdconform.backends.pipelines.relay import CHANGE


def test_test_decoding_row_changes_of_the_captured_table_are_parsed() -> None:
    m = CHANGE.match("table public.cdc: UPDATE: k[text]:'g1' v[bigint]:42")
    assert m is not None and m.groups() == ("g1", "42")
    m = CHANGE.match("table public.cdc: INSERT: k[text]:'g0' v[bigint]:-7")
    assert m is not None and m.groups() == ("g0", "-7")


@pytest.mark.parametrize("line", [
    "BEGIN 1234", "COMMIT 1234", "table public.cdc: DELETE: k[text]:'g1'",
    "table public.outbox: INSERT: id[bigint]:1 aggregate[text]:'g1' value[bigint]:3",
])
def test_other_decoding_lines_are_not_row_images(line: str) -> None:
    assert CHANGE.match(line) is None


def test_a_relay_topology_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="relay mode 'mirror'"):
        Topology(mode="mirror", pg="127.0.0.1", kafka="k:9092", topic="t")
    with pytest.raises(ValueError, match="needs kafka"):
        Topology(mode="outbox", kafka="k:9092", topic="t")
    publishers = Topology(mode="publish", kafka="k:9092", topic="t", publishers=3)
    assert publishers.node_names("local") == ["p1", "p2", "p3"]
    assert Topology(mode="cdc", pg="a", kafka="k", topic="t").node_names("local") == ["relay"]
