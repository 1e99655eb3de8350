"""Address ranges and location lists of a DIE (DWARF 5, 2.17 and 2.6.2): DW_AT_low_pc/DW_AT_high_pc,
DW_AT_ranges through .debug_rnglists (DWARF 5, DW_FORM_rnglistx too) or .debug_ranges (DWARF 2-4), and
location lists through .debug_loclists (DW_FORM_loclistx too) or .debug_loc."""

from __future__ import annotations

from crashpy.dwarf.constants import (
    AT_HIGH_PC,
    AT_LOCATION,
    AT_LOCLISTS_BASE,
    AT_LOW_PC,
    AT_RANGES,
    AT_RNGLISTS_BASE,
    FORM_ADDR,
    FORM_LOCLISTX,
    FORM_RNGLISTX,
)
from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.forms import ADDRX_FORMS, read_uleb
from crashpy.dwarf.info import Die, DwarfInfo, Unit

# DW_RLE_* (7.25) and DW_LLE_* (7.7.3)
RLE_END_OF_LIST, RLE_BASE_ADDRESSX, RLE_STARTX_ENDX, RLE_STARTX_LENGTH = 0, 1, 2, 3
RLE_OFFSET_PAIR, RLE_BASE_ADDRESS, RLE_START_END, RLE_START_LENGTH = 4, 5, 6, 7
LLE_END_OF_LIST, LLE_BASE_ADDRESSX, LLE_STARTX_ENDX, LLE_STARTX_LENGTH = 0, 1, 2, 3
LLE_OFFSET_PAIR, LLE_DEFAULT_LOCATION, LLE_BASE_ADDRESS, LLE_START_END, LLE_START_LENGTH = 4, 5, 6, 7, 8

# (start, end, expression); start and end are None for DW_LLE_default_location
Location = tuple[int | None, int | None, bytes]


def die_ranges(dwarf: DwarfInfo, die: Die) -> list[tuple[int, int]]:
    """The [start, end) address ranges of a DIE's code: its DW_AT_ranges list, else DW_AT_low_pc and
    DW_AT_high_pc (an address, or from DWARF 4 on a length when it is a constant); [] without either."""
    if AT_RANGES in die.attrs:
        return range_list(dwarf, die.unit, die.attrs[AT_RANGES], die.forms[AT_RANGES])
    low, high = die.get(AT_LOW_PC), die.get(AT_HIGH_PC)
    if not isinstance(low, int) or not isinstance(high, int):
        return []
    form = die.forms[AT_HIGH_PC]
    end = high if form == FORM_ADDR or form in ADDRX_FORMS else low + high
    return [(low, end)] if end > low else []


def range_list(dwarf: DwarfInfo, u: Unit, value: int, form: int) -> list[tuple[int, int]]:
    """The ranges of the DW_AT_ranges value `value` (of `form`) of a DIE in unit `u`."""
    if u.version >= 5:
        sec = dwarf.source.section_bytes(".debug_rnglists")
        if sec is None:
            raise DwarfFormatError(f"{dwarf.path}: DW_AT_ranges without .debug_rnglists")
        offset = _list_offset(dwarf, u, value, form == FORM_RNGLISTX, AT_RNGLISTS_BASE, ".debug_rnglists")
        data = sec.read_upto(offset, sec.size)
        return _rnglist(dwarf, u, data)
    sec = dwarf.source.section_bytes(".debug_ranges")
    if sec is None:
        raise DwarfFormatError(f"{dwarf.path}: DW_AT_ranges without .debug_ranges")
    return [(a, b) for a, b, _e in _pairs(dwarf, u, sec.read_upto(value, sec.size), with_expr=False)]


def location_list(dwarf: DwarfInfo, die: Die, at: int = AT_LOCATION) -> list[Location]:
    """The locations of attribute `at`: one expression valid everywhere, or the entries of its location
    list with their [start, end) addresses; [] when the DIE has no such attribute."""
    value = die.attrs.get(at)
    if value is None:
        return []
    if isinstance(value, bytes):
        return [(None, None, value)]
    u = die.unit
    form = die.forms[at]
    if u.version >= 5:
        sec = dwarf.source.section_bytes(".debug_loclists")
        if sec is None:
            raise DwarfFormatError(f"{dwarf.path}: location list without .debug_loclists")
        offset = _list_offset(dwarf, u, value, form == FORM_LOCLISTX, AT_LOCLISTS_BASE, ".debug_loclists")
        return _loclist(dwarf, u, sec.read_upto(offset, sec.size))
    sec = dwarf.source.section_bytes(".debug_loc")
    if sec is None:
        raise DwarfFormatError(f"{dwarf.path}: location list without .debug_loc")
    return list(_pairs(dwarf, u, sec.read_upto(value, sec.size), with_expr=True))


def unit_base_address(dwarf: DwarfInfo, u: Unit) -> int:
    """The unit's base address for its lists: its root DIE's DW_AT_low_pc (0 without one)."""
    low = dwarf.root_die(u).get(AT_LOW_PC)
    return low if isinstance(low, int) else 0


def _list_offset(dwarf: DwarfInfo, u: Unit, value: int, indexed: bool, base_at: int, name: str) -> int:
    """The list's offset in its section: the value itself, or for an index (rnglistx/loclistx) the
    base plus the offset at that index of the offsets array after the section's header."""
    if not indexed:
        return value
    base = dwarf.root_die(u).get(base_at)
    if not isinstance(base, int):
        base = 12 if u.offset_size == 4 else 20  # just past the first header
    sec = dwarf.source.section_bytes(name)
    assert sec is not None
    entry = sec.read(base + value * u.offset_size, u.offset_size)
    return base + int.from_bytes(entry, dwarf.byteorder)


def _addr(dwarf: DwarfInfo, u: Unit, data: bytes, p: int) -> tuple[int, int]:
    size = u.address_size
    if p + size > len(data):
        raise DwarfFormatError(f"{dwarf.path}: a list runs past the end of its section")
    return int.from_bytes(data[p : p + size], dwarf.byteorder), p + size


def _rnglist(dwarf: DwarfInfo, u: Unit, data: bytes) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    base = unit_base_address(dwarf, u)
    p = 0
    while True:
        kind = data[p]
        p += 1
        if kind == RLE_END_OF_LIST:
            return out
        if kind == RLE_BASE_ADDRESSX:
            index, p = read_uleb(data, p)
            base = dwarf.address_at(u, index)
            continue
        if kind == RLE_BASE_ADDRESS:
            base, p = _addr(dwarf, u, data, p)
            continue
        if kind in (RLE_STARTX_ENDX, RLE_STARTX_LENGTH):
            index, p = read_uleb(data, p)
            start = dwarf.address_at(u, index)
            second, p = read_uleb(data, p)
            end = dwarf.address_at(u, second) if kind == RLE_STARTX_ENDX else start + second
        elif kind == RLE_OFFSET_PAIR:
            a, p = read_uleb(data, p)
            b, p = read_uleb(data, p)
            start, end = base + a, base + b
        elif kind in (RLE_START_END, RLE_START_LENGTH):
            start, p = _addr(dwarf, u, data, p)
            if kind == RLE_START_END:
                end, p = _addr(dwarf, u, data, p)
            else:
                length, p = read_uleb(data, p)
                end = start + length
        else:
            raise DwarfFormatError(f"{dwarf.path}: unknown range list entry {kind}")
        if end > start:
            out.append((start, end))


def _loclist(dwarf: DwarfInfo, u: Unit, data: bytes) -> list[Location]:
    out: list[Location] = []
    base = unit_base_address(dwarf, u)
    p = 0
    while True:
        kind = data[p]
        p += 1
        start: int | None
        end: int | None
        if kind == LLE_END_OF_LIST:
            return out
        if kind == LLE_BASE_ADDRESSX:
            index, p = read_uleb(data, p)
            base = dwarf.address_at(u, index)
            continue
        if kind == LLE_BASE_ADDRESS:
            base, p = _addr(dwarf, u, data, p)
            continue
        if kind in (LLE_STARTX_ENDX, LLE_STARTX_LENGTH):
            index, p = read_uleb(data, p)
            start = dwarf.address_at(u, index)
            second, p = read_uleb(data, p)
            end = dwarf.address_at(u, second) if kind == LLE_STARTX_ENDX else start + second
        elif kind == LLE_OFFSET_PAIR:
            a, p = read_uleb(data, p)
            b, p = read_uleb(data, p)
            start, end = base + a, base + b
        elif kind in (LLE_START_END, LLE_START_LENGTH):
            start, p = _addr(dwarf, u, data, p)
            if kind == LLE_START_END:
                end, p = _addr(dwarf, u, data, p)
            else:
                length, p = read_uleb(data, p)
                end = start + length
        elif kind == LLE_DEFAULT_LOCATION:
            start = end = None
        else:
            raise DwarfFormatError(f"{dwarf.path}: unknown location list entry {kind}")
        n, p = read_uleb(data, p)
        out.append((start, end, data[p : p + n]))
        p += n


def _pairs(dwarf: DwarfInfo, u: Unit, data: bytes, with_expr: bool) -> list[tuple[int, int, bytes]]:
    """DWARF 2-4 .debug_ranges / .debug_loc entries: (start, end) pairs from the base address (a pair
    whose start is all ones sets a new base), each location with a 2-byte length and an expression."""
    out: list[tuple[int, int, bytes]] = []
    base = unit_base_address(dwarf, u)
    all_ones = (1 << (8 * u.address_size)) - 1
    p = 0
    while True:
        a, p = _addr(dwarf, u, data, p)
        b, p = _addr(dwarf, u, data, p)
        if a == 0 and b == 0:
            return out
        if a == all_ones:
            base = b
            continue
        expr = b""
        if with_expr:
            n = int.from_bytes(data[p : p + 2], dwarf.byteorder)
            expr = data[p + 2 : p + 2 + n]
            p += 2 + n
        if b > a or with_expr:
            out.append((base + a, base + b, expr))
