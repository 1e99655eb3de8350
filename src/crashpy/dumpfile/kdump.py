"""kdump-compressed dumps: makedumpfile -c/-l/-p/-z (signature "KDUMP   ") and old diskdump ("DISKDUMP").

Layout (makedumpfile's diskdump_mod.h; crash's diskdump.c reads the same), in block_size blocks:

    block 0                   struct disk_dump_header
    block 1 .. sub_hdr_size   struct kdump_sub_header, then the ELF notes and VMCOREINFO it points at
    bitmap_blocks             1st bitmap (pages in memory), then 2nd bitmap (pages dumped)
    then                      one page_desc_t per dumped page, in pfn order; then the page data

A page's descriptor index is the number of dumped pages (2nd-bitmap bits) before it, counted from
the dump's start pfn. Faults (crash's diskdump.c read_diskdump()/cache_page() words):

    pfn >= max_mapnr, or not in the 1st bitmap      SEEK       "seek error"
    in the 1st bitmap but not the 2nd               EXCLUDED   "page excluded"
    descriptor with offset 0 (makedumpfile's mark)  INCOMPLETE "page incomplete"
    descriptor or data past the end of the file     TRUNCATED (crash: "read error")
    bitmap bits past the end of the file            TRUNCATED
    bad descriptor size, decompression failure      NOT_PRESENT "read error"
"""

from __future__ import annotations

import functools
import re
import struct
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crashpy.dumpfile.base import DumpFile, DumpInfo, Note
from crashpy.dumpfile.notes import count_prstatus, parse_notes, vmcoreinfo_of
from crashpy.dumpfile.source import FileSource, Source, closed_on_failure, fault_address
from crashpy.errors import CrashpyError, DumpFormatError, FaultError, FaultKind

KDUMP_SIGNATURE = b"KDUMP   "
DISKDUMP_SIGNATURE = b"DISKDUMP"

# disk_dump_header.status, and page_desc_t.flags for the compression bits
DUMP_DH_COMPRESSED_ZLIB = 0x1
DUMP_DH_COMPRESSED_LZO = 0x2
DUMP_DH_COMPRESSED_SNAPPY = 0x4
DUMP_DH_COMPRESSED_INCOMPLETE = 0x8
DUMP_DH_EXCLUDED_VMEMMAP = 0x10
DUMP_DH_COMPRESSED_ZSTD = 0x20

# crash reports a pfn the dump does not hold (beyond max_mapnr, or not in the 1st bitmap) as
# SEEK_ERROR ("seek error: ..."), unlike its ELF reader, which says "read error" (NOT_PRESENT).
HOLE_KIND = FaultKind.SEEK

# x86_64 layouts (little-endian, natural alignment written out)
_HEADER = struct.Struct("<8si390s6xqqIiiIIIIIIi")  # struct disk_dump_header, 464 bytes
_SUB_HEADER = struct.Struct("<QiiQQqQqQqQQQQ")  # struct kdump_sub_header, 104 bytes
_BULK_MIN_PAGES = 4  # a read over this many pages more tries _bulk
_PAGE_DESC = struct.Struct("<qIIQ")  # page_desc_t: offset, size, flags, page_flags; 24 bytes
_UTS_FIELDS = ("sysname", "nodename", "release", "version", "machine", "domainname")

_RANK_BLOCK_PFNS = 4096  # pfns per precomputed cumulative popcount
_RANK_BLOCK_BYTES = _RANK_BLOCK_PFNS // 8
_CACHE_BYTES = 8 << 20  # decompressed pages kept (LRU)
_MAX_PFN_LIMIT = 1 << 52  # physical addresses are at most 64 bits wide; more pfns is a corrupt header
_MAX_SUB_HDR_BLOCKS = 1 << 20
_TAIL_DESCRIPTORS = 256  # descriptors checked at open for data past the end of the file


@dataclass(frozen=True)
class KdumpHeader:
    """struct disk_dump_header."""

    signature: bytes
    header_version: int
    utsname: dict[str, str]
    tv_sec: int
    tv_usec: int
    status: int
    block_size: int
    sub_hdr_size: int
    bitmap_blocks: int
    max_mapnr: int  # 32-bit, obsolete: the sub-header's max_mapnr_64 wins from header_version 6
    total_ram_blocks: int
    device_blocks: int
    written_blocks: int
    current_cpu: int
    nr_cpus: int


@dataclass(frozen=True)
class KdumpSubHeader:
    """struct kdump_sub_header; fields a header_version lacks are 0."""

    phys_base: int  # QEMU writes nonsense here (decimal NUMBER(phys_base) read as hex)
    dump_level: int
    split: int
    start_pfn: int
    end_pfn: int
    offset_vmcoreinfo: int
    size_vmcoreinfo: int
    offset_note: int
    size_note: int
    offset_eraseinfo: int
    size_eraseinfo: int
    start_pfn_64: int
    end_pfn_64: int
    max_mapnr_64: int


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


class DecompressError(CrashpyError, ValueError):
    """A page's compressed data does not decompress."""


def _zlib(data: bytes, n: int) -> bytes:
    try:
        return zlib.decompress(data, bufsize=n)
    except zlib.error as e:
        raise DecompressError(str(e)) from None


def _lzo(data: bytes, n: int) -> bytes:
    import lzallright  # raw LZO1X (no header of its own), as makedumpfile -l writes it

    try:
        return bytes(_lzo_codec().decompress(data, output_size_hint=n))
    except (lzallright.LZOError, lzallright.InputNotConsumed) as e:
        raise DecompressError(str(e)) from None


@functools.cache
def _lzo_codec() -> Any:
    import lzallright

    return lzallright.LZOCompressor()


def _snappy(data: bytes, n: int) -> bytes:
    import cramjam

    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as e:
        raise DecompressError(str(e)) from None


def _zstd(data: bytes, n: int) -> bytes:
    import cramjam

    try:
        return bytes(cramjam.zstd.decompress(data, output_len=n))
    except cramjam.DecompressionError as e:
        raise DecompressError(str(e)) from None


def _decompressor(flags: int) -> tuple[str, Callable[[bytes, int], bytes]] | None:
    """The decompression a page_desc_t.flags value asks for: (name, fn(data, out_len)); None for raw."""
    if flags & DUMP_DH_COMPRESSED_ZLIB:
        return "zlib", _zlib
    if flags & DUMP_DH_COMPRESSED_LZO:
        return "lzo", _lzo
    if flags & DUMP_DH_COMPRESSED_SNAPPY:
        return "snappy", _snappy
    if flags & DUMP_DH_COMPRESSED_ZSTD:
        return "zstd", _zstd
    return None


def compression_name(status: int) -> str | None:
    """The compression disk_dump_header.status names, if any."""
    for bit, name in (
        (DUMP_DH_COMPRESSED_ZLIB, "zlib"),
        (DUMP_DH_COMPRESSED_LZO, "lzo"),
        (DUMP_DH_COMPRESSED_SNAPPY, "snappy"),
        (DUMP_DH_COMPRESSED_ZSTD, "zstd"),
    ):
        if status & bit:
            return name
    return None


def _sub_header(raw: bytes, h: KdumpHeader) -> KdumpSubHeader:
    """The kdump_sub_header in `raw`, with the fields its header_version lacks zeroed (or taken from the
    32-bit fields, as crash does: start/end pfn from start_pfn/end_pfn, max_mapnr from the header)."""
    f = list(_SUB_HEADER.unpack(raw))
    v = h.header_version
    # field index -> first header_version that has it
    since = (0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6)
    for i, first in enumerate(since):
        if v < first:
            f[i] = 0
    if v < 6:
        f[11], f[12], f[13] = f[3], f[4], h.max_mapnr
    return KdumpSubHeader(*f)


class _Fault(CrashpyError):
    """A page could not be had; carries the FaultKind (internal, turned into FaultError by read())."""

    def __init__(self, kind: FaultKind) -> None:
        self.kind = kind


class KdumpCompressed(DumpFile):
    """A kdump-compressed (or diskdump) file read through a Source."""

    def __init__(self, source: Source, *, format_name: str | None = None) -> None:
        self.source = source
        self.path = source.name
        self.warnings: list[str] = []
        raw = source.pread(0, _HEADER.size)
        sig = raw[:8]
        if sig not in (KDUMP_SIGNATURE, DISKDUMP_SIGNATURE):
            raise DumpFormatError(f"{self.path}: not a supported file format")
        what = "compressed kdump" if sig == KDUMP_SIGNATURE else "diskdump"
        if len(raw) < _HEADER.size:
            raise DumpFormatError(f"{self.path}: {what}: cannot read dump header (file too short)")
        f = _HEADER.unpack(raw)
        uts = f[2]
        self.header = h = KdumpHeader(
            f[0], f[1], {k: _cstr(uts[i * 65 : (i + 1) * 65]) for i, k in enumerate(_UTS_FIELDS)}, *f[3:]
        )
        bs = h.block_size
        if bs < 512 or bs > (1 << 20) or bs & (bs - 1):
            raise DumpFormatError(f"{self.path}: {what}: invalid block_size: {bs}")
        if not 0 <= h.header_version < 1000:
            raise DumpFormatError(f"{self.path}: {what}: invalid header_version: {h.header_version}")
        if not 0 <= h.sub_hdr_size <= _MAX_SUB_HDR_BLOCKS:
            raise DumpFormatError(f"{self.path}: {what}: invalid sub_hdr_size: {h.sub_hdr_size}")
        if h.bitmap_blocks == 0:
            raise DumpFormatError(f"{self.path}: {what}: invalid bitmap_blocks: 0")
        if h.nr_cpus <= 0:
            self.warnings.append(f"{what}: invalid nr_cpus value: {h.nr_cpus}")
        self._bs = bs
        self._shift = bs.bit_length() - 1
        self._mask = bs - 1

        # sub header
        sub: KdumpSubHeader | None = None
        if sig == KDUMP_SIGNATURE:
            raw_sub = source.pread(bs, _SUB_HEADER.size)
            if len(raw_sub) < _SUB_HEADER.size:
                self.warnings.append(f"{what}: cannot read dump sub header (file truncated)")
            else:
                sub = _sub_header(raw_sub, h)
        self.sub_header = sub
        max_mapnr = sub.max_mapnr_64 if sub is not None else h.max_mapnr
        if max_mapnr == 0 or max_mapnr > _MAX_PFN_LIMIT:
            raise DumpFormatError(f"{self.path}: {what}: invalid max_mapnr: {max_mapnr}")
        start_pfn, end_pfn = 0, max_mapnr
        if sub is not None and sub.split:
            start_pfn, end_pfn = sub.start_pfn_64, sub.end_pfn_64
            if not start_pfn < end_pfn <= max_mapnr:
                raise DumpFormatError(
                    f"{self.path}: {what}: invalid split range: pfn {start_pfn:#x}-{end_pfn:#x} "
                    f"(max_mapnr {max_mapnr:#x})"
                )
        self.max_mapnr = max_mapnr
        self.start_pfn = start_pfn
        self.end_pfn = end_pfn
        self.is_split = bool(sub is not None and sub.split)

        # bitmaps
        bitmap_off = bs * (1 + h.sub_hdr_size)
        bitmap_len = bs * h.bitmap_blocks
        need = -(-max_mapnr // 8)
        partial = h.bitmap_blocks >= 2 * -(-need // bs)  # crash: dump_is_partial(): two bitmaps
        if bitmap_len < need:
            raise DumpFormatError(
                f"{self.path}: {what}: bitmap of {h.bitmap_blocks} blocks is too small for max_mapnr {max_mapnr}"
            )
        self.data_offset = bitmap_off + bitmap_len
        bitmaps = source.pread(bitmap_off, bitmap_len)
        truncated = len(bitmaps) < bitmap_len
        if partial:
            half = bitmap_len // 2
            self._bm1 = bitmaps[:half]
            self._bm2 = bitmaps[half:]
        else:
            self._bm1 = self._bm2 = bitmaps
        # bits beyond the end of an available bitmap are unknown: those pages are INCOMPLETE
        self._bm1_bits = min(len(self._bm1) * 8, max_mapnr)
        self._bm2_bits = min(len(self._bm2) * 8, max_mapnr)
        if truncated:
            self.warnings.append(
                f"{what}: the memory bitmaps are cut off by the end of the file "
                f"(offset {bitmap_off + len(bitmaps)} of {bitmap_off + bitmap_len}): "
                f"pages from pfn {min(self._bm1_bits, self._bm2_bits):#x} on are incomplete"
            )
        self._build_rank()
        self._base_rank = self._rank_abs(start_pfn) if start_pfn < self._bm2_bits else 0

        # notes and VMCOREINFO (both in the sub-header blocks, before the bitmaps)
        notes: list[Note] = []
        vmcoreinfo: bytes | None = None
        if sub is not None and sub.offset_note and sub.size_note:
            data = self._area(sub.offset_note, sub.size_note, "ELF notes", truncated, what)
            if data is not None:
                notes, problem = parse_notes(data)
                if problem:
                    self.warnings.append(f"{what}: {problem}")
        if sub is not None and sub.offset_vmcoreinfo and sub.size_vmcoreinfo:
            data = self._area(sub.offset_vmcoreinfo, sub.size_vmcoreinfo, "VMCOREINFO", truncated, what)
            if data is not None:
                vmcoreinfo = data.rstrip(b"\0")
        if vmcoreinfo is None:
            vmcoreinfo = vmcoreinfo_of(notes)

        # makedumpfile's own mark (it ran out of space); crash's sys shows "[INCOMPLETE]" for this only
        self.status_incomplete = bool(h.status & DUMP_DH_COMPRESSED_INCOMPLETE)
        incomplete = truncated or self.status_incomplete
        if self.status_incomplete:
            self.warnings.append(
                f"{what}: the header says the dump is incomplete (DUMP_DH_COMPRESSED_INCOMPLETE)"
            )
        if not truncated and self._ends_past_eof():
            incomplete = True
            self.warnings.append(
                f"{what}: the page data is cut off by the end of the file: the dump is incomplete"
            )

        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_max = max(64, _CACHE_BYTES // bs)
        self.info = DumpInfo(
            format=format_name or ("KDUMP" if sig == KDUMP_SIGNATURE else "DISKDUMP"),
            notes=notes,
            vmcoreinfo=vmcoreinfo,
            incomplete=incomplete,
            timestamp=h.tv_sec,
            utsname=dict(h.utsname),
            nr_cpus=h.nr_cpus if h.nr_cpus > 0 else count_prstatus(notes),
            block_size=bs,
            max_pfn=max_mapnr,
            compression=compression_name(h.status),
            dump_level=sub.dump_level if sub is not None and h.header_version >= 1 else None,
        )

    @classmethod
    def open(cls, path: str) -> KdumpCompressed:
        """Open a kdump-compressed file read-only."""
        source = FileSource(path)
        with closed_on_failure([source]):
            return cls(source)

    @property
    def phys_base(self) -> int | None:
        """kdump_sub_header.phys_base (untrustworthy in QEMU's dumps)."""
        return self.sub_header.phys_base if self.sub_header is not None else None

    def _area(self, offset: int, size: int, name: str, truncated: bool, what: str) -> bytes | None:
        """A header-referenced area; past EOF it is a corrupt header, unless the file is cut short."""
        if offset < 0 or size > (1 << 32):
            raise DumpFormatError(f"{self.path}: {what}: invalid {name} area: offset {offset}, size {size}")
        data = self.source.pread(offset, size)
        if len(data) == size:
            return data
        if truncated:
            self.warnings.append(f"{what}: the {name} lie past the end of the file (truncated)")
            return None
        raise DumpFormatError(
            f"{self.path}: {what}: {name} (offset {offset}, {size} bytes) lie past the end of the file"
        )

    # -- ranks: descriptor index of a pfn ----------------------------------------------------------

    def _build_rank(self) -> None:
        """Cumulative popcounts of the 2nd bitmap, one per _RANK_BLOCK_PFNS pfns, computed once."""
        bm2 = memoryview(self._bm2)[: -(-self._bm2_bits // 8)]
        cum = [0]
        total = 0
        for start in range(0, len(bm2), _RANK_BLOCK_BYTES):
            total += int.from_bytes(bm2[start : start + _RANK_BLOCK_BYTES], "little").bit_count()
            cum.append(total)
        self._cum = cum

    def _rank_abs(self, pfn: int) -> int:
        """Set bits of the 2nd bitmap before `pfn` (which must be within the available bits)."""
        blk = pfn // _RANK_BLOCK_PFNS
        byte = pfn >> 3
        bm2 = self._bm2
        n = self._cum[blk] + int.from_bytes(bm2[blk * _RANK_BLOCK_BYTES : byte], "little").bit_count()
        bits = pfn & 7
        if bits:
            n += (bm2[byte] & ((1 << bits) - 1)).bit_count()
        return n

    def _ends_past_eof(self) -> bool:
        """Whether the page data ends past the end of the file: the descriptor table is cut, or one
        of the last descriptors (pages are written in pfn order, after one shared zero page) points
        past the end, or at offset 0 (makedumpfile's mark for a page it could not write)."""
        last_bit = min(self.end_pfn, self._bm2_bits)
        count = (self._rank_abs(last_bit) if last_bit < self._bm2_bits else self._cum[-1]) - self._base_rank
        if count <= 0:
            return False
        tail = min(count, _TAIL_DESCRIPTORS)
        start = self.data_offset + (count - tail) * _PAGE_DESC.size
        raw = self.source.pread(start, tail * _PAGE_DESC.size)
        if len(raw) < tail * _PAGE_DESC.size:
            return True
        size = self.source.size
        for offset, length, _flags, _pflags in _PAGE_DESC.iter_unpack(raw):
            if offset == 0 or offset + length > size:
                return True
        sub = self.sub_header
        if sub is not None and sub.offset_eraseinfo and sub.size_eraseinfo:
            return sub.offset_eraseinfo + sub.size_eraseinfo > size
        return False

    # -- pages ------------------------------------------------------------------------------------

    def page_state(self, pfn: int) -> FaultKind | None:
        """None if the page is dumped, else the FaultKind a read of it gives (without reading data)."""
        if pfn < self.start_pfn or pfn >= self.end_pfn:
            return HOLE_KIND
        if pfn >= self._bm1_bits:
            return FaultKind.TRUNCATED
        if not (self._bm1[pfn >> 3] >> (pfn & 7)) & 1:
            return HOLE_KIND
        if pfn >= self._bm2_bits:
            return FaultKind.TRUNCATED
        if not (self._bm2[pfn >> 3] >> (pfn & 7)) & 1:
            return FaultKind.EXCLUDED
        return None

    def page_location(self, pfn: int) -> tuple[int, int] | None:
        """(file offset, stored size) of page `pfn`'s data, or None when the file holds no data for it."""
        if self.page_state(pfn) is not None:
            return None
        index = self._rank_abs(pfn) - self._base_rank
        raw = self.source.pread(self.data_offset + index * _PAGE_DESC.size, _PAGE_DESC.size)
        if len(raw) < _PAGE_DESC.size:
            return None
        offset, size, _flags, _pflags = _PAGE_DESC.unpack(raw)
        return (offset, size) if offset > 0 else None

    def _page(self, pfn: int) -> bytes:
        """The decompressed page `pfn`; raises _Fault."""
        cache = self._cache
        page = cache.get(pfn)
        if page is not None:
            cache.move_to_end(pfn)
            return page
        state = self.page_state(pfn)
        if state is not None:
            raise _Fault(state)
        index = self._rank_abs(pfn) - self._base_rank
        src = self.source
        raw = src.pread(self.data_offset + index * _PAGE_DESC.size, _PAGE_DESC.size)
        if len(raw) < _PAGE_DESC.size:
            raise _Fault(FaultKind.TRUNCATED)
        offset, size, flags, _pflags = _PAGE_DESC.unpack(raw)
        bs = self._bs
        if offset == 0:
            raise _Fault(FaultKind.INCOMPLETE)  # makedumpfile's mark for a page it could not write
        if offset < 0:
            raise _Fault(FaultKind.SEEK)
        if size == 0 or size > bs:
            raise _Fault(FaultKind.NOT_PRESENT)
        data = src.pread(offset, size)
        if len(data) < size:
            raise _Fault(FaultKind.TRUNCATED)
        how = _decompressor(flags)
        if how is None:
            if size != bs:
                raise _Fault(FaultKind.NOT_PRESENT)
            page = data
        else:
            try:
                page = how[1](data, bs)
            except DecompressError:
                raise _Fault(FaultKind.NOT_PRESENT) from None
            if len(page) != bs:
                raise _Fault(FaultKind.NOT_PRESENT)
        cache[pfn] = page
        if len(cache) > self._cache_max:
            cache.popitem(last=False)
        return page

    def _bulk(self, pfn: int, n: int) -> list[bytes] | None:
        """Pages pfn .. pfn+n-1 when every one is dumped and regular, read with one descriptor read and
        one data read per run of adjacent data; None otherwise (the page-at-a-time path then says what
        is wrong where)."""
        if pfn < self.start_pfn or pfn + n > min(self.end_pfn, self._bm1_bits, self._bm2_bits):
            return None
        first = self._rank_abs(pfn)
        if self._rank_abs(pfn + n) - first != n:
            return None
        src, bs = self.source, self._bs
        raw = src.pread(self.data_offset + (first - self._base_rank) * _PAGE_DESC.size, n * _PAGE_DESC.size)
        if len(raw) < n * _PAGE_DESC.size:
            return None
        descs = list(_PAGE_DESC.iter_unpack(raw))
        for offset, length, _flags, _pflags in descs:
            if offset <= 0 or length == 0 or length > bs:
                return None
        out: list[bytes] = []
        i = 0
        while i < n:
            j, end = i, descs[i][0] + descs[i][1]
            while j + 1 < n and descs[j + 1][0] == end:
                j += 1
                end += descs[j][1]
            blob = src.pread(descs[i][0], end - descs[i][0])
            if len(blob) < end - descs[i][0]:
                return None
            pos = 0
            for k in range(i, j + 1):
                _offset, length, flags, _pflags = descs[k]
                data = blob[pos : pos + length]
                pos += length
                how = _decompressor(flags)
                if how is None:
                    if length != bs:
                        return None
                    out.append(data)
                    continue
                try:
                    page = how[1](data, bs)
                except DecompressError:
                    return None
                if len(page) != bs:
                    return None
                out.append(page)
            i = j + 1
        return out

    def read(self, paddr: int, size: int) -> bytes:
        if size <= 0:
            return b""
        shift, mask = self._shift, self._mask
        off = paddr & mask
        pfn = paddr >> shift
        if off + size <= self._bs:
            try:
                page = self._page(pfn)
            except _Fault as fault:
                raise FaultError(paddr, fault.kind) from None
            return page[off : off + size] if size != self._bs else page
        last = (paddr + size - 1) >> shift
        if last - pfn >= _BULK_MIN_PAGES:
            pages = self._bulk(pfn, last - pfn + 1)
            if pages is not None:
                return b"".join(pages)[off : off + size]
        chunks: list[bytes] = []
        addr = paddr
        stop = paddr + size
        while addr < stop:
            pfn = addr >> shift
            off = addr & mask
            n = min(self._bs - off, stop - addr)
            try:
                page = self._page(pfn)
            except _Fault as fault:
                raise FaultError(fault_address(paddr, addr), fault.kind) from None
            chunks.append(page[off : off + n])
            addr += n
        return b"".join(chunks)

    def ranges(self) -> list[tuple[int, int]]:
        """Runs of pages in the 1st bitmap (within the split range), plus any part a cut bitmap hides."""
        return self._bitmap_runs(self._bm1, self._bm1_bits, True)

    def dumped_ranges(self) -> list[tuple[int, int]]:
        """Runs of pages whose data the file holds (the 2nd bitmap, within the split range): what a bulk
        reader tries, skipping excluded pages without a fault for each."""
        runs = getattr(self, "_dumped_runs", None)
        if runs is None:
            runs = self._dumped_runs = self._bitmap_runs(self._bm2, self._bm2_bits, False)
        return list(runs)

    def _bitmap_runs(self, bitmap: bytes, nbits: int, with_cut: bool) -> list[tuple[int, int]]:
        shift = self._shift
        lo, hi = self.start_pfn, self.end_pfn
        runs: list[tuple[int, int]] = []

        def add(a: int, b: int) -> None:
            a, b = max(a, lo), min(b, hi)
            if a >= b:
                return
            if runs and runs[-1][1] == a:
                runs[-1] = (runs[-1][0], b)
            else:
                runs.append((a, b))

        bm = bitmap[: -(-nbits // 8)]
        for m in re.finditer(rb"[^\x00]+", bm):
            a, b = m.span()
            chunk = m.group()
            if chunk.count(0xFF) == len(chunk):
                add(a * 8, b * 8)
                continue
            x = int.from_bytes(chunk, "little")
            base = a * 8
            while x:
                low = (x & -x).bit_length() - 1
                x >>= low
                base += low
                ones = ((x + 1) & ~x).bit_length() - 1
                add(base, base + ones)
                x >>= ones
                base += ones
        if with_cut and nbits < self.max_mapnr:
            add(nbits, self.max_mapnr)
        return [(a << shift, b << shift) for a, b in runs if a < self.max_mapnr]

    def close(self) -> None:
        self._cache.clear()
        self.source.close()
