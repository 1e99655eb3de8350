"""The DWARF core: units of .debug_info and their DIEs, read only where a look-up leads (never a walk of
every DIE: a kernel has millions).

Nothing is read up front. The unit table (one hop per unit header, ~2,700 for a kernel) is read on the
first look-up by offset; a unit's header alone when a caller names the unit (the line tables do); a
unit's abbreviation table and bytes when a DIE inside it is asked for. Formats: DWARF 2 to 5, 32- and
64-bit DWARF, either byte order; DWARF 5's strx/addrx forms through .debug_str_offsets and .debug_addr
(DWARF 5, sections 7.5 and 7.26-7.27).
"""

from __future__ import annotations

import bisect
import struct
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from crashpy.dwarf.abbrev import Abbrev, AbbrevTable, RawAbbrev, parse_abbrev_table
from crashpy.dwarf.aranges import AddressMap
from crashpy.dwarf.constants import (
    AT_ADDR_BASE,
    AT_NAME,
    AT_STR_OFFSETS_BASE,
    FORM_DATA1,
    FORM_FLAG_PRESENT,
    FORM_IMPLICIT_CONST,
    FORM_LINE_STRP,
    FORM_REF4,
    FORM_REF_SIG8,
    FORM_REF_UDATA,
    FORM_STRING,
    FORM_STRP,
    UT_COMPILE,
    UT_SKELETON,
    UT_SPLIT_COMPILE,
    UT_SPLIT_TYPE,
    UT_TYPE,
)
from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.forms import (
    ADDRX_FORMS,
    SKIP_BLOCK,
    SKIP_BLOCK1,
    SKIP_BLOCK2,
    SKIP_BLOCK4,
    SKIP_CSTRING,
    SKIP_ULEB,
    STRX_FORMS,
    UNIT_REF_FORMS,
    VARIABLE_SKIPS,
    fixed_form_sizes,
    read_form,
    read_uleb,
)
from crashpy.dwarf.source import DwarfSource
from crashpy.elf.errors import ElfError
from crashpy.elf.sections import SectionBytes

_ROOT_WINDOW = 4096  # bytes read for a unit's root DIE alone (a unit may be megabytes)
_UNIT_DATA_KEPT = 16  # units whose bytes are kept (LRU)


class Unit:
    """A unit of .debug_info (a compile unit, usually one C file): header fields, abbreviations.
    DIE offsets are offsets in .debug_info; unit-relative positions count from the unit's first byte."""

    __slots__ = (
        "offset",
        "end",
        "version",
        "unit_type",
        "address_size",
        "offset_size",
        "abbrev_offset",
        "first_die",
        "type_signature",
        "type_offset",
        "sizes",
        "abbrevs",
        "str_offsets_base",
        "addr_base",
    )

    def __init__(self, offset: int, end: int) -> None:
        self.offset = offset
        self.end = end
        self.version = 0
        self.unit_type = UT_COMPILE
        self.address_size = 8
        self.offset_size = 4
        self.abbrev_offset = 0
        self.first_die = 0
        self.type_signature = 0
        self.type_offset = 0
        self.sizes: dict[int, int] = {}
        self.abbrevs: AbbrevTable | None = None
        self.str_offsets_base: int | None = None
        self.addr_base: int | None = None

    def __repr__(self) -> str:
        return f"<Unit {self.offset:#x}..{self.end:#x} v{self.version}>"


class Die:
    """A DIE with its attributes decoded: references as .debug_info offsets, strings as str,
    constants as int, blocks and expressions as bytes, flags as bool."""

    __slots__ = ("offset", "unit", "tag", "has_children", "attrs", "forms", "positions", "attrs_end")

    def __init__(
        self,
        offset: int,
        unit: Unit,
        tag: int,
        has_children: bool,
        attrs: dict[int, Any],
        forms: dict[int, int],
        positions: dict[int, int],
        attrs_end: int,
    ) -> None:
        self.offset = offset
        self.unit = unit
        self.tag = tag
        self.has_children = has_children
        self.attrs = attrs
        self.forms = forms
        self.positions = positions  # attribute -> its value's offset in .debug_info
        self.attrs_end = attrs_end  # .debug_info offset just past the attributes

    def get(self, at: int, default: Any = None) -> Any:
        """The value of attribute `at`, or `default`."""
        return self.attrs.get(at, default)

    @property
    def name(self) -> str | None:
        """DW_AT_name, when it is a string."""
        n = self.attrs.get(AT_NAME)
        return n if isinstance(n, str) else None

    def __repr__(self) -> str:
        return f"<Die {self.offset:#x} tag={self.tag:#x} {self.name or ''}>"


class DwarfInfo:
    """The units of .debug_info of one file and their DIEs, read on demand."""

    def __init__(self, source: DwarfSource) -> None:
        self.source = source
        self.path = source.path
        info = source.section_bytes(".debug_info")
        abbrev = source.section_bytes(".debug_abbrev")
        if info is None or abbrev is None:
            raise DwarfFormatError(f"{source.path}: no DWARF (.debug_info) in this file")
        if source.is_relocatable and (
            source.has_section(".rela.debug_info") or source.has_section(".rel.debug_info")
        ):
            # A kernel module or object file: its DWARF's string and address fields are relocations
            # still to apply, which this reader does not do.
            raise DwarfFormatError(f"{source.path}: relocatable file: its DWARF needs relocating first")
        self.info: SectionBytes = info
        self.abbrev: SectionBytes = abbrev
        self.order = source.order
        self.byteorder = source.byteorder
        self._str: SectionBytes | None = source.section_bytes(".debug_str")
        self._line_str: SectionBytes | None = source.section_bytes(".debug_line_str")
        self._headers: dict[int, Unit] = {}  # unit offset -> Unit, read singly or by the scan
        self._unit_starts: list[int] | None = None
        self._unit_ends: list[int] = []
        self._type_units: dict[int, int] = {}  # signature -> type DIE offset
        self._abbrev_cache: dict[int, dict[int, RawAbbrev]] = {}
        self._data_cache: OrderedDict[int, bytes] = OrderedDict()
        self._aranges: AddressMap | None = None

    @classmethod
    def open(cls, path: str) -> DwarfInfo:
        """The DWARF of the ELF file at `path`."""
        from crashpy.elf.file import ElfFile

        return cls(ElfFile(path))

    # -- units -------------------------------------------------------------------------------------

    def _read_header(self, p: int) -> Unit:
        """The unit whose header starts at .debug_info offset `p` (7.5.1)."""
        info = self.info
        buf, base, size = info.buf, info.start, info.size
        o = self.order
        if p + 11 > size:
            raise DwarfFormatError(f"{self.path}: .debug_info: unit header at {p:#x} beyond its end")
        (length,) = struct.unpack_from(o + "I", buf, base + p)
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from(o + "Q", buf, base + p + 4)
            offset_size, hdr = 8, p + 12
        else:
            offset_size, hdr = 4, p + 4
        end = hdr + length
        if length < 7 or end > size:
            raise DwarfFormatError(f"{self.path}: .debug_info: bad unit length at {p:#x}")
        u = Unit(p, end)
        u.offset_size = offset_size
        (u.version,) = struct.unpack_from(o + "H", buf, base + hdr)
        q = base + hdr + 2
        off_fmt = o + ("Q" if offset_size == 8 else "I")
        if u.version == 5:
            u.unit_type = buf[q]
            u.address_size = buf[q + 1]
            (u.abbrev_offset,) = struct.unpack_from(off_fmt, buf, q + 2)
            q += 2 + offset_size
            if u.unit_type in (UT_SKELETON, UT_SPLIT_COMPILE):
                q += 8  # dwo_id
            elif u.unit_type in (UT_TYPE, UT_SPLIT_TYPE):
                (u.type_signature,) = struct.unpack_from(o + "Q", buf, q)
                (u.type_offset,) = struct.unpack_from(off_fmt, buf, q + 8)
                q += 8 + offset_size
        elif 2 <= u.version <= 4:
            (u.abbrev_offset,) = struct.unpack_from(off_fmt, buf, q)
            u.address_size = buf[q + offset_size]
            q += offset_size + 1
        else:
            raise DwarfFormatError(f"{self.path}: .debug_info: unit at {p:#x} has DWARF version {u.version}")
        u.first_die = q - base
        u.sizes = fixed_form_sizes(u.address_size, offset_size, u.version)
        return u

    def unit_header(self, offset: int) -> Unit:
        """The unit that starts at .debug_info offset `offset` (its header read alone if need be)."""
        u = self._headers.get(offset)
        if u is None:
            u = self._headers[offset] = self._read_header(offset)
        return u

    def _scan(self) -> list[int]:
        """The start of every unit: a hop of unit_length each (headers are read when a unit is used;
        a DWARF 5 type unit's, for its signature, now)."""
        if self._unit_starts is None:
            info = self.info
            buf, base, size = info.buf, info.start, info.size
            head = struct.Struct(self.order + "IHB").unpack_from  # unit_length, version, unit_type
            starts: list[int] = []
            ends: list[int] = []
            p = 0
            while p + 11 <= size:
                length, version, unit_type = head(buf, base + p)
                if length == 0xFFFFFFFF:
                    u = self.unit_header(p)
                    end, version, unit_type = u.end, u.version, u.unit_type
                else:
                    end = p + 4 + length
                    if length < 7 or end > size:
                        raise DwarfFormatError(f"{self.path}: .debug_info: bad unit length at {p:#x}")
                if version >= 5 and unit_type in (UT_TYPE, UT_SPLIT_TYPE):
                    u = self.unit_header(p)
                    self._type_units[u.type_signature] = p + u.type_offset
                starts.append(p)
                ends.append(end)
                p = end
            self._unit_starts = starts
            self._unit_ends = ends
        return self._unit_starts

    @property
    def units(self) -> list[Unit]:
        """Every unit, in .debug_info order (each header read)."""
        return [self.unit_header(p) for p in self._scan()]

    def first_unit(self) -> Unit | None:
        """The first unit (its shape stands for the file's: address and offset sizes)."""
        return self.unit_header(0) if self.info.size >= 11 else None

    def unit_at(self, offset: int) -> Unit:
        """The unit holding .debug_info offset `offset`."""
        starts = self._scan()
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0 or offset >= self._unit_ends[i]:
            raise DwarfFormatError(f"{self.path}: .debug_info offset {offset:#x} is in no unit")
        u = self.unit_header(starts[i])
        if u.abbrevs is None:
            self._load_abbrevs(u)
        return u

    def unit_data(self, u: Unit) -> bytes:
        """The unit's bytes (a copy, kept for the few most recently used units)."""
        data = self._data_cache.get(u.offset)
        if data is not None:
            self._data_cache.move_to_end(u.offset)
            return data
        data = self.info.read(u.offset, u.end - u.offset)
        self._data_cache[u.offset] = data
        if len(self._data_cache) > _UNIT_DATA_KEPT:
            self._data_cache.popitem(last=False)
        return data

    def abbrevs_of(self, u: Unit) -> AbbrevTable:
        """The unit's abbreviation table (read on first use)."""
        return u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)

    def _load_abbrevs(self, u: Unit) -> AbbrevTable:
        table = self._abbrev_cache.get(u.abbrev_offset)
        if table is None:
            table = self._abbrev_cache[u.abbrev_offset] = self._parse_abbrevs(u.abbrev_offset)
        abbrevs = u.abbrevs = AbbrevTable(table, u.sizes)
        if u.version >= 5:
            self._unit_bases(u, abbrevs)
        return abbrevs

    def _parse_abbrevs(self, offset: int) -> dict[int, RawAbbrev]:
        sec = self.abbrev
        # An abbreviation table ends with a 0 code; read growing windows until it does.
        window = 16384
        while True:
            data = sec.read_upto(offset, window)
            try:
                return parse_abbrev_table(data)
            except IndexError:
                if offset + window >= sec.size:
                    raise DwarfFormatError(
                        f"{self.path}: .debug_abbrev: truncated table at {offset:#x}"
                    ) from None
                window *= 4

    def _unit_bases(self, u: Unit, abbrevs: AbbrevTable) -> None:
        """DW_AT_str_offsets_base / DW_AT_addr_base of a DWARF 5 unit (for the strx/addrx forms)."""
        forms = {form for _t, _c, attrs in abbrevs.raw.values() for _a, form, _i in attrs}
        if not forms & (STRX_FORMS | ADDRX_FORMS):
            return
        die = self.root_die(u, resolve_strings=False, resolve_addresses=False)
        sob = die.get(AT_STR_OFFSETS_BASE)
        u.str_offsets_base = sob if isinstance(sob, int) else (8 if u.offset_size == 4 else 16)
        ab_ = die.get(AT_ADDR_BASE)
        u.addr_base = ab_ if isinstance(ab_, int) else 8

    # -- DIEs --------------------------------------------------------------------------------------

    def die(self, offset: int, unit: Unit | None = None, resolve_strings: bool = True) -> Die:
        """The DIE at .debug_info offset `offset`, attributes decoded."""
        u = unit if unit is not None else self.unit_at(offset)
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        return self._decode(u, abbrevs, self.unit_data(u), offset, resolve_strings)

    def root_die(self, u: Unit, resolve_strings: bool = True, resolve_addresses: bool = True) -> Die:
        """The unit's root DIE (DW_TAG_compile_unit, ...), read from its first bytes only (without
        `resolve_addresses`, DW_FORM_addrx values stay indexes: the unit's DW_AT_addr_base is read so)."""
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        cached = self._data_cache.get(u.offset)
        if cached is None:
            window = self.info.read_upto(u.offset, min(u.end - u.offset, _ROOT_WINDOW))
            try:
                die = self._decode(u, abbrevs, window, u.first_die, resolve_strings, resolve_addresses)
                if die.attrs_end - u.offset <= len(window):
                    return die
            except (IndexError, ValueError):
                pass  # the root DIE runs past the window
            cached = self.unit_data(u)
        return self._decode(u, abbrevs, cached, u.first_die, resolve_strings, resolve_addresses)

    def _decode(
        self,
        u: Unit,
        abbrevs: AbbrevTable,
        data: bytes,
        offset: int,
        resolve_strings: bool,
        resolve_addresses: bool = True,
    ) -> Die:
        """The DIE at `offset` from the unit's bytes `data` (which start at the unit's first byte)."""
        base = u.offset
        p = offset - base
        code, p = read_uleb(data, p)
        if code == 0:
            raise DwarfFormatError(f"{self.path}: .debug_info: null entry at {offset:#x}, not a DIE")
        ab = abbrevs.get(code)
        if ab is None:
            raise DwarfFormatError(
                f"{self.path}: .debug_info: DIE at {offset:#x} has unknown abbreviation {code}"
            )
        attrs: dict[int, Any] = {}
        forms: dict[int, int] = {}
        positions: dict[int, int] = {}
        bo = self.byteorder
        offset_size = u.offset_size
        for at, form, implicit in ab.attrs:
            start = p
            value: Any
            # The commonest forms first, inline; the rest through the one form decoder.
            if form == FORM_DATA1:
                value = data[p]
                p += 1
            elif form == FORM_REF4:
                value = int.from_bytes(data[p : p + 4], bo) + base
                p += 4
            elif form == FORM_STRP or form == FORM_LINE_STRP:
                value = int.from_bytes(data[p : p + offset_size], bo)
                p += offset_size
                if resolve_strings:
                    value = self.string(form, value)
            elif form == FORM_STRING:
                end = data.index(b"\0", p)
                value = data[p:end].decode("utf-8", "replace")
                p = end + 1
            elif form == FORM_FLAG_PRESENT:
                value = True
            elif form == FORM_IMPLICIT_CONST:
                value = implicit
            else:
                form, value, p = read_form(data, p, form, u.sizes, bo, implicit)
                if form in UNIT_REF_FORMS:
                    value += base
                elif form in STRX_FORMS:
                    if resolve_strings:
                        value = self._strx(u, value)
                elif form in ADDRX_FORMS:
                    if resolve_addresses:
                        value = self.address_at(u, value)
                elif form == FORM_STRP or form == FORM_LINE_STRP:  # after DW_FORM_indirect
                    if resolve_strings:
                        value = self.string(form, value)
                elif form == FORM_REF_SIG8:
                    value = self.type_unit_die(value)
            if at not in attrs:
                attrs[at] = value
                forms[at] = form
                positions[at] = base + start
        return Die(offset, u, ab.tag, ab.children, attrs, forms, positions, base + p)

    def type_unit_die(self, signature: int) -> int:
        """The .debug_info offset of the type DIE of the type unit with `signature` (DW_FORM_ref_sig8)."""
        self._scan()
        found = self._type_units.get(signature)
        if found is None:
            raise DwarfFormatError(f"{self.path}: type unit signature {signature:#x} not in .debug_info")
        return found

    def string(self, form: int, offset: int) -> str:
        """The string at `offset` of .debug_str (DW_FORM_strp) or .debug_line_str (DW_FORM_line_strp)."""
        sec = self._str if form == FORM_STRP else self._line_str
        if sec is None:
            name = ".debug_str" if form == FORM_STRP else ".debug_line_str"
            raise DwarfFormatError(f"{self.path}: string form without its string section {name}")
        try:
            return sec.cstring(offset).decode("utf-8", "replace")
        except ElfError as e:
            raise DwarfFormatError(f"{self.path}: {e}") from None

    def _strx(self, u: Unit, index: int) -> str:
        sec = self.source.section_bytes(".debug_str_offsets")
        if sec is None or u.str_offsets_base is None:
            raise DwarfFormatError(f"{self.path}: DW_FORM_strx without .debug_str_offsets")
        raw = sec.read(u.str_offsets_base + index * u.offset_size, u.offset_size)
        return self.string(FORM_STRP, int.from_bytes(raw, self.byteorder))

    def address_at(self, u: Unit, index: int) -> int:
        """Entry `index` of the unit's .debug_addr table (DW_FORM_addrx, DW_RLE_startx_*, ...)."""
        if u.abbrevs is None:
            self._load_abbrevs(u)  # reads DW_AT_addr_base
        sec = self.source.section_bytes(".debug_addr")
        if sec is None or u.addr_base is None:
            raise DwarfFormatError(f"{self.path}: DW_FORM_addrx without .debug_addr")
        raw = sec.read(u.addr_base + index * u.address_size, u.address_size)
        return int.from_bytes(raw, self.byteorder)

    # -- walking DIEs without decoding them ---------------------------------------------------------

    def skip_attrs(self, u: Unit, data: bytes, p: int, ab: Abbrev) -> int:
        """Unit-relative position just past the attributes of a DIE whose attributes start at `p`."""
        if ab.fixed_size is not None:
            return p + ab.fixed_size
        for step in ab.skip:
            if step >= 0:
                p += step
            elif step == SKIP_ULEB:
                while data[p] >= 0x80:
                    p += 1
                p += 1
            elif step == SKIP_CSTRING:
                p = data.index(b"\0", p) + 1
            elif step == SKIP_BLOCK:
                n, p = read_uleb(data, p)
                p += n
            elif step == SKIP_BLOCK1:
                p += 1 + data[p]
            elif step == SKIP_BLOCK2:
                p += 2 + int.from_bytes(data[p : p + 2], self.byteorder)
            elif step == SKIP_BLOCK4:
                p += 4 + int.from_bytes(data[p : p + 4], self.byteorder)
            else:  # DW_FORM_indirect: the form comes first
                form, p = read_uleb(data, p)
                p = self._skip_form(u, data, p, form)
        return p

    def _skip_form(self, u: Unit, data: bytes, p: int, form: int) -> int:
        size = u.sizes.get(form)
        if size is not None:
            return p + size
        step = VARIABLE_SKIPS.get(form)
        if step is None:
            raise DwarfFormatError(f"{self.path}: unknown DWARF form {form:#x}")
        ab = Abbrev(0, False, ((0, form, 0),))
        ab.skip = (step,)
        return self.skip_attrs(u, data, p, ab)

    def sibling(self, u: Unit, data: bytes, p: int, ab: Abbrev) -> int | None:
        """The unit-relative DW_AT_sibling of the DIE whose attributes start at `p`, if it is cheap."""
        sib = ab.sibling_at
        if sib is None:
            return None
        at, form = sib
        q = p + at
        if form == FORM_REF4:
            return int.from_bytes(data[q : q + 4], self.byteorder)
        if form == FORM_REF_UDATA:
            return read_uleb(data, q)[0]
        size = u.sizes.get(form)
        if form in UNIT_REF_FORMS and size:
            return int.from_bytes(data[q : q + size], self.byteorder)
        return None

    def skip_children(self, u: Unit, data: bytes, p: int) -> int:
        """Unit-relative position just past the children (and their null entry) starting at `p`."""
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        depth = 1
        while depth:
            code = data[p]
            if code < 0x80:
                p += 1
            else:
                code, p = read_uleb(data, p)
            if code == 0:
                depth -= 1
                continue
            ab = abbrevs[code]
            if ab.children:
                sib = self.sibling(u, data, p, ab)
                if sib is not None and sib > p:
                    p = sib
                    continue
                p = self.skip_attrs(u, data, p, ab)
                depth += 1
            else:
                p = self.skip_attrs(u, data, p, ab)
        return p

    def _next(self, u: Unit, data: bytes, p: int, ab: Abbrev) -> int:
        """Unit-relative position of the next sibling of the DIE whose attributes start at `p`."""
        if ab.children:
            sib = self.sibling(u, data, p, ab)
            if sib is not None and sib > p:
                return sib
            return self.skip_children(u, data, self.skip_attrs(u, data, p, ab))
        return self.skip_attrs(u, data, p, ab)

    def children(self, die: Die) -> Iterator[int]:
        """The .debug_info offsets of a DIE's children, in order."""
        if not die.has_children:
            return
        u = die.unit
        data = self.unit_data(u)
        base = u.offset
        p = die.attrs_end - base
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        end = len(data)
        while p < end:
            start = p
            code, p = read_uleb(data, p)
            if code == 0:
                return
            yield base + start
            ab = abbrevs.get(code)
            if ab is None:
                raise DwarfFormatError(
                    f"{self.path}: .debug_info: unknown abbreviation {code} at {base + start:#x}"
                )
            p = self._next(u, data, p, ab)

    def top_level(self, u: Unit) -> Iterator[tuple[int, Abbrev]]:
        """(.debug_info offset, abbreviation) of each child of the unit's root DIE, in order."""
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        data = self.unit_data(u)
        base = u.offset
        p = u.first_die - base
        code, p = read_uleb(data, p)
        root = abbrevs.get(code)
        if root is None or not root.children:
            return
        p = self.skip_attrs(u, data, p, root)
        end = len(data)
        while p < end:
            start = p
            code, p = read_uleb(data, p)
            if code == 0:
                return
            ab = abbrevs.get(code)
            if ab is None:
                raise DwarfFormatError(
                    f"{self.path}: .debug_info: unknown abbreviation {code} at {base + start:#x}"
                )
            yield base + start, ab
            p = self._next(u, data, p, ab)

    # -- .debug_aranges ----------------------------------------------------------------------------

    @property
    def address_map(self) -> AddressMap:
        """.debug_aranges as an address -> unit map (read whole on first use)."""
        if self._aranges is None:
            self._aranges = AddressMap.read(self.source.section_bytes(".debug_aranges"), self.order)
        return self._aranges

    def unit_for_address(self, address: int) -> Unit | None:
        """The unit whose code covers `address`, from .debug_aranges."""
        off = self.address_map.unit_at(address)
        return None if off is None else self.unit_at(off)
