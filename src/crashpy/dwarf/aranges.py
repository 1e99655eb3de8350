""".debug_aranges (DWARF 5, 6.1.2): which unit's code covers an address, read whole once and bisected.

Where units' ranges overlap, the first unit in .debug_info order keeps the bytes (gdb fills its
pc -> unit map with addrmap_set_empty, unit by unit). A range at address 0 is a function the linker
dropped and is left out; a set of another version than 2, or with segment selectors, is skipped (gdb
complains and skips it too).
"""

from __future__ import annotations

import bisect
import struct

from crashpy.dwarf.forms import ByteOrder
from crashpy.elf.sections import SectionBytes


def read_aranges(sec: SectionBytes | None, order: str) -> list[tuple[int, int, int]]:
    """Every (unit offset, start, end) of .debug_aranges, in file order."""
    if sec is None:
        return []
    data = sec.all()
    byteorder: ByteOrder = "little" if order == "<" else "big"
    u32 = struct.Struct(order + "I")
    ranges: list[tuple[int, int, int]] = []
    pos = 0
    n = len(data)
    while pos + 4 <= n:
        set_start = pos
        (length,) = u32.unpack_from(data, pos)
        pos += 4
        offset_size = 4
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from(order + "Q", data, pos)
            pos += 8
            offset_size = 8
        end = pos + length
        if length == 0 or end > n:
            break
        (version,) = struct.unpack_from(order + "H", data, pos)
        cu_off = int.from_bytes(data[pos + 2 : pos + 2 + offset_size], byteorder)
        p = pos + 2 + offset_size
        addr_size = data[p]
        seg_size = data[p + 1]
        p += 2
        pos = end
        if version != 2 or addr_size not in (2, 4, 8) or seg_size != 0:
            continue
        # The tuples start at a multiple of the tuple size from the start of the set.
        tuple_size = 2 * addr_size
        p = set_start + -(-(p - set_start) // tuple_size) * tuple_size
        count = (end - p) // tuple_size
        fmt = order + {2: "HH", 4: "II", 8: "QQ"}[addr_size]
        for a, ln in struct.iter_unpack(fmt, data[p : p + count * tuple_size]):
            if a == 0 and ln == 0:
                break
            if ln and a:
                ranges.append((cu_off, a, a + ln))
    return ranges


class AddressMap:
    """Disjoint address intervals, each with the .debug_info offset of the unit that covers it."""

    def __init__(self, ranges: list[tuple[int, int, int]]) -> None:
        self.lo, self.hi, self.unit = _flatten(ranges)
        self.unit_low: dict[int, int] = {}  # unit offset -> its lowest address in .debug_aranges
        for cu_off, a, _b in ranges:
            if cu_off not in self.unit_low or a < self.unit_low[cu_off]:
                self.unit_low[cu_off] = a

    @classmethod
    def read(cls, sec: SectionBytes | None, order: str) -> AddressMap:
        """The map of a .debug_aranges section (empty without one)."""
        return cls(read_aranges(sec, order))

    def __len__(self) -> int:
        return len(self.lo)

    def unit_at(self, address: int) -> int | None:
        """The .debug_info offset of the unit whose ranges cover `address`, or None."""
        i = bisect.bisect_right(self.lo, address) - 1
        if i >= 0 and address < self.hi[i]:
            return self.unit[i]
        return None

    def overlapping(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """The (start, end, unit offset) intervals that meet [lo, hi), in address order."""
        out: list[tuple[int, int, int]] = []
        i = max(bisect.bisect_right(self.lo, lo) - 1, 0)
        while i < len(self.lo) and self.lo[i] < hi:
            if self.hi[i] > lo:
                out.append((self.lo[i], self.hi[i], self.unit[i]))
            i += 1
        return out


def _flatten(ranges: list[tuple[int, int, int]]) -> tuple[list[int], list[int], list[int]]:
    """Disjoint intervals (starts, ends, units); where units overlap the first in .debug_info order
    keeps the bytes."""
    ordered = sorted(ranges, key=lambda r: (r[1], r[2]))
    overlap = any(ordered[i][2] > ordered[i + 1][1] for i in range(len(ordered) - 1))
    if not overlap:
        return [r[1] for r in ordered], [r[2] for r in ordered], [r[0] for r in ordered]
    los: list[int] = []
    his: list[int] = []
    cus: list[int] = []
    for cu, a, b in sorted(ranges, key=lambda r: r[0]):
        # Insert the parts of [a, b) not yet claimed.
        i = bisect.bisect_right(los, a) - 1
        if i >= 0 and his[i] > a:
            a = his[i]
        i += 1
        pieces: list[tuple[int, int]] = []
        while a < b:
            if i < len(los) and los[i] < b:
                if a < los[i]:
                    pieces.append((a, los[i]))
                a = max(a, his[i])
                i += 1
            else:
                pieces.append((a, b))
                break
        for pa, pb in pieces:
            k = bisect.bisect_left(los, pa)
            los.insert(k, pa)
            his.insert(k, pb)
            cus.insert(k, cu)
    return los, his, cus
