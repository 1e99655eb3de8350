"""memory/scan.py (the bulk walks search uses) and the kdump reader's bulk read, against the
page-at-a-time paths on real dumps."""

from __future__ import annotations

from crashpy.arch.x86_64 import PAGE_SIZE
from crashpy.errors import FaultError
from crashpy.memory.scan import mapped_runs, readable_chunks
from tests.crashpy_runner import program
from tools.vmcores import ensure


def _page_or_none(prog, paddr):  # type: ignore[no-untyped-def]
    try:
        return prog.physical.read(paddr, PAGE_SIZE)
    except FaultError:
        return None


def test_readable_chunks_are_the_readable_pages() -> None:
    """Every page readable_chunks gives is the page a single read gives, and every readable page of
    the range is among them (a -d 31 dump: excluded pages in between)."""
    paths = ensure(["sysrq.d31.zlib"])
    prog = program(paths["vmlinux"], paths["sysrq.d31.zlib"])
    start, end = 0x1000000, 0x1000000 + 0x800000
    got: dict[int, bytes] = {}
    for paddr, data in readable_chunks(prog.physical, start, end, chunk=0x40000):
        assert paddr % PAGE_SIZE == 0 and len(data) % PAGE_SIZE == 0
        for k in range(0, len(data), PAGE_SIZE):
            got[paddr + k] = data[k : k + PAGE_SIZE]
    want = {p: d for p in range(start, end, PAGE_SIZE) if (d := _page_or_none(prog, p)) is not None}
    assert got == want and want


def test_bulk_kdump_read_equals_page_reads() -> None:
    paths = ensure(["scale.d31.zlib"])
    prog = program(paths["vmlinux"], paths["scale.d31.zlib"])
    dump = prog.physical.dump
    (lo, hi), *_ = [r for r in dump.dumped_ranges() if r[1] - r[0] >= 16 * PAGE_SIZE]  # type: ignore[attr-defined]
    whole = dump.read(lo + 100, 12 * PAGE_SIZE)
    pieces = b"".join(dump.read(lo + 100 + k * 512, 512) for k in range(12 * PAGE_SIZE // 512))
    assert whole == pieces


def test_mapped_runs_agree_with_translate() -> None:
    """The vmalloc space's runs map what a single walk maps, page for page (five levels too)."""
    for name in ("sysrq.elf", "la57.elf"):
        paths = ensure([name])
        prog = program(paths["vmlinux"], paths[name])
        lay = prog.layout
        start = lay.vmalloc_start
        runs = list(mapped_runs(prog.physical.read, prog.kernel_pgd, lay.levels, start, start + (1 << 30)))
        assert runs
        for v, p, n in runs[:50]:
            for off in (0, n - PAGE_SIZE):
                assert prog.kernel.translate(v + off).paddr == p + off
            before = prog.kernel.translate(v - PAGE_SIZE)
            assert before.paddr != p - PAGE_SIZE or v == start
