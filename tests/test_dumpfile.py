"""The dump readers on small synthetic dumps (tests/synth_dumps.py): ELF, kdump-compressed, flattened."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

import synth_dumps as sd
from crashpy.dumpfile import open_dump, sniff
from crashpy.dumpfile.base import DumpFile
from crashpy.dumpfile.elf import ElfDump
from crashpy.dumpfile.flattened import FlattenedSource, open_flattened
from crashpy.dumpfile.kdump import KdumpCompressed
from crashpy.dumpfile.sniff import is_dump
from crashpy.dumpfile.source import BytesSource
from crashpy.errors import DumpFormatError, FaultError, FaultKind
from synth_dumps import PAGE

# RAM: pfns 0-159 and 256-599 (a hole at 160-255); makedumpfile-style exclusions inside, a run of
# zero pages, and the last page of RAM excluded (an ELF writer leaves it out: p_filesz < p_memsz).
EXCLUDED = {10, 11, 12, 300, 301, 599}
ZERO_PFNS = range(40, 60)


def make_memory() -> sd.Memory:
    mem = sd.Memory.layout([(0, 160), (256, 600)], excluded=EXCLUDED)
    for pfn in ZERO_PFNS:
        mem.pages[pfn] = bytes(PAGE)
    return mem


MEM = make_memory()
DUMPED = sorted(MEM.pages)
COMPRESSIONS = ["zlib", "lzo", "snappy", "zstd", None]


def check_fault(dump: DumpFile, paddr: int, size: int, kind: FaultKind, address: int) -> None:
    with pytest.raises(FaultError) as err:
        dump.read(paddr, size)
    assert err.value.kind is kind, (hex(paddr), err.value.kind)
    assert err.value.address == address, (hex(err.value.address), hex(address))


def check_memory(dump: DumpFile, excluded_kind: FaultKind = FaultKind.EXCLUDED) -> None:
    """Every page, cross-page reads, excluded pages and holes."""
    for pfn in DUMPED:
        assert dump.read(pfn * PAGE, PAGE) == MEM.pages[pfn], pfn
    # unaligned, across page boundaries
    assert dump.read(5 * PAGE - 100, 300) == MEM.read(5 * PAGE - 100, 300)
    assert dump.read(3 * PAGE + 7, 3 * PAGE) == MEM.read(3 * PAGE + 7, 3 * PAGE)
    assert dump.read(400 * PAGE + 4095, 1) == MEM.read(400 * PAGE + 4095, 1)
    assert dump.read(0, 0) == b""
    # into an excluded page: crash names the start of the page-sized chunk that failed
    check_fault(dump, 9 * PAGE + 4000, 200, excluded_kind, 10 * PAGE)
    check_fault(dump, 11 * PAGE + 8, 8, excluded_kind, 11 * PAGE + 8)
    check_fault(dump, 599 * PAGE, 8, excluded_kind, 599 * PAGE)


def check_notes(dump: DumpFile) -> None:
    info = dump.info
    assert info.vmcoreinfo == sd.VMCOREINFO
    assert info.nr_cpus == 2
    cores = [n for n in info.notes if n.name == "CORE" and n.type == 1]
    assert len(cores) == 2
    assert struct.unpack_from("<I", cores[1].desc, 32)[0] == 101
    assert sum(1 for n in info.notes if n.name == "QEMU") == 2


# -- ELF ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["qemu", "kernel", "pn_xnum"])
def test_elf(tmp_path: Path, layout: str) -> None:
    data = sd.elf_from_memory(MEM, qemu_layout=layout != "kernel", pn_xnum=layout == "pn_xnum")
    path = sd.write(tmp_path / "vmcore", data)
    with open_dump(str(path)) as dump:
        assert isinstance(dump, ElfDump)
        assert dump.info.format == "ELF"
        assert not dump.info.incomplete
        check_memory(dump)
        check_notes(dump)
        # the hole between the RAM runs: crash's ELF reader says "read error"
        check_fault(dump, 160 * PAGE, 8, FaultKind.NOT_PRESENT, 160 * PAGE)
        check_fault(dump, 160 * PAGE - 8, 16, FaultKind.NOT_PRESENT, 160 * PAGE)
        check_fault(dump, 1 << 40, 8, FaultKind.NOT_PRESENT, 1 << 40)
        assert dump.ranges() == [(0, 160 * PAGE), (256 * PAGE, 600 * PAGE)]
        assert dump.info.max_pfn == 600


def test_elf_overlapping_segments(tmp_path: Path) -> None:
    """/proc/vmcore has a kernel-text PT_LOAD that repeats part of a RAM PT_LOAD."""
    ram = b"".join(sd.page_bytes(p) for p in range(16))
    segs = [sd.ElfSegment(0x4000, ram[0x4000:0x8000], vaddr=0xFFFFFFFF81000000), sd.ElfSegment(0, ram)]
    dump = ElfDump(BytesSource(sd.elf_core(segs, sd.standard_notes())))
    assert dump.read(0, len(ram)) == ram
    assert dump.ranges() == [(0, len(ram))]


def test_elf_truncated(tmp_path: Path) -> None:
    data = sd.elf_from_memory(MEM)
    cut_pfn = 450
    cut = ElfDump(BytesSource(data)).file_offset(cut_pfn * PAGE + 100)  # mid-page
    assert cut is not None
    dump = open_dump(str(sd.write(tmp_path / "vmcore", data[:cut])))
    assert dump.info.incomplete
    assert any("may be truncated or incomplete" in w for w in dump.warnings)  # type: ignore[attr-defined]
    check_notes(dump)
    assert dump.read(0, PAGE) == MEM.pages[0]
    # the page holding the cut, and everything after it, is incomplete; the hole is still a hole
    assert dump.read((cut_pfn - 1) * PAGE, PAGE) == MEM.pages[cut_pfn - 1]
    assert dump.read(cut_pfn * PAGE, 100) == MEM.pages[cut_pfn][:100]
    check_fault(dump, cut_pfn * PAGE, PAGE, FaultKind.TRUNCATED, cut_pfn * PAGE)
    check_fault(dump, (cut_pfn - 1) * PAGE + 10, 2 * PAGE, FaultKind.TRUNCATED, cut_pfn * PAGE)
    check_fault(dump, 598 * PAGE, 8, FaultKind.TRUNCATED, 598 * PAGE)
    check_fault(dump, 599 * PAGE, 8, FaultKind.EXCLUDED, 599 * PAGE)
    check_fault(dump, 200 * PAGE, 8, FaultKind.NOT_PRESENT, 200 * PAGE)
    dump.close()


def test_elf_errors(tmp_path: Path) -> None:
    data = sd.elf_from_memory(MEM)
    with pytest.raises(DumpFormatError, match="notes .* past the end of the file"):
        ElfDump(BytesSource(data[:600], "cut"))  # program headers there, notes cut
    with pytest.raises(DumpFormatError, match="program headers .* past the end of the file"):
        ElfDump(BytesSource(data[:200], "cut"))
    vmlinux = sd.elf_core([], [], e_type=2)
    path = sd.write(tmp_path / "vmlinux", vmlinux)
    with pytest.raises(DumpFormatError, match=r"vmlinux: not a supported file format \(ELF an executable"):
        open_dump(str(path))
    process_core = sd.elf_core([sd.ElfSegment(0, bytes(PAGE))], [sd.note("CORE", 6, bytes(16))])
    with pytest.raises(DumpFormatError, match="the ELF core of a process"):
        ElfDump(BytesSource(process_core, "core"))
    bad = bytearray(data)
    struct.pack_into("<H", bad, 56, 0)  # e_phnum 0
    with pytest.raises(DumpFormatError, match="0 program headers"):
        ElfDump(BytesSource(bytes(bad), "bad"))


# -- kdump-compressed -----------------------------------------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_kdump(tmp_path: Path, compression: str | None) -> None:
    path = sd.write(tmp_path / "vmcore", sd.kdump(MEM, compression))
    with open_dump(str(path)) as dump:
        assert isinstance(dump, KdumpCompressed)
        info = dump.info
        assert info.format == "KDUMP"
        assert info.compression == compression
        assert info.dump_level == 31
        assert info.timestamp == 1_700_000_000
        assert info.utsname["release"] == "6.1.0-synthetic"
        assert info.max_pfn == 600
        assert not info.incomplete
        assert dump.phys_base == 0x1000000
        check_memory(dump)
        check_notes(dump)
        # crash's diskdump reader: a pfn not in the 1st bitmap, or past max_mapnr, is a "seek error"
        check_fault(dump, 160 * PAGE, 8, FaultKind.SEEK, 160 * PAGE)
        check_fault(dump, 600 * PAGE, 8, FaultKind.SEEK, 600 * PAGE)
        check_fault(dump, 1 << 45, 8, FaultKind.SEEK, 1 << 45)
        assert dump.ranges() == [(0, 160 * PAGE), (256 * PAGE, 600 * PAGE)]
        # cached reads give the same bytes
        assert dump.read(7 * PAGE, PAGE) == dump.read(7 * PAGE, PAGE) == MEM.pages[7]


def test_kdump_message_wording(tmp_path: Path) -> None:
    dump = KdumpCompressed(BytesSource(sd.kdump(MEM)))
    with pytest.raises(FaultError) as err:
        dump.read(300 * PAGE, 8)
    assert str(err.value) == 'page excluded: physical address: 12c000  type: "64-bit PHYSADDR"'


def test_kdump_old_versions() -> None:
    for version in (1, 3, 5):
        dump = KdumpCompressed(BytesSource(sd.kdump(MEM, "zlib", header_version=version)))
        check_memory(dump)
        assert dump.info.vmcoreinfo == (sd.VMCOREINFO if version >= 3 else None)
        assert len(dump.info.notes) == (5 if version >= 4 else 0)
    disk = KdumpCompressed(BytesSource(sd.kdump(MEM, "zlib", signature=b"DISKDUMP")))
    assert disk.info.format == "DISKDUMP"
    check_memory(disk)


def test_kdump_incomplete_marks() -> None:
    """makedumpfile's own incomplete dumps: status flag, zero-offset descriptors."""
    data = sd.kdump(MEM, "zlib", incomplete_pfns=[400, 401], status_extra=sd.DUMP_DH_COMPRESSED_INCOMPLETE)
    dump = KdumpCompressed(BytesSource(data))
    assert dump.info.incomplete and dump.status_incomplete
    check_fault(dump, 400 * PAGE + 16, 8, FaultKind.INCOMPLETE, 400 * PAGE + 16)
    check_fault(dump, 399 * PAGE, 2 * PAGE, FaultKind.INCOMPLETE, 400 * PAGE)
    assert dump.read(402 * PAGE, PAGE) == MEM.pages[402]


def test_kdump_split() -> None:
    dump = KdumpCompressed(BytesSource(sd.kdump(MEM, "zlib", split=(100, 400))))
    assert dump.is_split
    for pfn in (100, 150, 260, 399):
        assert dump.read(pfn * PAGE, PAGE) == MEM.pages[pfn]
    check_fault(dump, 99 * PAGE, 8, FaultKind.SEEK, 99 * PAGE)
    check_fault(dump, 400 * PAGE, 8, FaultKind.SEEK, 400 * PAGE)
    assert dump.ranges() == [(100 * PAGE, 160 * PAGE), (256 * PAGE, 400 * PAGE)]


@pytest.mark.parametrize("compression", ["zlib", None])
def test_kdump_truncated(tmp_path: Path, compression: str | None) -> None:
    data = sd.kdump(MEM, compression)
    for fraction in (0.7, 0.4):
        dump = open_dump(str(sd.write(tmp_path / "vmcore", sd.truncate(data, fraction))))
        assert dump.info.incomplete
        check_notes(dump)
        assert dump.read(0, PAGE) == MEM.pages[0]
        good = incomplete = 0
        for pfn in DUMPED:
            try:
                assert dump.read(pfn * PAGE, PAGE) == MEM.pages[pfn]
                good += 1
            except FaultError as err:
                assert err.kind is FaultKind.TRUNCATED
                assert err.address == pfn * PAGE
                incomplete += 1
        assert good and incomplete
        check_fault(dump, 599 * PAGE, 8, FaultKind.EXCLUDED, 599 * PAGE)  # bitmaps still tell
        check_fault(dump, 200 * PAGE, 8, FaultKind.SEEK, 200 * PAGE)
        dump.close()


def test_kdump_truncated_in_tables() -> None:
    data = sd.kdump(MEM, "zlib")
    header = KdumpCompressed(BytesSource(data))
    # cut inside the page descriptor table: the first 50 descriptors survive
    dump = KdumpCompressed(BytesSource(data[: header.data_offset + 50 * 24 + 5]))
    assert dump.info.incomplete
    for i, pfn in enumerate(DUMPED[:60]):
        try:
            dump.read(pfn * PAGE, 8)
            raise AssertionError("read past the end of the file")
        except FaultError as err:
            assert err.kind is FaultKind.TRUNCATED, (i, err.kind)  # the data is gone too
    # cut inside the 2nd bitmap: bits before the cut still say excluded / hole / dumped-but-gone
    bm2_at = header.data_offset - len(header._bm2)
    dump = KdumpCompressed(BytesSource(data[: bm2_at + 40]))  # bits for pfns 0..319
    assert dump.info.incomplete and dump.warnings
    check_fault(dump, 10 * PAGE, 8, FaultKind.EXCLUDED, 10 * PAGE)
    check_fault(dump, 300 * PAGE, 8, FaultKind.EXCLUDED, 300 * PAGE)
    check_fault(dump, 200 * PAGE, 8, FaultKind.SEEK, 200 * PAGE)
    check_fault(dump, 5 * PAGE, 8, FaultKind.TRUNCATED, 5 * PAGE)
    check_fault(dump, 400 * PAGE, 8, FaultKind.TRUNCATED, 400 * PAGE)
    # cut in the 1st bitmap: only the header is left
    dump = KdumpCompressed(BytesSource(data[: bm2_at - 40]))
    check_fault(dump, 5 * PAGE, 8, FaultKind.TRUNCATED, 5 * PAGE)
    check_fault(dump, 590 * PAGE, 8, FaultKind.TRUNCATED, 590 * PAGE)
    # cut in the notes of the sub-header: opens, without notes
    dump = KdumpCompressed(BytesSource(data[: PAGE + 200]))
    assert dump.info.notes == [] and dump.info.incomplete
    with pytest.raises(DumpFormatError, match="cannot read dump header"):
        KdumpCompressed(BytesSource(data[:300], "cut"))


def _patch(data: bytes, fmt: str, offset: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("fmt", "offset", "value", "message"),
    [
        ("<i", 428, 3, "invalid block_size: 3"),
        ("<i", 428, 1 << 24, "invalid block_size"),
        ("<I", 436, 0, "invalid bitmap_blocks: 0"),
        ("<i", 432, -1, "invalid sub_hdr_size"),
        ("<Q", PAGE + 96, 0, "invalid max_mapnr: 0"),
        ("<Q", PAGE + 96, 1 << 60, "invalid max_mapnr"),
        ("<Q", PAGE + 96, 1 << 30, "too small for max_mapnr"),
        ("<q", PAGE + 48, 1 << 40, "ELF notes .* past the end of the file"),
        ("<q", PAGE + 32, 1 << 40, "VMCOREINFO .* past the end of the file"),
    ],
)
def test_kdump_corrupt(tmp_path: Path, fmt: str, offset: int, value: int, message: str) -> None:
    path = sd.write(tmp_path / "vmcore", _patch(sd.kdump(MEM), fmt, offset, value))
    with pytest.raises(DumpFormatError, match=message) as err:
        open_dump(str(path))
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))


def test_kdump_bad_page_data() -> None:
    data = bytearray(sd.kdump(MEM, "zlib"))
    dump = KdumpCompressed(BytesSource(bytes(data)))
    index = DUMPED.index(400)
    offset, size, _flags, _ = struct.unpack_from("<qIIQ", data, dump.data_offset + 24 * index)
    data[offset : offset + size] = b"\xff" * size  # not zlib any more
    struct.pack_into("<I", data, dump.data_offset + 24 * DUMPED.index(401) + 8, PAGE + 1)  # bad size
    struct.pack_into("<q", data, dump.data_offset + 24 * DUMPED.index(402), -5)  # bad offset
    dump = KdumpCompressed(BytesSource(bytes(data)))
    check_fault(dump, 400 * PAGE, 8, FaultKind.NOT_PRESENT, 400 * PAGE)  # crash: "read error"
    check_fault(dump, 401 * PAGE, 8, FaultKind.NOT_PRESENT, 401 * PAGE)
    check_fault(dump, 402 * PAGE, 8, FaultKind.SEEK, 402 * PAGE)
    assert dump.read(403 * PAGE, PAGE) == MEM.pages[403]


def test_kdump_rank_across_blocks() -> None:
    """Descriptor lookup past the first precomputed popcount block (4096 pfns), with sparse RAM."""
    mem = sd.Memory.layout([(0, 5000), (9000, 13000)], excluded=range(4090, 4200), random_every=1000)
    dump = KdumpCompressed(BytesSource(sd.kdump(mem, "zlib")))
    for pfn in (0, 4089, 4200, 4999, 9000, 12287, 12288, 12999):
        assert dump.read(pfn * PAGE, PAGE) == mem.pages[pfn], pfn
    check_fault(dump, 4100 * PAGE, 8, FaultKind.EXCLUDED, 4100 * PAGE)
    assert dump.ranges() == [(0, 5000 * PAGE), (9000 * PAGE, 13000 * PAGE)]


# -- flattened ------------------------------------------------------------------------------------


@pytest.mark.parametrize("inner", ["zlib", "lzo", "snappy", "zstd", None, "elf"])
def test_flattened(tmp_path: Path, inner: str | None) -> None:
    plain = sd.elf_from_memory(MEM) if inner == "elf" else sd.kdump(MEM, inner)
    path = sd.write(tmp_path / "vmcore.flat", sd.flatten(plain))
    assert sniff(str(path)) == "FLAT"
    with open_dump(str(path)) as dump:
        assert dump.info.format == "FLAT"
        assert isinstance(dump, ElfDump if inner == "elf" else KdumpCompressed)
        assert not dump.info.incomplete
        assert isinstance(dump.source, FlattenedSource)  # type: ignore[attr-defined]
        assert dump.source.size == len(plain)  # type: ignore[attr-defined]
        assert dump.source.pread(0, len(plain)) == plain  # type: ignore[attr-defined]
        check_memory(dump)
        check_notes(dump)
    assert isinstance(open_flattened(str(path)), ElfDump if inner == "elf" else KdumpCompressed)


def test_flattened_in_order_records() -> None:
    plain = sd.kdump(MEM, "zlib")
    src = FlattenedSource(BytesSource(sd.flatten(plain, seed=None, chunk=4096, rewrite_header=False)))
    assert src.complete and src.pread(0, len(plain)) == plain
    assert src.pread(len(plain) - 10, 100) == plain[-10:]
    assert src.pread(len(plain), 10) == b""


def _flat(records: list[tuple[int, bytes]], end: bool = True) -> bytes:
    out = bytearray(b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1)).ljust(4096, b"\0")
    for off, data in records:
        out += struct.pack(">qq", off, len(data)) + data
    if end:
        out += struct.pack(">qq", -1, 0)
    return bytes(out)


def test_flattened_overlaps_and_holes() -> None:
    records = [(0, b"a" * 10), (20, b"b" * 10), (5, b"c" * 10), (8, b"d" * 2), (28, b"e" * 4), (40, b"f")]
    want = bytearray(41)
    for off, data in records:
        want[off : off + len(data)] = data  # later records win; holes are zeros
    src = FlattenedSource(BytesSource(_flat(records)))
    assert src.complete and src.size == 41 and src.records == 6
    assert src.pread(0, 100) == bytes(want)
    for off in range(41):
        for n in (1, 3, 17):
            assert src.pread(off, n) == bytes(want[off : off + n]), (off, n)
    # a truncated stream: the holes are unknown, reads stop there
    cut = FlattenedSource(BytesSource(_flat(records, end=False)))
    assert not cut.complete and cut.warnings
    assert cut.pread(0, 100) == bytes(want[:15])
    assert cut.pread(20, 100) == bytes(want[20:32])
    assert cut.pread(16, 4) == b""
    # a record whose data is cut off keeps what is there
    part = FlattenedSource(BytesSource(_flat([(0, b"x" * 100)], end=False)[: 4096 + 16 + 60]))
    assert part.size == 60 and part.pread(0, 100) == b"x" * 60


@pytest.mark.parametrize("inner", ["zlib", "elf"])
def test_flattened_truncated(tmp_path: Path, inner: str) -> None:
    plain = sd.elf_from_memory(MEM) if inner == "elf" else sd.kdump(MEM, "zlib")
    flat = sd.flatten(plain, chunk=3000)
    dump = open_dump(str(sd.write(tmp_path / "vmcore.flat", sd.truncate(flat, 0.6))))
    assert dump.info.format == "FLAT" and dump.info.incomplete
    assert not dump.source.complete  # type: ignore[attr-defined]
    good = incomplete = 0
    for pfn in DUMPED:
        try:
            assert dump.read(pfn * PAGE, PAGE) == MEM.pages[pfn], pfn
            good += 1
        except FaultError as err:
            assert err.kind is FaultKind.TRUNCATED, (pfn, err.kind)
            incomplete += 1
    assert good and incomplete


def test_flattened_errors(tmp_path: Path) -> None:
    flat = sd.flatten(sd.kdump(MEM))
    with pytest.raises(DumpFormatError, match="no dump header"):
        open_dump(str(sd.write(tmp_path / "a", flat[:4096])))
    bad = bytearray(flat)
    struct.pack_into(">q", bad, 4096 + 8, -7)  # negative size in the first record
    with pytest.raises(DumpFormatError, match="corrupt flattened format"):
        open_dump(str(sd.write(tmp_path / "b", bytes(bad))))
    inner_junk = sd.flatten(os.urandom(10000), rewrite_header=False)
    with pytest.raises(DumpFormatError, match="unknown inner format"):
        open_dump(str(sd.write(tmp_path / "c", inner_junk)))


# -- sniffing and errors --------------------------------------------------------------------------


def test_sniff(tmp_path: Path) -> None:
    files = {
        "elf": sd.elf_from_memory(MEM),
        "kdump": sd.kdump(MEM),
        "diskdump": sd.kdump(MEM, signature=b"DISKDUMP"),
        "flat": sd.flatten(sd.kdump(MEM)),
        "vmlinux": sd.elf_core([], [], e_type=2),
        "random": os.urandom(8192),
        "empty": b"",
        "text": b"hello\n",
    }
    expect = {"elf": "ELF", "kdump": "KDUMP", "diskdump": "DISKDUMP", "flat": "FLAT"}
    for name, data in files.items():
        path = str(sd.write(tmp_path / name, data))
        assert sniff(path) == expect.get(name), name
        assert is_dump(path) == (name in expect)
    assert sniff(str(tmp_path / "missing")) is None
    assert sniff(str(tmp_path)) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a supported file format (empty file)"),
        (b"\x00" * 100, "not a supported file format"),
        (b"KDUMP   \x06\x00", "compressed kdump: cannot read dump header"),
        (b"\x7fELF", "not a supported file format"),
    ],
)
def test_open_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = sd.write(tmp_path / "file", content)
    with pytest.raises(DumpFormatError) as err:
        open_dump(str(path))
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message}")


def test_open_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DumpFormatError, match="No such file or directory"):
        open_dump(str(tmp_path / "nope"))
    with pytest.raises(DumpFormatError, match="not a supported file format"):
        open_dump(str(tmp_path))


def test_read_only(tmp_path: Path) -> None:
    path = sd.write(tmp_path / "vmcore", sd.kdump(MEM))
    path.chmod(0o444)
    before = path.stat().st_mtime_ns
    with open_dump(str(path)) as dump:
        dump.read(0, PAGE)
    assert path.stat().st_mtime_ns == before
