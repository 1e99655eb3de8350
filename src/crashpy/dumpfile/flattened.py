"""makedumpfile's flattened format (makedumpfile -F, QEMU's kdump-* dumps), read in place.

The file is a 4096-byte header (signature "makedumpfile", type 1, version; big-endian int64s), then
records: a big-endian (offset, size) pair and `size` bytes that belong at `offset` of the real
("rearranged") dump file, which is a kdump-compressed file or an ELF core; an offset of -1 ends
the stream. Records may come in any order and a later one may rewrite an earlier one's bytes.

FlattenedSource indexes the record headers once (seeking over the data) and serves reads of the
rearranged file from the records; the inner format's reader sits on top of it. Parts of the
rearranged file no record covers read as zeros when the stream is complete (makedumpfile seeked
over them, crash's read_flattened_format() does the same); in a truncated stream they are unknown,
so reads stop there and the inner reader reports TRUNCATED.
"""

from __future__ import annotations

import struct
from bisect import bisect_right

from crashpy.dumpfile.base import DumpFile
from crashpy.dumpfile.source import FileSource, Source, closed_on_failure
from crashpy.errors import DumpFormatError

MAKEDUMPFILE_SIGNATURE = b"makedumpfile"
MAX_SIZE_MDF_HEADER = 4096
TYPE_FLAT_HEADER = 1
END_FLAG_FLAT_HEADER = -1

_FLAT_HEADER = struct.Struct(">16sqq")  # signature (padded to 16), type, version
_RECORD = struct.Struct(">qq")  # offset in the rearranged file, size of the data that follows


def is_flattened_header(head: bytes) -> bool:
    """Whether `head` (at least 32 bytes of a file) is a flattened-format header."""
    if len(head) < _FLAT_HEADER.size:
        return False
    sig, ftype, _version = _FLAT_HEADER.unpack_from(head)
    return sig.rstrip(b"\0") == MAKEDUMPFILE_SIGNATURE and ftype == TYPE_FLAT_HEADER


class FlattenedSource(Source):
    """The rearranged file a flattened stream describes, as a Source."""

    def __init__(self, file: Source) -> None:
        self.file = file
        self.name = file.name
        self.warnings: list[str] = []
        head = file.pread(0, _FLAT_HEADER.size)
        if not is_flattened_header(head):
            raise DumpFormatError(f"{self.name}: not a supported file format")
        self.version = _FLAT_HEADER.unpack(head)[2]
        records: list[tuple[int, int, int]] = []  # (dest offset, source offset, size), in file order
        pos = MAX_SIZE_MDF_HEADER
        complete = False
        fsize = file.size
        pread = file.pread
        unpack = _RECORD.unpack
        while True:
            raw = pread(pos, _RECORD.size)
            if len(raw) < _RECORD.size:
                break  # no end marker: truncated
            dest, size = unpack(raw)
            if dest == END_FLAG_FLAT_HEADER:
                complete = True
                break
            if dest < 0 or size < 0 or dest + size > (1 << 62):
                if not records:
                    raise DumpFormatError(
                        f"{self.name}: corrupt flattened format: record at offset {pos} "
                        f"(offset {dest}, size {size})"
                    )
                self.warnings.append(
                    f"corrupt flattened record at file offset {pos} (offset {dest}, size {size}): "
                    "the rest of the file is ignored"
                )
                break
            data_at = pos + _RECORD.size
            avail = min(size, fsize - data_at)
            if avail > 0:
                records.append((dest, data_at, avail))
            if avail < size:
                break  # the record's data is cut off: truncated
            pos = data_at + size
        self.complete = complete
        self.records = len(records)
        if not complete:
            self.warnings.append(
                f"read error: {self.name} (flat format): truncated/incomplete: "
                f"{len(records)} records up to file offset {min(pos, fsize)}"
            )
        self._index(records)

    def _index(self, records: list[tuple[int, int, int]]) -> None:
        """Disjoint pieces sorted by destination; where records overlap, the later one wins."""
        ordered = sorted(records)
        overlap = any(ordered[i][0] < ordered[i - 1][0] + ordered[i - 1][2] for i in range(1, len(ordered)))
        if overlap:
            ordered = _resolve_overlaps(records)
        starts: list[int] = []
        ends: list[int] = []
        srcs: list[int] = []
        for dest, src, size in ordered:
            if starts and ends[-1] == dest and srcs[-1] + (ends[-1] - starts[-1]) == src:
                ends[-1] = dest + size  # adjacent in both files: one piece
                continue
            starts.append(dest)
            ends.append(dest + size)
            srcs.append(src)
        self._starts = starts
        self._ends = ends
        self._srcs = srcs
        self.size = ends[-1] if ends else 0

    def pread(self, offset: int, size: int) -> bytes:
        if offset < 0 or size <= 0:
            return b""
        starts, ends, srcs = self._starts, self._ends, self._srcs
        n = len(starts)
        i = bisect_right(starts, offset) - 1
        if 0 <= i and offset + size <= ends[i]:  # the common case: one piece holds it all
            return self.file.pread(srcs[i] + offset - starts[i], size)
        out: list[bytes] = []
        pos = offset
        stop = offset + size
        while pos < stop:  # i: the last piece starting at or before pos (-1: none)
            if 0 <= i < n and starts[i] <= pos < ends[i]:
                take = min(stop, ends[i]) - pos
                data = self.file.pread(srcs[i] + pos - starts[i], take)
                out.append(data)
                pos += len(data)
                if len(data) < take:
                    break
            elif i + 1 < n and pos >= starts[i + 1]:
                i += 1
            elif i + 1 < n and self.complete:
                gap_end = min(stop, starts[i + 1])
                out.append(bytes(gap_end - pos))  # a hole makedumpfile seeked over
                pos = gap_end
            else:
                break  # past the last record, or a hole in a truncated stream: unknown
        return b"".join(out)

    def close(self) -> None:
        self.file.close()


def _resolve_overlaps(records: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Pieces (dest, src, size) sorted by dest, disjoint, each byte taken from the last record writing it."""
    cov_starts: list[int] = []  # destination ranges already claimed by later records (disjoint, merged)
    cov_ends: list[int] = []
    pieces: list[tuple[int, int, int]] = []
    for dest, src, size in reversed(records):
        end = dest + size
        i = bisect_right(cov_ends, dest)  # first claimed range ending after dest
        pos = dest
        j = i
        while j < len(cov_starts) and cov_starts[j] < end:
            if cov_starts[j] > pos:
                pieces.append((pos, src + pos - dest, cov_starts[j] - pos))
            pos = max(pos, cov_ends[j])
            j += 1
        if pos < end:
            pieces.append((pos, src + pos - dest, end - pos))
        # merge [dest, end) with the claimed ranges i..j-1 (and touching neighbours)
        new_start = min(dest, cov_starts[i]) if i < j else dest
        new_end = max(end, cov_ends[j - 1]) if i < j else end
        if i > 0 and cov_ends[i - 1] == new_start:
            i -= 1
            new_start = cov_starts[i]
        if j < len(cov_starts) and cov_starts[j] == new_end:
            new_end = cov_ends[j]
            j += 1
        cov_starts[i:j] = [new_start]
        cov_ends[i:j] = [new_end]
    pieces.sort()
    return pieces


def open_flattened(path: str) -> DumpFile:
    """Open a flattened dump: the inner reader (kdump-compressed or ELF) over a FlattenedSource.

    The reader's info.format is "FLAT"; `reader.source` is the FlattenedSource (its `complete`,
    `records`); isinstance(reader, KdumpCompressed/ElfDump) tells the inner format.
    """
    file = FileSource(path)
    with closed_on_failure([file]):
        return open_flattened_source(FlattenedSource(file))


def open_flattened_source(source: FlattenedSource) -> DumpFile:
    """The inner format's reader over an indexed flattened stream."""
    from crashpy.dumpfile.elf import ELF_MAGIC, ElfDump
    from crashpy.dumpfile.kdump import DISKDUMP_SIGNATURE, KDUMP_SIGNATURE, KdumpCompressed

    head = source.pread(0, 8)
    reader: ElfDump | KdumpCompressed
    if head[:4] == ELF_MAGIC:
        reader = ElfDump(source, format_name="FLAT")
    elif head in (KDUMP_SIGNATURE, DISKDUMP_SIGNATURE):
        reader = KdumpCompressed(source, format_name="FLAT")
    elif len(head) < 8:
        raise DumpFormatError(
            f"{source.name}: flattened format: the stream holds no dump header (truncated?)"
        )
    else:
        raise DumpFormatError(f"{source.name}: not a supported file format (flattened, unknown inner format)")
    reader.warnings[:0] = source.warnings
    if not source.complete:
        reader.info.incomplete = True
    return reader
