"""Small synthetic dump files for the dump-reader tests: ELF cores, kdump-compressed, flattened.

Everything is built in memory as bytes from a `Memory` (pfn -> page contents) and written where the
test wants it. The layouts follow makedumpfile's diskdump_mod.h / makedumpfile.h and QEMU's ELF
writer (section headers before the program headers, PN_XNUM); the page contents are deterministic,
so a test can ask `memory.read(paddr, size)` for the bytes a reader must return.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PAGE = 4096
PAGE_SHIFT = 12

# kdump flags (makedumpfile diskdump_mod.h)
DUMP_DH_COMPRESSED_ZLIB = 0x1
DUMP_DH_COMPRESSED_LZO = 0x2
DUMP_DH_COMPRESSED_SNAPPY = 0x4
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_COMPRESSED_ZSTD = 0x20
COMPRESSION_FLAGS = {
    None: 0,
    "zlib": DUMP_DH_COMPRESSED_ZLIB,
    "lzo": DUMP_DH_COMPRESSED_LZO,
    "snappy": DUMP_DH_COMPRESSED_SNAPPY,
    "zstd": DUMP_DH_COMPRESSED_ZSTD,
}

VMCOREINFO = (
    b"OSRELEASE=6.1.0-synthetic\n"
    b"BUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
    b"PAGESIZE=4096\n"
    b"SYMBOL(init_uts_ns)=ffffffff82a12340\n"
    b"KERNELOFFSET=0\n"
    b"NUMBER(phys_base)=0\n"
)


def page_bytes(pfn: int, style: str = "text") -> bytes:
    """Deterministic contents of page `pfn`: compressible text, random-looking bytes, or zeros."""
    if style == "zero":
        return bytes(PAGE)
    if style == "random":
        return random.Random(pfn).randbytes(PAGE)
    line = f"pfn {pfn:#010x} says hello; ".encode()
    body = (line * (PAGE // len(line) + 1))[:PAGE]
    return struct.pack("<Q", pfn) + body[8:]


@dataclass
class Memory:
    """Physical memory of a synthetic machine: pfn -> page, plus pfns the dump leaves out."""

    pages: dict[int, bytes] = field(default_factory=dict)
    excluded: set[int] = field(default_factory=set)  # in RAM, filtered out (2nd bitmap clear)
    max_pfn: int = 0

    @classmethod
    def layout(
        cls, runs: Iterable[tuple[int, int]], excluded: Iterable[int] = (), random_every: int = 7
    ) -> Memory:
        """RAM in [start_pfn, end_pfn) runs; every random_every-th page incompressible."""
        mem = cls()
        ex = set(excluded)
        for start, end in runs:
            for pfn in range(start, end):
                if pfn in ex:
                    mem.excluded.add(pfn)
                else:
                    mem.pages[pfn] = page_bytes(pfn, "random" if pfn % random_every == 3 else "text")
            mem.max_pfn = max(mem.max_pfn, end)
        return mem

    def read(self, paddr: int, size: int) -> bytes:
        """The bytes a reader must return (every page must be present)."""
        out = bytearray()
        while size > 0:
            pfn, off = divmod(paddr, PAGE)
            n = min(size, PAGE - off)
            out += self.pages[pfn][off : off + n]
            paddr += n
            size -= n
        return bytes(out)

    def runs(self) -> list[tuple[int, int]]:
        """[start_pfn, end_pfn) runs of RAM (dumped or excluded)."""
        pfns = sorted(set(self.pages) | self.excluded)
        runs: list[tuple[int, int]] = []
        for pfn in pfns:
            if runs and runs[-1][1] == pfn:
                runs[-1] = (runs[-1][0], pfn + 1)
            else:
                runs.append((pfn, pfn + 1))
        return runs


# -- notes ----------------------------------------------------------------------------------------


def note(name: str, ntype: int, desc: bytes) -> bytes:
    """One ELF note, 4-byte aligned."""
    raw_name = name.encode() + b"\0"

    def pad(b: bytes) -> bytes:
        return b + bytes(-len(b) % 4)

    return struct.pack("<III", len(raw_name), len(desc), ntype) + pad(raw_name) + pad(desc)


def prstatus(cpu: int, pid: int) -> bytes:
    """A 336-byte x86_64 struct elf_prstatus with pr_pid and a recognisable rip."""
    desc = bytearray(336)
    struct.pack_into("<I", desc, 32, pid)  # pr_pid
    struct.pack_into("<Q", desc, 112 + 16 * 8, 0xFFFFFFFF81000000 + cpu)  # pr_reg.rip
    return bytes(desc)


def standard_notes(nr_cpus: int = 2, qemu: bool = True, vmcoreinfo: bytes | None = VMCOREINFO) -> list[bytes]:
    notes = [note("CORE", 1, prstatus(cpu, 100 + cpu)) for cpu in range(nr_cpus)]
    if qemu:
        notes += [note("QEMU", 0, struct.pack("<II", 1, 0x1B0) + bytes(0x1A8)) for _ in range(nr_cpus)]
    if vmcoreinfo is not None:
        notes.append(note("VMCOREINFO", 0, vmcoreinfo))
    return notes


# -- ELF cores --------------------------------------------------------------------------------------

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")


@dataclass
class ElfSegment:
    paddr: int
    data: bytes  # p_filesz bytes
    memsz: int | None = None  # > len(data): the tail is left out (makedumpfile -E's excluded pages)
    vaddr: int = 0


def elf_core(
    segments: list[ElfSegment],
    notes: list[bytes],
    *,
    qemu_layout: bool = True,
    pn_xnum: bool = False,
    e_type: int = 4,
) -> bytes:
    """An ELF64 x86_64 core. QEMU layout: two section headers at 64, program headers after them."""
    nphdr = 1 + len(segments)
    if qemu_layout:
        shoff, shnum = 64, 2
        phoff = shoff + shnum * _SHDR.size
    else:
        shoff, shnum = 0, 0
        phoff = 64
    note_data = b"".join(notes)
    note_off = phoff + nphdr * _PHDR.size
    data_off = -(-(note_off + len(note_data)) // PAGE) * PAGE
    phdrs = [_PHDR.pack(4, 0, note_off, 0, 0, len(note_data), len(note_data), 0)]
    body = bytearray()
    for seg in segments:
        memsz = seg.memsz if seg.memsz is not None else len(seg.data)
        off = data_off + len(body) if seg.data else 0
        phdrs.append(_PHDR.pack(1, 7, off, seg.vaddr, seg.paddr, len(seg.data), memsz, 0))
        body += seg.data
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    e_phnum = 0xFFFF if pn_xnum else nphdr
    ehdr = _EHDR.pack(ident, e_type, 62, 1, 0, phoff, shoff, 0, 64, _PHDR.size, e_phnum, _SHDR.size, shnum, 0)
    out = bytearray(ehdr)
    if qemu_layout:
        out += _SHDR.pack(0, 0, 0, 0, 0, 0, 0, nphdr if pn_xnum else 0, 0, 0)
        out += _SHDR.pack(0, 3, 0, 0, 0, 0, 0, 0, 1, 0)
    out += b"".join(phdrs)
    out += note_data
    out += bytes(data_off - len(out))
    out += body
    return bytes(out)


def elf_from_memory(mem: Memory, notes: list[bytes] | None = None, **kw: object) -> bytes:
    """An ELF core of `mem` as makedumpfile -E writes one: a PT_LOAD per stretch of dumped pages,
    whose p_memsz also covers the excluded pages after them (p_filesz < p_memsz)."""
    segments = []
    for start, end in mem.runs():
        pfn = start
        while pfn < end:
            first = pfn
            while pfn < end and pfn not in mem.excluded:
                pfn += 1
            data = b"".join(mem.pages[p] for p in range(first, pfn))
            while pfn < end and pfn in mem.excluded:
                pfn += 1
            segments.append(ElfSegment(first * PAGE, data, (pfn - first) * PAGE))
    return elf_core(segments, standard_notes() if notes is None else notes, **kw)  # type: ignore[arg-type]


# -- kdump-compressed -------------------------------------------------------------------------------

_DH = struct.Struct("<8si390s6xqqIiiIIIIIIi")
_KSH = struct.Struct("<QiiQQqQqQqQQQQ")
_PD = struct.Struct("<qIIQ")


def divup(n: int, d: int) -> int:
    return -(-n // d)


def compress(data: bytes, how: str | None) -> bytes:
    if how is None:
        return data
    if how == "zlib":
        return zlib.compress(data)
    if how == "lzo":
        import lzallright

        return bytes(lzallright.LZOCompressor().compress(data))
    import cramjam

    if how == "snappy":
        return bytes(cramjam.snappy.compress_raw(data))
    if how == "zstd":
        return bytes(cramjam.zstd.compress(data))
    raise ValueError(how)


def utsname(**fields: str) -> bytes:
    names = ("sysname", "nodename", "release", "version", "machine", "domainname")
    defaults = {
        "sysname": "Linux",
        "nodename": "synth",
        "release": "6.1.0-synthetic",
        "version": "#1 SMP",
        "machine": "x86_64",
        "domainname": "(none)",
    }
    defaults.update(fields)
    return b"".join(defaults[n].encode().ljust(65, b"\0") for n in names)


def kdump(
    mem: Memory,
    compression: str | None = "zlib",
    *,
    notes: list[bytes] | None = None,
    header_version: int = 6,
    signature: bytes = b"KDUMP   ",
    incomplete_pfns: Iterable[int] = (),
    status_extra: int = 0,
    dump_level: int = 31,
    nr_cpus: int = 2,
    max_mapnr: int | None = None,
    block_size: int = PAGE,
    split: tuple[int, int] | None = None,
) -> bytes:
    """A kdump-compressed file of `mem`: pages compressed with `compression` unless that does not
    shrink them (then stored raw, as makedumpfile does); pages in incomplete_pfns get a zero-offset
    descriptor (makedumpfile's mark for pages it could not write); zero pages share one copy."""
    bs = block_size
    max_mapnr = max_mapnr if max_mapnr is not None else mem.max_pfn
    note_data = b"".join(standard_notes() if notes is None else notes)
    off_note = bs + _KSH.size
    off_vmci = size_vmci = 0
    pos = 0
    while pos < len(note_data):  # find the VMCOREINFO note's desc, as makedumpfile points at it
        namesz, descsz, _ = struct.unpack_from("<III", note_data, pos)
        name_at = pos + 12
        desc_at = name_at + (-(-namesz // 4) * 4)
        if note_data[name_at : name_at + namesz].rstrip(b"\0") == b"VMCOREINFO":
            off_vmci, size_vmci = off_note + desc_at, descsz
        pos = desc_at + (-(-descsz // 4) * 4)
    sub_hdr_size = divup(_KSH.size + len(note_data), bs)
    bitmap_half = divup(divup(max_mapnr, 8), bs) * bs
    bitmap_blocks = 2 * bitmap_half // bs
    bm1 = bytearray(bitmap_half)
    bm2 = bytearray(bitmap_half)
    lo, hi = split if split else (0, max_mapnr)
    for pfn in set(mem.pages) | mem.excluded:
        if pfn < max_mapnr:
            bm1[pfn >> 3] |= 1 << (pfn & 7)
    dumped = sorted(p for p in mem.pages if lo <= p < hi and p < max_mapnr)
    for pfn in dumped:
        bm2[pfn >> 3] |= 1 << (pfn & 7)
    data_offset = bs * (1 + sub_hdr_size + bitmap_blocks)
    page_at = data_offset + _PD.size * len(dumped)
    pds = bytearray()
    data = bytearray()
    flag = COMPRESSION_FLAGS[compression]
    incomplete = set(incomplete_pfns)
    zero_pd: bytes | None = None
    for pfn in dumped:
        page = mem.pages[pfn]
        if pfn in incomplete:
            pds += _PD.pack(0, 0, 0, 0)
            continue
        if page == bytes(bs) and zero_pd is not None:
            pds += zero_pd
            continue
        packed = compress(page, compression)
        if len(packed) < bs:
            pd = _PD.pack(page_at + len(data), len(packed), flag, 0)
        else:
            packed = page
            pd = _PD.pack(page_at + len(data), bs, 0, 0)
        if page == bytes(bs):
            zero_pd = pd
        pds += pd
        data += packed
    status = flag | status_extra
    ts = 1_700_000_000
    header = _DH.pack(
        signature,
        header_version,
        utsname(),
        ts,
        0,
        status,
        bs,
        sub_hdr_size,
        bitmap_blocks,
        min(max_mapnr, 0xFFFFFFFF),
        len(dumped),
        0,
        0,
        0,
        nr_cpus,
    )
    sub = _KSH.pack(
        0x1000000,
        dump_level,
        1 if split else 0,
        lo,
        hi,
        off_vmci,
        size_vmci,
        off_note,
        len(note_data),
        0,
        0,
        lo,
        hi,
        max_mapnr,
    )
    out = bytearray(header.ljust(bs, b"\0"))
    if signature == b"KDUMP   ":
        out += (sub + note_data).ljust(sub_hdr_size * bs, b"\0")
    else:
        out += bytes(sub_hdr_size * bs)
    out += bm1 + bm2
    assert len(out) == data_offset
    out += pds + data
    return bytes(out)


# -- flattened ----------------------------------------------------------------------------------------


def flatten(
    data: bytes,
    *,
    chunk: int = 5000,
    seed: int | None = 1,
    skip_zero_runs: bool = True,
    rewrite_header: bool = True,
    end_marker: bool = True,
) -> bytes:
    """makedumpfile's flattened format of `data`: records of varying size in shuffled order,
    all-zero stretches left out (they must read back as zeros), and, with rewrite_header, a garbage
    first record for offset 0 that a later record overwrites (later records win)."""
    rng = random.Random(seed)
    pieces: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        n = rng.randint(chunk // 2, chunk * 2) if seed is not None else chunk
        piece = data[pos : pos + n]
        if not (skip_zero_runs and piece.count(0) == len(piece) and pos + n < len(data)):
            pieces.append((pos, piece))
        pos += n
    if seed is not None:
        head = pieces[:1]
        rest = pieces[1:]
        rng.shuffle(rest)
        pieces = head + rest
    out = bytearray(b"makedumpfile".ljust(16, b"\0") + struct.pack(">qq", 1, 1))
    out += bytes(4096 - len(out))
    if rewrite_header:
        out += struct.pack(">qq", 0, 64) + b"\xee" * 64
    for off, piece in pieces:
        out += struct.pack(">qq", off, len(piece)) + piece
    if end_marker:
        out += struct.pack(">qq", -1, 0)
    return bytes(out)


def truncate(data: bytes, fraction: float) -> bytes:
    """The first `fraction` of `data` (a "vmcore-incomplete")."""
    return data[: int(len(data) * fraction)]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
