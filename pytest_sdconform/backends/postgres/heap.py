"""Reading a PostgreSQL heap file as it lies on disk: which rows of ``sets (k text, v bigint)``
its pages hold. Used by the power-cut fault to show what the data files kept: the page layout
(PageHeaderData, ItemIdData, HeapTupleHeaderData) is PostgreSQL's on-disk format
(``bufpage.h``, ``itemid.h``, ``htup_details.h``), 8 kB pages, version 4."""

from __future__ import annotations

import struct
from collections.abc import Iterable

PAGE = 8192
HEADER = 24  # PageHeaderData
LP_NORMAL = 1
T_HOFF = 22  # offsetof(HeapTupleHeaderData, t_hoff)


class HeapError(ValueError):
    """Bytes that are not a heap page of the expected layout."""


def set_values(data: bytes) -> list[int]:
    """The ``v`` of every tuple (live or dead: a heap file keeps both) on the pages of one
    segment of ``sets``; pages never initialised (all zero, as a file is extended) are
    skipped. A partial last page (a file cut mid-page) is ignored."""
    values = []
    for start in range(0, len(data) - PAGE + 1, PAGE):
        page = data[start:start + PAGE]
        lower, upper, _special, size_version = struct.unpack_from("<HHHH", page, 12)
        if lower == 0 and upper == 0:
            continue
        if size_version != PAGE | 4 or not HEADER <= lower <= upper <= PAGE:
            raise HeapError(f"page {start // PAGE}: not a heap page (pd_lower {lower}, "
                            f"pd_upper {upper}, size/version {size_version:#x})")
        for item in range(HEADER, lower, 4):
            (lp,) = struct.unpack_from("<I", page, item)
            off, flags, length = lp & 0x7FFF, (lp >> 15) & 3, lp >> 17
            if flags == LP_NORMAL and length:
                values.append(_value(page, off, start // PAGE))
    return values


def _value(page: bytes, off: int, number: int) -> int:
    pos = off + page[off + T_HOFF]
    first = page[pos]
    if first & 1 and first != 1:  # a short varlena: a one-byte header, never aligned
        pos += first >> 1
    else:  # padding up to int alignment, then a four-byte header
        pos = (pos + 3) & ~3
        (header,) = struct.unpack_from("<I", page, pos)
        if header & 3:
            raise HeapError(f"page {number}: tuple at {off}: a compressed or external key")
        pos += header >> 2
    pos = (pos + 7) & ~7  # bigint: double alignment
    if pos + 8 > PAGE:
        raise HeapError(f"page {number}: tuple at {off} runs past the page")
    (value,) = struct.unpack_from("<q", page, pos)
    return int(value)


def ranges(values: Iterable[int]) -> list[list[int]]:
    """Sorted values as inclusive ``[first, last]`` runs: a compact record of many rows."""
    out: list[list[int]] = []
    for v in sorted(set(values)):
        if out and v == out[-1][1] + 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


def expand(runs: Iterable[Iterable[int]]) -> set[int]:
    """The values of ``ranges``' runs."""
    out: set[int] = set()
    for run in runs:
        first, last = run
        out.update(range(int(first), int(last) + 1))
    return out
