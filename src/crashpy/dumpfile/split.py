"""A split dump: the parts `makedumpfile --split` writes, each a kdump-compressed file holding one pfn range,
read as one dump (crash takes them as several dump files on its command line)."""

from __future__ import annotations

from bisect import bisect_right

from crashpy.dumpfile.base import DumpFile, DumpInfo
from crashpy.dumpfile.kdump import KdumpCompressed
from crashpy.dumpfile.source import closed_on_failure
from crashpy.errors import DumpFormatError, FaultError, FaultKind


class SplitDump(DumpFile):
    """Parts of one split dump, in any order; a read goes to the part whose pfn range holds each page."""

    def __init__(self, parts: list[KdumpCompressed]) -> None:
        if not parts:
            raise DumpFormatError("no dump files given")
        for part in parts:
            if not part.is_split:
                raise DumpFormatError(f"{part.path}: not a part of a split dump (several dump files given)")
        parts = sorted(parts, key=lambda p: p.start_pfn)
        for a, b in zip(parts, parts[1:], strict=False):
            if b.start_pfn < a.end_pfn:
                raise DumpFormatError(f"{a.path} and {b.path}: overlapping pfn ranges: not parts of one dump")
            if (a.info.vmcoreinfo or b"") != (b.info.vmcoreinfo or b""):
                raise DumpFormatError(f"{a.path} and {b.path}: not parts of the same dump")
        self.parts = parts
        self.path = parts[0].path
        first = parts[0].info
        self.info = DumpInfo(**{**first.__dict__})
        self.info.incomplete = any(p.info.incomplete for p in parts)
        self._starts = [p.start_pfn for p in parts]
        self._bs = first.block_size
        self._shift = self._bs.bit_length() - 1

    def _part(self, pfn: int) -> KdumpCompressed | None:
        i = bisect_right(self._starts, pfn) - 1
        if i < 0 or pfn >= self.parts[i].end_pfn:
            return None
        return self.parts[i]

    def read(self, paddr: int, size: int) -> bytes:
        if size <= 0:
            return b""
        chunks: list[bytes] = []
        addr = paddr
        stop = paddr + size
        while addr < stop:
            n = min(stop, ((addr >> self._shift) + 1) << self._shift) - addr
            part = self._part(addr >> self._shift)
            if part is None:
                raise FaultError(addr, FaultKind.NOT_PRESENT)
            chunks.append(part.read(addr, n))
            addr += n
        return b"".join(chunks)

    def ranges(self) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for part in self.parts:
            for start, end in part.ranges():
                if out and out[-1][1] == start:
                    out[-1] = (out[-1][0], end)
                else:
                    out.append((start, end))
        return out

    def close(self) -> None:
        for part in self.parts:
            part.close()


def open_split(paths: list[str]) -> SplitDump:
    """Open the parts of a split dump; DumpFormatError names the file that is not one."""
    from crashpy.dumpfile.sniff import open_dump

    parts: list[KdumpCompressed] = []
    with closed_on_failure(parts):
        for path in paths:
            dump = open_dump(path)
            parts.append(dump)  # type: ignore[arg-type]
            if not isinstance(dump, KdumpCompressed):
                raise DumpFormatError(f"{path}: not a part of a split dump (several dump files given)")
        return SplitDump(parts)
