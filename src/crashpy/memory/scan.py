"""Bulk walks for commands that visit much of memory (search): the readable stretches of a physical
range, read in large pieces, and the mapped stretches of a virtual range, found by reading whole
page-table pages rather than walking one address at a time."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence

from crashpy.arch.x86_64 import PAGE_SIZE, PTE_PHYS_MASK, PTE_PRESENT, PTE_PSE, PagingLevel
from crashpy.errors import FaultError
from crashpy.memory.physical import PhysicalMemory

CHUNK = 1 << 20  # bytes read at once from a readable stretch
_PAGE_MASK = ~(PAGE_SIZE - 1)


def _dump_ranges(phys: PhysicalMemory) -> tuple[list[tuple[int, int]], list[int]]:
    """The physical ranges worth trying, and their ends (for bisect): the dumped pages where the
    reader can tell them (unless excluded pages read as zeros), else every range the dump describes.
    Kept on the PhysicalMemory, per zero_excluded setting."""
    key = "_scan_ranges_zero" if phys.zero_excluded else "_scan_ranges"
    cached: tuple[list[tuple[int, int]], list[int]] | None = getattr(phys, key, None)
    if cached is None:
        dump = phys.dump
        dumped = getattr(dump, "dumped_ranges", None)
        ranges: list[tuple[int, int]] = (
            dumped() if dumped is not None and not phys.zero_excluded else dump.ranges()
        )
        cached = (ranges, [hi for _, hi in ranges])
        setattr(phys, key, cached)
    return cached


def readable_chunks(
    phys: PhysicalMemory, start: int, end: int, chunk: int = CHUNK
) -> Iterator[tuple[int, bytes]]:
    """(paddr, data) for every readable stretch of [start, end), in address order, in pieces of at most
    `chunk` bytes; pages that cannot be read (not in the dump, excluded, cut off) are left out."""
    if start >= end:
        return
    ranges, ends = _dump_ranges(phys)
    for k in range(bisect.bisect_right(ends, start), len(ranges)):
        lo, hi = ranges[k]
        if lo >= end:
            break
        a, b = max(lo, start), min(hi, end)
        cur = a
        while cur < b:
            stop = min(b, (cur & _PAGE_MASK) + chunk)
            try:
                yield cur, phys.read(cur, stop - cur)
            except FaultError:
                yield from _page_by_page(phys, cur, stop)
            cur = stop


def _page_by_page(phys: PhysicalMemory, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    run_start, parts = start, bytearray()
    cur = start
    while cur < end:
        n = min(end, (cur & _PAGE_MASK) + PAGE_SIZE) - cur
        try:
            data = phys.read(cur, n)
        except FaultError:
            if parts:
                yield run_start, bytes(parts)
                parts = bytearray()
            run_start = cur + n
        else:
            if not parts:
                run_start = cur
            parts += data
        cur += n
    if parts:
        yield run_start, bytes(parts)


def _entries(read_phys: Callable[[int, int], bytes], table: int) -> list[int] | None:
    try:
        raw = read_phys(table, PAGE_SIZE)
    except FaultError:
        return None
    return list(memoryview(raw).cast("Q"))


def mapped_runs(
    read_phys: Callable[[int, int], bytes],
    root: int,
    levels: Sequence[PagingLevel],
    start: int,
    end: int,
    low_present: int = PTE_PRESENT,
) -> Iterator[tuple[int, int, int]]:
    """(vaddr, paddr, size) for the mapped parts of [start, end) under the tables rooted at `root`, in
    address order; a run is contiguous both virtually and physically.  `start` and `end` lie in one
    half of the address space; tables that cannot be read count as unmapped."""
    if start >= end:
        return
    top = levels[0]
    span = 1 << (top.shift + 9)
    base = start & ~(span - 1) & ((1 << 64) - 1)
    pending: list[int] = []  # the run being gathered: [vaddr, paddr, size]
    for v, p, n in _walk(read_phys, root & PTE_PHYS_MASK, levels, 0, base, start, end, low_present):
        if pending and pending[0] + pending[2] == v and pending[1] + pending[2] == p:
            pending[2] += n
            continue
        if pending:
            yield pending[0], pending[1], pending[2]
        pending = [v, p, n]
    if pending:
        yield pending[0], pending[1], pending[2]


def _walk(
    read_phys: Callable[[int, int], bytes],
    table: int,
    levels: Sequence[PagingLevel],
    depth: int,
    base: int,
    start: int,
    end: int,
    low_present: int,
) -> Iterator[tuple[int, int, int]]:
    level = levels[depth]
    size = 1 << level.shift
    entries = _entries(read_phys, table)
    if entries is None:
        return
    first = max(0, (start - base) >> level.shift) if start > base else 0
    last = min(511, (end - 1 - base) >> level.shift)
    leaf = depth == len(levels) - 1
    present = low_present if depth >= len(levels) - 2 else PTE_PRESENT
    for i in range(first, last + 1):
        value = entries[i]
        if not value & present:
            continue
        vaddr = base + (i << level.shift)
        if leaf or (level.huge and value & PTE_PSE):
            paddr = value & PTE_PHYS_MASK & ~(size - 1)
            lo, hi = max(vaddr, start), min(vaddr + size, end)
            yield lo, paddr + (lo - vaddr), hi - lo
        else:
            yield from _walk(
                read_phys, value & PTE_PHYS_MASK, levels, depth + 1, vaddr, start, end, low_present
            )
