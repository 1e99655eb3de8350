"""Bounded resources (issue 16): a dump with 64 GiB of physical address space, nearly all of it holes
or pages left out, opens as fast as a small one and reads in constant memory; nothing in the readers
is sized by the address space. The timings are loose bounds (a loaded CI machine), the figures for
the note come from benchmarks/."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from crashpy.dumpfile.sniff import open_dump
from crashpy.errors import FaultError
from tests.synth_dumps import PAGE, ElfSegment, elf_core, page_bytes, standard_notes, write

GIB = 1 << 30


def _sparse_elf(tmp_path: Path, segments: int) -> Path:
    """`segments` runs of present pages (16 each, or 1 for many segments) spread evenly over 64 GiB,
    each segment's p_memsz covering the hole up to the next (makedumpfile -E's left-out pages)."""
    stride = 64 * GIB // segments
    pages = 16 if segments < 64 else 1
    segs = []
    for k in range(segments):
        start = k * stride
        data = b"".join(page_bytes((start // PAGE) + i) for i in range(pages))
        segs.append(ElfSegment(start, data, memsz=stride))
    return write(tmp_path / f"sparse{segments}.elf", elf_core(segs, standard_notes()))


@pytest.mark.parametrize("segments", [1, 4096])
def test_64_gib_sparse_elf_opens_fast_in_little_memory(tmp_path: Path, segments: int) -> None:
    path = _sparse_elf(tmp_path, segments)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    dump = open_dump(str(path))
    opened = time.perf_counter() - t0
    stride = 64 * GIB // segments
    last = (segments - 1) * stride
    assert dump.read(last, 8) == page_bytes(last // PAGE)[:8]
    with pytest.raises(FaultError):
        dump.read(last + 100 * PAGE, 8)  # a left-out page: a one-line fault, not zeros
    t1 = time.perf_counter()
    for k in range(0, segments, max(1, segments // 256)):
        dump.read(k * stride, PAGE)
    reads = time.perf_counter() - t1
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    dump.close()
    assert opened < 1.0, f"open took {opened:.3f} s"
    assert reads < 1.0
    assert grown < 64 << 20, f"peak memory grew by {grown >> 20} MiB"
