"""Reading heap pages of ``sets (k text, v bigint)`` as PostgreSQL lays them out on disk."""

from __future__ import annotations

import struct

import pytest

from pytest_sdconform.backends.postgres.heap import (
    PAGE,
    HeapError,
    expand,
    ranges,
    set_values,
)


def tuple_bytes(key: str, value: int, long_header: bool = False) -> bytes:
    """A heap tuple: a 24-byte header (t_hoff = 24), the key as a varlena, the bigint
    aligned to 8 bytes from the data's start (which is where the tuple starts + 24)."""
    header = bytearray(24)
    header[22] = 24
    raw = key.encode()
    if long_header:  # a four-byte varlena header, int-aligned (the data start already is)
        body = struct.pack("<I", (len(raw) + 4) << 2) + raw
    else:
        body = bytes([((len(raw) + 1) << 1) | 1]) + raw
    body += bytes(-len(body) % 8) + struct.pack("<q", value)
    return bytes(header) + body


def page(tuples: list[bytes], dead: int = 0) -> bytes:
    """Tuples packed from the end of the page, their line pointers after the header;
    ``dead``: that many extra line pointers marked unused (LP_UNUSED)."""
    buf = bytearray(PAGE)
    upper = PAGE
    pointers = []
    for t in tuples:
        upper = (upper - len(t)) & ~7
        buf[upper:upper + len(t)] = t
        pointers.append(upper | (1 << 15) | (len(t) << 17))
    pointers += [0] * dead
    lower = 24 + 4 * len(pointers)
    struct.pack_into("<HHHH", buf, 12, lower, upper, PAGE, PAGE | 4)
    for i, lp in enumerate(pointers):
        struct.pack_into("<I", buf, 24 + 4 * i, lp)
    return bytes(buf)


def test_set_values_reads_every_tuple_and_skips_empty_pages() -> None:
    data = (page([tuple_bytes("set:0", 1), tuple_bytes("set:0", 2)], dead=1)
            + bytes(PAGE)  # a page the file was extended by, never initialised
            + page([tuple_bytes("set:0", 3, long_header=True)]) + b"\0" * 100)  # a torn tail
    assert set_values(data) == [1, 2, 3]


def test_set_values_refuses_what_is_not_a_heap_page() -> None:
    bad = bytearray(page([tuple_bytes("set:0", 1)]))
    struct.pack_into("<H", bad, 18, 0x1004)  # not an 8 kB page
    with pytest.raises(HeapError, match="not a heap page"):
        set_values(bytes(bad))


def test_ranges_round_trip() -> None:
    values = [5, 1, 2, 3, 9, 10]
    assert ranges(values) == [[1, 3], [5, 5], [9, 10]]
    assert expand(ranges(values)) == set(values)
