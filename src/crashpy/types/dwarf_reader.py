"""The low half of the DWARF reader: an ELF file mapped into memory, its DWARF units and their DIEs,
read only where a look-up leads (never a walk of every DIE: a kernel has millions).

What is read eagerly is tiny: the ELF section headers and the unit table (one hop per unit header,
~2,000 for a kernel). A unit's abbreviation table and bytes are read when a DIE inside it is asked for.
Formats: DWARF 2 to 5, 32- and 64-bit DWARF, little- and big-endian ELF (DWARF 5 spec, section 7).
"""

from __future__ import annotations

import array
import bisect
import mmap
import os
import struct
import sys
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from crashpy.errors import CrashpyError

# ---------------------------------------------------------------------------------------------------------
# Constants (DWARF 5, section 7.5)

TAG_ARRAY_TYPE = 0x01
TAG_CLASS_TYPE = 0x02
TAG_ENUMERATION_TYPE = 0x04
TAG_FORMAL_PARAMETER = 0x05
TAG_MEMBER = 0x0D
TAG_POINTER_TYPE = 0x0F
TAG_REFERENCE_TYPE = 0x10
TAG_COMPILE_UNIT = 0x11
TAG_STRUCTURE_TYPE = 0x13
TAG_SUBROUTINE_TYPE = 0x15
TAG_TYPEDEF = 0x16
TAG_UNION_TYPE = 0x17
TAG_UNSPECIFIED_PARAMETERS = 0x18
TAG_SUBRANGE_TYPE = 0x21
TAG_BASE_TYPE = 0x24
TAG_CONST_TYPE = 0x26
TAG_ENUMERATOR = 0x28
TAG_SUBPROGRAM = 0x2E
TAG_VARIABLE = 0x34
TAG_VOLATILE_TYPE = 0x35
TAG_RESTRICT_TYPE = 0x37
TAG_UNSPECIFIED_TYPE = 0x3B
TAG_PARTIAL_UNIT = 0x3C
TAG_ATOMIC_TYPE = 0x47
TAG_IMMUTABLE_TYPE = 0x4B

AT_SIBLING = 0x01
AT_LOCATION = 0x02
AT_NAME = 0x03
AT_BYTE_SIZE = 0x0B
AT_BIT_OFFSET = 0x0C
AT_BIT_SIZE = 0x0D
AT_LOW_PC = 0x11
AT_LANGUAGE = 0x13
AT_CONST_VALUE = 0x1C
AT_INLINE = 0x20
AT_PROTOTYPED = 0x27
AT_LOWER_BOUND = 0x22
AT_COUNT = 0x37
AT_UPPER_BOUND = 0x2F
AT_ABSTRACT_ORIGIN = 0x31
AT_DATA_MEMBER_LOCATION = 0x38
AT_DECLARATION = 0x3C
AT_ENCODING = 0x3E
AT_EXTERNAL = 0x3F
AT_SPECIFICATION = 0x47
AT_TYPE = 0x49
AT_DATA_BIT_OFFSET = 0x6B
AT_RANGES = 0x55
AT_STR_OFFSETS_BASE = 0x72
AT_ADDR_BASE = 0x73

FORM_ADDR = 0x01
FORM_BLOCK2 = 0x03
FORM_BLOCK4 = 0x04
FORM_DATA2 = 0x05
FORM_DATA4 = 0x06
FORM_DATA8 = 0x07
FORM_STRING = 0x08
FORM_BLOCK = 0x09
FORM_BLOCK1 = 0x0A
FORM_DATA1 = 0x0B
FORM_FLAG = 0x0C
FORM_SDATA = 0x0D
FORM_STRP = 0x0E
FORM_UDATA = 0x0F
FORM_REF_ADDR = 0x10
FORM_REF1 = 0x11
FORM_REF2 = 0x12
FORM_REF4 = 0x13
FORM_REF8 = 0x14
FORM_REF_UDATA = 0x15
FORM_INDIRECT = 0x16
FORM_SEC_OFFSET = 0x17
FORM_EXPRLOC = 0x18
FORM_FLAG_PRESENT = 0x19
FORM_STRX = 0x1A
FORM_ADDRX = 0x1B
FORM_REF_SUP4 = 0x1C
FORM_STRP_SUP = 0x1D
FORM_DATA16 = 0x1E
FORM_LINE_STRP = 0x1F
FORM_REF_SIG8 = 0x20
FORM_IMPLICIT_CONST = 0x21
FORM_LOCLISTX = 0x22
FORM_RNGLISTX = 0x23
FORM_REF_SUP8 = 0x24
FORM_STRX1 = 0x25
FORM_STRX2 = 0x26
FORM_STRX3 = 0x27
FORM_STRX4 = 0x28
FORM_ADDRX1 = 0x29
FORM_ADDRX2 = 0x2A
FORM_ADDRX3 = 0x2B
FORM_ADDRX4 = 0x2C
FORM_GNU_ADDR_INDEX = 0x1F01
FORM_GNU_STR_INDEX = 0x1F02
FORM_GNU_REF_ALT = 0x1F20
FORM_GNU_STRP_ALT = 0x1F21

UT_COMPILE = 0x01
UT_TYPE = 0x02
UT_PARTIAL = 0x03
UT_SKELETON = 0x04
UT_SPLIT_COMPILE = 0x05
UT_SPLIT_TYPE = 0x06

OP_ADDR = 0x03

# Forms whose value is a reference to another DIE in the same unit (offset from the unit's start).
_UNIT_REF_FORMS = frozenset({FORM_REF1, FORM_REF2, FORM_REF4, FORM_REF8, FORM_REF_UDATA})
_STRX_FORMS = frozenset({FORM_STRX, FORM_STRX1, FORM_STRX2, FORM_STRX3, FORM_STRX4, FORM_GNU_STR_INDEX})
_ADDRX_FORMS = frozenset(
    {FORM_ADDRX, FORM_ADDRX1, FORM_ADDRX2, FORM_ADDRX3, FORM_ADDRX4, FORM_GNU_ADDR_INDEX}
)
_CONSTANT_FORMS = frozenset({FORM_DATA1, FORM_DATA2, FORM_DATA4, FORM_DATA8, FORM_UDATA, FORM_SDATA})

# How the skipper treats variable-length forms (fixed-size ones are a non-negative byte count).
_SKIP_ULEB = -1
_SKIP_CSTRING = -2
_SKIP_BLOCK1 = -3
_SKIP_BLOCK2 = -4
_SKIP_BLOCK4 = -5
_SKIP_BLOCK = -6
_SKIP_INDIRECT = -7


class DwarfFormatError(CrashpyError):
    """The file is not ELF, lacks DWARF, or its DWARF is corrupt or of a kind this reader does not read."""


def read_uleb(data: bytes, p: int) -> tuple[int, int]:
    """(value, position after it) of the ULEB128 at `p`."""
    b = data[p]
    if b < 0x80:
        return b, p + 1
    value = b & 0x7F
    shift = 7
    p += 1
    while True:
        b = data[p]
        p += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, p
        shift += 7


def read_sleb(data: bytes, p: int) -> tuple[int, int]:
    """(value, position after it) of the SLEB128 at `p`."""
    value = 0
    shift = 0
    while True:
        b = data[p]
        p += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                value -= 1 << shift
            return value, p


# ---------------------------------------------------------------------------------------------------------
# The ELF file


class Section:
    """One ELF section's bytes: a window on the file's mapping (or decompressed bytes)."""

    __slots__ = ("name", "buf", "start", "size", "addr")

    def __init__(self, name: str, buf: mmap.mmap | bytes, start: int, size: int, addr: int) -> None:
        self.name = name
        self.buf = buf
        self.start = start
        self.size = size
        self.addr = addr

    def find(self, needle: bytes, pos: int = 0, end: int | None = None) -> int:
        """Offset in the section of the first `needle` at or after `pos` (before `end`), or -1."""
        stop = self.start + (self.size if end is None else min(end, self.size))
        hit = self.buf.find(needle, self.start + pos, stop)
        return -1 if hit < 0 else hit - self.start

    def read(self, pos: int, length: int) -> bytes:
        if pos < 0 or pos + length > self.size:
            raise DwarfFormatError(f"{self.name}: read of {length} bytes at {pos:#x} beyond its end")
        return bytes(self.buf[self.start + pos : self.start + pos + length])

    def cstring(self, pos: int) -> bytes:
        """The NUL-terminated string at `pos`, without its NUL."""
        if pos < 0 or pos >= self.size:
            raise DwarfFormatError(f"{self.name}: string offset {pos:#x} out of range")
        a = self.start + pos
        end = self.buf.find(b"\0", a, self.start + self.size)
        if end < 0:
            raise DwarfFormatError(f"{self.name}: unterminated string at {pos:#x}")
        return bytes(self.buf[a:end])

    def all(self) -> bytes:
        return bytes(self.buf[self.start : self.start + self.size])


_ET_REL = 1
_SHT_SYMTAB = 2
_SHT_NOTE = 7
_SHT_NOBITS = 8
_SHF_COMPRESSED = 0x800
_SHN_XINDEX = 0xFFFF

STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_TLS = 6


class ElfSymbol:
    __slots__ = ("name", "value", "size", "type", "bind", "shndx")

    def __init__(self, name: str, value: int, size: int, info: int, shndx: int) -> None:
        self.name = name
        self.value = value
        self.size = size
        self.type = info & 0xF
        self.bind = info >> 4
        self.shndx = shndx

    def __repr__(self) -> str:
        return f"<ElfSymbol {self.name} {self.value:#x} size={self.size} type={self.type} bind={self.bind}>"


class MappedElf:
    """An ELF file mapped read-only: its sections by name, its build-id and symbol look-ups by name."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        with open(self.path, "rb") as f:
            try:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError as e:  # an empty file
                raise DwarfFormatError(f"{self.path}: not an ELF file") from e
        m = self._map
        if len(m) < 52 or m[:4] != b"\x7fELF":
            raise DwarfFormatError(f"{self.path}: not an ELF file")
        self.is64 = m[4] == 2
        self.order = "<" if m[5] == 1 else ">"
        o = self.order
        (self.e_type,) = struct.unpack_from(o + "H", m, 16)
        if self.is64:
            (shoff,) = struct.unpack_from(o + "Q", m, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", m, 0x3A)
            shfmt = o + "IIQQQQIIQQ"
        else:
            (shoff,) = struct.unpack_from(o + "I", m, 0x20)
            shentsize, shnum, shstrndx = struct.unpack_from(o + "HHH", m, 0x2E)
            shfmt = o + "IIIIIIIIII"
        entsize = struct.calcsize(shfmt)
        if shoff == 0 or shentsize < entsize:
            raise DwarfFormatError(f"{self.path}: no section headers")
        if shnum == 0 or shstrndx == _SHN_XINDEX:
            sh0 = struct.unpack_from(shfmt, m, shoff)
            shnum = shnum or sh0[5]
            if shstrndx == _SHN_XINDEX:
                shstrndx = sh0[6]
        if shoff + shnum * shentsize > len(m) or shstrndx >= shnum:
            raise DwarfFormatError(f"{self.path}: section headers beyond the end of the file")
        headers = [struct.unpack_from(shfmt, m, shoff + i * shentsize) for i in range(shnum)]
        strtab = headers[shstrndx]
        self._headers: dict[str, tuple[int, int, int, int, int, int, int]] = {}
        self._by_index: list[str] = []
        for sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, *_ in headers:
            a = strtab[4] + sh_name
            name = m[a : m.find(b"\0", a)].decode("utf-8", "replace")
            self._by_index.append(name)
            self._headers.setdefault(name, (sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, 0))
        self._sections: dict[str, Section | None] = {}
        self._build_id: str | None = None
        self._symbol_names: array.array[int] | None = None
        self._symbol_names_packed: bytes | None = None

    def close(self) -> None:
        self._map.close()

    def has_section(self, name: str) -> bool:
        h = self._headers.get(name)
        return h is not None and h[0] != _SHT_NOBITS and h[4] > 0

    def section(self, name: str) -> Section | None:
        """The section called `name`, or None if there is none (or it has no bytes)."""
        if name in self._sections:
            return self._sections[name]
        sec: Section | None = None
        h = self._headers.get(name)
        if h is not None and h[0] != _SHT_NOBITS and h[4] > 0:
            sh_type, flags, addr, off, size = h[:5]
            if off + size > len(self._map):
                raise DwarfFormatError(f"{self.path}: section {name} beyond the end of the file")
            if flags & _SHF_COMPRESSED:
                data = _decompress(bytes(self._map[off : off + size]), self.is64, self.order)
                sec = Section(name, data, 0, len(data), addr)
            else:
                sec = Section(name, self._map, off, size, addr)
        self._sections[name] = sec
        return sec

    @property
    def build_id(self) -> str | None:
        """The GNU build-id (hex) from the ELF notes, or None."""
        if self._build_id is None:
            for name, h in self._headers.items():
                if h[0] != _SHT_NOTE:
                    continue
                sec = self.section(name)
                if sec is None:
                    continue
                found = _gnu_build_id(sec.all(), self.order)
                if found:
                    self._build_id = found
                    break
        return self._build_id

    def symbols_named(self, name: str) -> list[ElfSymbol]:
        """The .symtab entries called `name`, without reading the whole table: the name's offsets in
        .strtab (several when the linker merged it into the tail of longer names) are looked for as the
        st_name field of table entries."""
        h = self._headers.get(".symtab")
        if h is None:
            return []
        symtab = self.section(".symtab")
        link = h[5]
        if symtab is None or link >= len(self._by_index):
            return []
        strtab = self.section(self._by_index[link])
        if strtab is None:
            return []
        wanted = name.encode() + b"\0"
        entsize = 24 if self.is64 else 16
        found: list[tuple[bytes, int]] = []
        p = strtab.find(wanted)
        while p >= 0:
            found.append((tail_merge_key(strtab, p, len(wanted) - 1), p))
            p = strtab.find(wanted, p + 1)
        out: list[ElfSymbol] = []
        if not found:
            return out
        found.sort()
        names = self._symbol_name_offsets(symtab, entsize)
        packed = self._symbol_names_bytes(names)
        # The linker's string table keeps one copy of each name (in the tail of a longer name when it
        # can); the likeliest copy is looked for first, the others only if it names no symbol.
        indexes: list[int] = []
        for _key, off in found[:4]:
            needle = struct.pack("=I", off)
            q = packed.find(needle)
            while q >= 0:
                if q % 4 == 0:
                    indexes.append(q // 4)
                q = packed.find(needle, q + 1)
            if indexes:
                break
        if not indexes and len(found) > 4:
            offsets = {off for _k, off in found}
            indexes = [i for i, st_name in enumerate(names) if st_name in offsets]
        indexes.sort()
        for index in indexes:
            at = index * entsize
            if self.is64:
                _n, info, _other, shndx, value, size = struct.unpack(
                    self.order + "IBBHQQ", symtab.read(at, 24)
                )
            else:
                _n, value, size, info, _other, shndx = struct.unpack(
                    self.order + "IIIBBH", symtab.read(at, 16)
                )
            out.append(ElfSymbol(name, value, size, info, shndx))
        return out

    def _symbol_names_bytes(self, names: array.array[int]) -> bytes:
        if self._symbol_names_packed is None:
            self._symbol_names_packed = names.tobytes()
        return self._symbol_names_packed

    def _symbol_name_offsets(self, symtab: Section, entsize: int) -> array.array[int]:
        """The st_name field of every .symtab entry: one strided copy, kept."""
        if self._symbol_names is None:
            table = symtab.read(0, symtab.size - symtab.size % entsize)  # a copy: no view of the mapping
            names = array.array("I")
            if table:
                names.frombytes(memoryview(table).cast("I")[:: entsize // 4].tobytes())
            if (self.order == "<") != (sys.byteorder == "little"):
                names.byteswap()
            self._symbol_names = names
        return self._symbol_names


def tail_merge_key(sec: Section, pos: int, length: int) -> bytes:
    """How likely the string of `length` bytes at `pos` is the copy a linker's suffix merging keeps
    (smaller first): a string of its own first, then (GNU ld sorts strings by their reversed bytes and
    stores a suffix in the tail of the string sorting just after it) by the containing string's
    reversed bytes."""
    nul = sec.buf.rfind(b"\0", sec.start, sec.start + pos)
    start = nul + 1 - sec.start if nul >= 0 else 0
    if start == pos:
        return b""
    return sec.read(start, pos + length - start)[::-1]


def _gnu_build_id(notes: bytes, order: str) -> str | None:
    p = 0
    while p + 12 <= len(notes):
        namesz, descsz, ntype = struct.unpack_from(order + "III", notes, p)
        name_start = p + 12
        desc_start = name_start + (namesz + 3) // 4 * 4
        if notes[name_start : name_start + namesz] == b"GNU\0" and ntype == 3:
            return notes[desc_start : desc_start + descsz].hex()
        p = desc_start + (descsz + 3) // 4 * 4
    return None


def _decompress(data: bytes, is64: bool, order: str) -> bytes:
    if is64:
        ch_type, _res, ch_size, _align = struct.unpack_from(order + "IIQQ", data)
        payload = data[24:]
    else:
        ch_type, ch_size, _align = struct.unpack_from(order + "III", data)
        payload = data[12:]
    if ch_type == 1:
        return zlib.decompress(payload)
    if ch_type == 2:
        import cramjam

        return bytes(cramjam.zstd.decompress(payload, output_len=ch_size))
    raise DwarfFormatError(f"unknown ELF section compression {ch_type}")


# ---------------------------------------------------------------------------------------------------------
# Abbreviations, units, DIEs


class Abbrev:
    """One abbreviation: a DIE's tag, whether it has children, its (attribute, form, implicit value)s,
    and a plan for skipping its attributes."""

    __slots__ = ("tag", "children", "attrs", "fixed_size", "skip", "sibling_at", "code")

    def __init__(
        self, tag: int, children: bool, attrs: tuple[tuple[int, int, int], ...], code: int = 0
    ) -> None:
        self.code = code
        self.tag = tag
        self.children = children
        self.attrs = attrs
        self.fixed_size: int | None = None
        self.skip: tuple[int, ...] = ()
        self.sibling_at: tuple[int, int] | None = None  # (byte offset into the attributes, form)

    def plan(self, sizes: dict[int, int]) -> None:
        """Precompute how to skip the attributes with the unit's fixed form sizes."""
        skip: list[int] = []
        fixed = 0
        known = True
        for at, form, _c in self.attrs:
            size = sizes.get(form)
            if size is not None:
                if at == AT_SIBLING and known and self.sibling_at is None:
                    self.sibling_at = (fixed, form)
                fixed += size
                continue
            known = False
            if fixed:
                skip.append(fixed)
                fixed = 0
            step = _VARIABLE_SKIPS.get(form)
            if step is None:
                raise DwarfFormatError(f"unknown DWARF form {form:#x}")
            skip.append(step)
        if fixed:
            skip.append(fixed)
        self.skip = tuple(skip)
        if known:
            self.fixed_size = fixed


RawAbbrev = tuple[int, bool, tuple[tuple[int, int, int], ...]]


class AbbrevTable:
    """A unit's abbreviations: parsed from .debug_abbrev as tuples, made into Abbrevs (with their
    skipping plans) on first use of each code."""

    __slots__ = ("raw", "sizes", "made")

    def __init__(self, raw: dict[int, RawAbbrev], sizes: dict[int, int]) -> None:
        self.raw = raw
        self.sizes = sizes
        self.made: dict[int, Abbrev] = {}

    def get(self, code: int) -> Abbrev | None:
        ab = self.made.get(code)
        if ab is None:
            r = self.raw.get(code)
            if r is None:
                return None
            ab = Abbrev(*r, code=code)
            ab.plan(self.sizes)
            self.made[code] = ab
        return ab

    def __getitem__(self, code: int) -> Abbrev:
        ab = self.get(code)
        if ab is None:
            raise DwarfFormatError(f".debug_info: unknown abbreviation code {code}")
        return ab


_VARIABLE_SKIPS = {
    FORM_UDATA: _SKIP_ULEB,
    FORM_SDATA: _SKIP_ULEB,  # the same bytes
    FORM_REF_UDATA: _SKIP_ULEB,
    FORM_STRX: _SKIP_ULEB,
    FORM_ADDRX: _SKIP_ULEB,
    FORM_LOCLISTX: _SKIP_ULEB,
    FORM_RNGLISTX: _SKIP_ULEB,
    FORM_GNU_ADDR_INDEX: _SKIP_ULEB,
    FORM_GNU_STR_INDEX: _SKIP_ULEB,
    FORM_STRING: _SKIP_CSTRING,
    FORM_BLOCK1: _SKIP_BLOCK1,
    FORM_BLOCK2: _SKIP_BLOCK2,
    FORM_BLOCK4: _SKIP_BLOCK4,
    FORM_BLOCK: _SKIP_BLOCK,
    FORM_EXPRLOC: _SKIP_BLOCK,
    FORM_INDIRECT: _SKIP_INDIRECT,
}


_FORM_SIZES_CACHE: dict[tuple[int, int, int], dict[int, int]] = {}


def _fixed_form_sizes(address_size: int, offset_size: int, version: int) -> dict[int, int]:
    key = (address_size, offset_size, version)
    sizes = _FORM_SIZES_CACHE.get(key)
    if sizes is None:
        sizes = _FORM_SIZES_CACHE[key] = _make_form_sizes(address_size, offset_size, version)
    return sizes


def _make_form_sizes(address_size: int, offset_size: int, version: int) -> dict[int, int]:
    return {
        FORM_ADDR: address_size,
        FORM_DATA1: 1,
        FORM_DATA2: 2,
        FORM_DATA4: 4,
        FORM_DATA8: 8,
        FORM_DATA16: 16,
        FORM_FLAG: 1,
        FORM_FLAG_PRESENT: 0,
        FORM_IMPLICIT_CONST: 0,
        FORM_REF1: 1,
        FORM_REF2: 2,
        FORM_REF4: 4,
        FORM_REF8: 8,
        FORM_REF_SIG8: 8,
        FORM_REF_ADDR: address_size if version == 2 else offset_size,
        FORM_REF_SUP4: 4,
        FORM_REF_SUP8: 8,
        FORM_SEC_OFFSET: offset_size,
        FORM_STRP: offset_size,
        FORM_LINE_STRP: offset_size,
        FORM_STRP_SUP: offset_size,
        FORM_GNU_REF_ALT: offset_size,
        FORM_GNU_STRP_ALT: offset_size,
        FORM_STRX1: 1,
        FORM_STRX2: 2,
        FORM_STRX3: 3,
        FORM_STRX4: 4,
        FORM_ADDRX1: 1,
        FORM_ADDRX2: 2,
        FORM_ADDRX3: 3,
        FORM_ADDRX4: 4,
    }


class Unit:
    """A unit of .debug_info (a compile unit, usually one C file): header fields, abbreviations, bytes.
    DIE offsets are offsets in .debug_info; `data[0]` is the unit's first byte."""

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
        "_data",
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
        self._data: bytes | None = None
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
        return self.attrs.get(at, default)

    @property
    def name(self) -> str | None:
        n = self.attrs.get(AT_NAME)
        return n if isinstance(n, str) else None

    def __repr__(self) -> str:
        return f"<Die {self.offset:#x} tag={self.tag:#x} {self.name or ''}>"


class NestedHit:
    """locate() found the position inside the subtree of a top-level DIE, not in its attributes."""

    __slots__ = ("die_offset",)

    def __init__(self, die_offset: int) -> None:
        self.die_offset = die_offset


class DwarfInfo:
    """The units of .debug_info and DIEs read on demand."""

    def __init__(self, elf: MappedElf) -> None:
        self.elf = elf
        info = elf.section(".debug_info")
        abbrev = elf.section(".debug_abbrev")
        if info is None or abbrev is None:
            raise DwarfFormatError(f"{elf.path}: no DWARF (.debug_info) in this file")
        if elf.e_type == _ET_REL and (
            elf.has_section(".rela.debug_info") or elf.has_section(".rel.debug_info")
        ):
            # A kernel module or object file: its DWARF's string and address fields are relocations
            # still to apply, which this reader does not do.
            raise DwarfFormatError(f"{elf.path}: relocatable file: its DWARF needs relocating first")
        self.info: Section = info
        self.abbrev: Section = abbrev
        self._str: Section | None = elf.section(".debug_str")
        self._line_str: Section | None = elf.section(".debug_line_str")
        self.order = elf.order
        self._unit_starts: list[int] = []
        self._units: list[Unit] = []
        self._type_units: dict[int, int] = {}  # signature -> type DIE offset
        self._scan_units()
        self._abbrev_cache: dict[int, dict[int, RawAbbrev]] = {}
        self._data_cache: OrderedDict[int, bytes] = OrderedDict()
        self._aranges: tuple[list[int], list[int], list[int]] | None = None
        self._layouts: dict[
            int, dict[tuple[frozenset[int], int, int | None, int | None], list[tuple[bytes, int]] | None]
        ] = {}

    # -- units -------------------------------------------------------------------------------------

    def _scan_units(self) -> None:
        """Read every unit header: a hop of unit_length each (the unit's DIEs are not touched)."""
        info = self.info
        buf = info.buf
        base = info.start
        size = info.size
        o = self.order
        u32 = struct.Struct(o + "I")
        p = 0
        while p + 11 <= size:
            (length,) = u32.unpack_from(buf, base + p)
            if length == 0xFFFFFFFF:
                (length,) = struct.unpack_from(o + "Q", buf, base + p + 4)
                offset_size = 8
                hdr = p + 12
            else:
                offset_size = 4
                hdr = p + 4
            end = hdr + length
            if length < 7 or end > size:
                raise DwarfFormatError(f".debug_info: bad unit length at {p:#x}")
            u = Unit(p, end)
            u.offset_size = offset_size
            (u.version,) = struct.unpack_from(o + "H", buf, base + hdr)
            q = base + hdr + 2
            off_fmt = o + ("Q" if offset_size == 8 else "I")
            if u.version >= 5:
                u.unit_type = buf[q]
                u.address_size = buf[q + 1]
                (u.abbrev_offset,) = struct.unpack_from(off_fmt, buf, q + 2)
                q += 2 + offset_size
                if u.unit_type in (UT_SKELETON, UT_SPLIT_COMPILE):
                    q += 8
                elif u.unit_type in (UT_TYPE, UT_SPLIT_TYPE):
                    (u.type_signature,) = struct.unpack_from(o + "Q", buf, q)
                    (u.type_offset,) = struct.unpack_from(off_fmt, buf, q + 8)
                    q += 8 + offset_size
                    self._type_units[u.type_signature] = p + u.type_offset
            elif 2 <= u.version <= 4:
                (u.abbrev_offset,) = struct.unpack_from(off_fmt, buf, q)
                u.address_size = buf[q + offset_size]
                q += offset_size + 1
            else:
                raise DwarfFormatError(f".debug_info: unit at {p:#x} has DWARF version {u.version}")
            u.first_die = q - base
            u.sizes = _fixed_form_sizes(u.address_size, offset_size, u.version)
            self._unit_starts.append(p)
            self._units.append(u)
            p = end

    @property
    def units(self) -> list[Unit]:
        return self._units

    def unit_at(self, offset: int) -> Unit:
        """The unit holding .debug_info offset `offset`."""
        i = bisect.bisect_right(self._unit_starts, offset) - 1
        if i < 0 or offset >= self._units[i].end:
            raise DwarfFormatError(f".debug_info offset {offset:#x} is in no unit")
        u = self._units[i]
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
        if len(self._data_cache) > 16:
            self._data_cache.popitem(last=False)
        return data

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
            data = sec.read(offset, min(window, sec.size - offset))
            try:
                return _parse_abbrev_table(data)
            except IndexError:
                if offset + window >= sec.size:
                    raise DwarfFormatError(f".debug_abbrev: truncated table at {offset:#x}") from None
                window *= 4

    def _unit_bases(self, u: Unit, abbrevs: AbbrevTable) -> None:
        """DW_AT_str_offsets_base / DW_AT_addr_base of a DWARF 5 unit (for the strx/addrx forms)."""
        forms = {form for _t, _c, attrs in abbrevs.raw.values() for _a, form, _i in attrs}
        if not forms & (_STRX_FORMS | _ADDRX_FORMS):
            return
        die = self.die(u.first_die, u, resolve_strings=False)
        sob = die.get(AT_STR_OFFSETS_BASE)
        u.str_offsets_base = sob if isinstance(sob, int) else (8 if u.offset_size == 4 else 16)
        ab_ = die.get(AT_ADDR_BASE)
        u.addr_base = ab_ if isinstance(ab_, int) else 8

    # -- DIEs --------------------------------------------------------------------------------------

    def die(self, offset: int, unit: Unit | None = None, resolve_strings: bool = True) -> Die:
        """The DIE at .debug_info offset `offset`, attributes decoded."""
        u = unit if unit is not None else self.unit_at(offset)
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        data = self.unit_data(u)
        base = u.offset
        p = offset - base
        code, p = read_uleb(data, p)
        if code == 0:
            raise DwarfFormatError(f".debug_info: null entry at {offset:#x}, not a DIE")
        ab = abbrevs.get(code)
        if ab is None:
            raise DwarfFormatError(f".debug_info: DIE at {offset:#x} has unknown abbreviation {code}")
        attrs: dict[int, Any] = {}
        forms: dict[int, int] = {}
        positions: dict[int, int] = {}
        o = self.order
        for at, form, implicit in ab.attrs:
            start = p
            while form == FORM_INDIRECT:
                form, p = read_uleb(data, p)
            value: Any
            if form == FORM_DATA1 or form == FORM_FLAG:
                value = data[p]
                p += 1
                if form == FORM_FLAG:
                    value = bool(value)
            elif form in _UNIT_REF_FORMS:
                if form == FORM_REF4:
                    (value,) = struct.unpack_from(o + "I", data, p)
                    p += 4
                elif form == FORM_REF_UDATA:
                    value, p = read_uleb(data, p)
                else:
                    size = u.sizes[form]
                    value = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                    p += size
                value += base
            elif form == FORM_STRP or form == FORM_LINE_STRP:
                size = u.offset_size
                value = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                p += size
                if resolve_strings:
                    value = self._string(FORM_STRP if form == FORM_STRP else FORM_LINE_STRP, value)
            elif form == FORM_STRING:
                end = data.index(b"\0", p)
                value = data[p:end].decode("utf-8", "replace")
                p = end + 1
            elif form == FORM_FLAG_PRESENT:
                value = True
            elif form == FORM_IMPLICIT_CONST:
                value = implicit
            elif form == FORM_SDATA:
                value, p = read_sleb(data, p)
            elif form in (FORM_UDATA, FORM_LOCLISTX, FORM_RNGLISTX):
                value, p = read_uleb(data, p)
            elif form in (FORM_EXPRLOC, FORM_BLOCK):
                n, p = read_uleb(data, p)
                value = data[p : p + n]
                p += n
            elif form in (FORM_BLOCK1, FORM_BLOCK2, FORM_BLOCK4):
                size = {FORM_BLOCK1: 1, FORM_BLOCK2: 2, FORM_BLOCK4: 4}[form]
                n = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                p += size
                value = data[p : p + n]
                p += n
            elif form == FORM_REF_ADDR:
                size = u.sizes[form]
                value = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                p += size
            elif form == FORM_REF_SIG8:
                sig = int.from_bytes(data[p : p + 8], "little" if o == "<" else "big")
                p += 8
                value = self._type_units.get(sig)
                if value is None:
                    raise DwarfFormatError(f"type unit signature {sig:#x} not in .debug_info")
            elif form in _STRX_FORMS:
                if form in (FORM_STRX, FORM_GNU_STR_INDEX):
                    index, p = read_uleb(data, p)
                else:
                    size = u.sizes[form]
                    index = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                    p += size
                value = self._strx(u, index) if resolve_strings else index
            elif form in _ADDRX_FORMS:
                if form in (FORM_ADDRX, FORM_GNU_ADDR_INDEX):
                    index, p = read_uleb(data, p)
                else:
                    size = u.sizes[form]
                    index = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                    p += size
                value = self._addrx(u, index)
            elif form in u.sizes:  # addr, data2/4/8/16, sec_offset, sup forms
                size = u.sizes[form]
                value = int.from_bytes(data[p : p + size], "little" if o == "<" else "big")
                p += size
            else:
                raise DwarfFormatError(f".debug_info: DIE at {offset:#x} uses unknown form {form:#x}")
            if at not in attrs:
                attrs[at] = value
                forms[at] = form
                positions[at] = base + start
        return Die(offset, u, ab.tag, ab.children, attrs, forms, positions, base + p)

    def _string(self, form: int, offset: int) -> str:
        sec = self._str if form == FORM_STRP else self._line_str
        if sec is None:
            raise DwarfFormatError("string form without its string section")
        return sec.cstring(offset).decode("utf-8", "replace")

    def _strx(self, u: Unit, index: int) -> str:
        sec = self.elf.section(".debug_str_offsets")
        if sec is None or u.str_offsets_base is None:
            raise DwarfFormatError("DW_FORM_strx without .debug_str_offsets")
        raw = sec.read(u.str_offsets_base + index * u.offset_size, u.offset_size)
        return self._string(FORM_STRP, int.from_bytes(raw, "little" if self.order == "<" else "big"))

    def _addrx(self, u: Unit, index: int) -> int:
        sec = self.elf.section(".debug_addr")
        if sec is None or u.addr_base is None:
            raise DwarfFormatError("DW_FORM_addrx without .debug_addr")
        raw = sec.read(u.addr_base + index * u.address_size, u.address_size)
        return int.from_bytes(raw, "little" if self.order == "<" else "big")

    def _skip_attrs(self, u: Unit, data: bytes, p: int, ab: Abbrev) -> int:
        """Unit-relative position just past the attributes of a DIE whose attributes start at `p`."""
        if ab.fixed_size is not None:
            return p + ab.fixed_size
        for step in ab.skip:
            if step >= 0:
                p += step
            elif step == _SKIP_ULEB:
                while data[p] >= 0x80:
                    p += 1
                p += 1
            elif step == _SKIP_CSTRING:
                p = data.index(b"\0", p) + 1
            elif step == _SKIP_BLOCK:
                n, p = read_uleb(data, p)
                p += n
            elif step == _SKIP_BLOCK1:
                p += 1 + data[p]
            elif step == _SKIP_BLOCK2 or step == _SKIP_BLOCK4:
                size = 2 if step == _SKIP_BLOCK2 else 4
                p += size + int.from_bytes(data[p : p + size], "little" if self.order == "<" else "big")
            else:  # DW_FORM_indirect: the form comes first
                form, p = read_uleb(data, p)
                p = self._skip_form(u, data, p, form)
        return p

    def _skip_form(self, u: Unit, data: bytes, p: int, form: int) -> int:
        size = u.sizes.get(form)
        if size is not None:
            return p + size
        step = _VARIABLE_SKIPS.get(form)
        if step is None:
            raise DwarfFormatError(f"unknown DWARF form {form:#x}")
        ab = Abbrev(0, False, ((0, form, 0),))
        ab.skip = (step,)
        return self._skip_attrs(u, data, p, ab)

    def _sibling(self, u: Unit, data: bytes, p: int, ab: Abbrev) -> int | None:
        """The unit-relative DW_AT_sibling of the DIE whose attributes start at `p`, if it is cheap."""
        sib = ab.sibling_at
        if sib is None:
            return None
        at, form = sib
        q = p + at
        if form == FORM_REF4:
            return int.from_bytes(data[q : q + 4], "little" if self.order == "<" else "big")
        if form == FORM_REF_UDATA:
            return read_uleb(data, q)[0]
        size = u.sizes.get(form)
        if form in _UNIT_REF_FORMS and size:
            return int.from_bytes(data[q : q + size], "little" if self.order == "<" else "big")
        return None

    def _skip_children(self, u: Unit, data: bytes, p: int) -> int:
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
                sib = self._sibling(u, data, p, ab)
                if sib is not None and sib > p:
                    p = sib
                    continue
                p = self._skip_attrs(u, data, p, ab)
                depth += 1
            else:
                p = self._skip_attrs(u, data, p, ab)
        return p

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
                raise DwarfFormatError(f".debug_info: unknown abbreviation {code} at {base + start:#x}")
            if ab.children:
                sib = self._sibling(u, data, p, ab)
                if sib is not None and sib > p:
                    p = sib
                    continue
                p = self._skip_children(u, data, self._skip_attrs(u, data, p, ab))
            else:
                p = self._skip_attrs(u, data, p, ab)

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
        p = self._skip_attrs(u, data, p, root)
        end = len(data)
        while p < end:
            start = p
            code, p = read_uleb(data, p)
            if code == 0:
                return
            ab = abbrevs.get(code)
            if ab is None:
                raise DwarfFormatError(f".debug_info: unknown abbreviation {code} at {base + start:#x}")
            yield base + start, ab
            if ab.children:
                sib = self._sibling(u, data, p, ab)
                p = (
                    sib
                    if sib is not None and sib > p
                    else self._skip_children(u, data, self._skip_attrs(u, data, p, ab))
                )
            else:
                p = self._skip_attrs(u, data, p, ab)

    def top_level_attr_positions(self, u: Unit, tags: frozenset[int], at: int) -> dict[int, int]:
        """{.debug_info offset of the value of attribute `at`: DIE offset} for the top-level DIEs of
        unit `u` that have one of `tags` and `at` (one pass over the unit's top level)."""
        out: dict[int, int] = {}
        layouts: dict[int, int | None] = {}
        for off, ab in self.top_level(u):
            if ab.tag not in tags:
                continue
            key = id(ab)
            if key not in layouts:
                layouts[key] = _fixed_offset_of(ab, at, u.sizes)
            before = layouts[key]
            if before is None:
                die = self.die(off, u, resolve_strings=False)
                if at in die.positions:
                    out[die.positions[at]] = off
            elif before >= 0:
                out[off + len(_uleb_bytes(ab.code)) + before] = off
        return out

    def may_hold_attr(
        self,
        offset: int,
        tags: frozenset[int],
        at: int,
        with_attr: int | None = None,
        without_attr: int | None = None,
    ) -> bool:
        """False when .debug_info offset `offset` cannot be the value of attribute `at` of a DIE with
        one of `tags` (and attribute `with_attr`, and not `without_attr`) in its unit: the few bytes
        before it are checked against the unit's abbreviations (the DIE's code, then fixed-size
        attributes), without reading the unit's DIEs."""
        u = self.unit_at(offset)
        layouts = self._attr_layouts(u, tags, at, with_attr, without_attr)
        if layouts is None:
            return True
        info = self.info
        for code_bytes, before in layouts:
            start = offset - before - len(code_bytes)
            if start >= u.first_die and info.read(start, len(code_bytes)) == code_bytes:
                return True
        return False

    def _attr_layouts(
        self, u: Unit, tags: frozenset[int], at: int, with_attr: int | None, without_attr: int | None
    ) -> list[tuple[bytes, int]] | None:
        """(the abbreviation code's ULEB bytes, bytes of attributes before `at`) for each abbreviation
        that may match; None if one may match with a variable-size attribute before `at`."""
        key = (tags, at, with_attr, without_attr)
        cache = self._layouts.setdefault(u.offset, {})
        if key in cache:
            return cache[key]
        out: list[tuple[bytes, int]] | None = []
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        for code, (tag, _children, attrs) in abbrevs.raw.items():
            if tag not in tags:
                continue
            names = {a for a, _f, _c in attrs}
            if at not in names or (with_attr is not None and with_attr not in names) or without_attr in names:
                continue
            before = 0
            for a, form, _c in attrs:
                if a == at:
                    assert out is not None
                    out.append((_uleb_bytes(code), before))
                    break
                size = u.sizes.get(form)
                if size is None:
                    out = None
                    break
                before += size
            if out is None:
                break
        cache[key] = out
        return out

    def locate(self, offset: int) -> tuple[Unit, int] | NestedHit | None:
        """The top-level DIE (a child of its unit's root DIE) whose attributes hold .debug_info offset
        `offset`: (unit, DIE offset); a NestedHit when `offset` is deeper in a top-level DIE's subtree;
        None when it is in no DIE's attributes (a unit header, a root DIE's attributes)."""
        u = self.unit_at(offset)
        data = self.unit_data(u)
        base = u.offset
        target = offset - base
        abbrevs = u.abbrevs if u.abbrevs is not None else self._load_abbrevs(u)
        p = u.first_die - base
        if target < p:
            return None
        code, p = read_uleb(data, p)
        root = abbrevs.get(code)
        if root is None:
            return None
        p = self._skip_attrs(u, data, p, root)
        if target < p or not root.children:
            return None
        end = len(data)
        while p < end:
            start = p
            code = data[p]
            if code < 0x80:
                p += 1
            else:
                code, p = read_uleb(data, p)
            if code == 0:
                return None
            ab = abbrevs.get(code)
            if ab is None:
                raise DwarfFormatError(f".debug_info: unknown abbreviation {code} at {base + start:#x}")
            attrs_end = self._skip_attrs(u, data, p, ab) if ab.fixed_size is None else p + ab.fixed_size
            if target < attrs_end:
                return (u, base + start) if target >= start else None
            if ab.children:
                sib = self._sibling(u, data, p, ab)
                nxt = sib if sib is not None and sib > p else self._skip_children(u, data, attrs_end)
                if target < nxt:
                    return NestedHit(base + start)
                p = nxt
            else:
                p = attrs_end
        return None

    # -- .debug_aranges ----------------------------------------------------------------------------

    def unit_for_address(self, address: int) -> Unit | None:
        """The unit whose code covers `address`, from .debug_aranges (read whole on first use)."""
        if self._aranges is None:
            self._aranges = self._read_aranges()
        starts, ends, units = self._aranges
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and address < ends[i]:
            return self.unit_at(units[i])
        return None

    def _read_aranges(self) -> tuple[list[int], list[int], list[int]]:
        sec = self.elf.section(".debug_aranges")
        if sec is None:
            return [], [], []
        data = sec.all()
        o = self.order
        ranges: list[tuple[int, int, int]] = []
        p = 0
        while p + 16 <= len(data):
            (length,) = struct.unpack_from(o + "I", data, p)
            if length == 0xFFFFFFFF:
                (length,) = struct.unpack_from(o + "Q", data, p + 4)
                hdr, offset_size = p + 12, 8
            else:
                hdr, offset_size = p + 4, 4
            end = hdr + length
            (info_off,) = struct.unpack_from(o + ("Q" if offset_size == 8 else "I"), data, hdr + 2)
            addr_size = data[hdr + 2 + offset_size]
            seg_size = data[hdr + 3 + offset_size]
            tuple_size = 2 * addr_size + seg_size
            q = hdr + 4 + offset_size
            q += (-(q - p)) % tuple_size  # tuples are aligned to their size from the set's start
            fmt = o + {2: "H", 4: "I", 8: "Q"}.get(addr_size, "Q") * 2
            stop = q + (end - q) // tuple_size * tuple_size
            if seg_size == 0:
                for start, length_ in struct.iter_unpack(fmt, data[q:stop]):
                    if length_:
                        ranges.append((start, start + length_, info_off))
                    elif start == 0:
                        break
            else:
                while q + tuple_size <= end:
                    start, length_ = struct.unpack_from(fmt, data, q + seg_size)
                    q += tuple_size
                    if start == 0 and length_ == 0:
                        break
                    if length_:
                        ranges.append((start, start + length_, info_off))
            p = end
        ranges.sort()
        return [r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges]


def _fixed_offset_of(ab: Abbrev, at: int, sizes: dict[int, int]) -> int | None:
    """Bytes of attributes before `at` in a DIE of abbreviation `ab`: -1 if it has no `at`, None if a
    variable-size attribute comes first."""
    before = 0
    for a, form, _c in ab.attrs:
        if a == at:
            return before
        size = sizes.get(form)
        if size is None:
            return None
        before += size
    return -1


def _uleb_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _parse_abbrev_table(data: bytes) -> dict[int, tuple[int, bool, tuple[tuple[int, int, int], ...]]]:
    """code -> (tag, has children, ((attribute, form, implicit const), ...)); IndexError if cut short."""
    table: dict[int, tuple[int, bool, tuple[tuple[int, int, int], ...]]] = {}
    p = 0
    while True:
        code = data[p]
        if code < 0x80:
            p += 1
        else:
            code, p = read_uleb(data, p)
        if code == 0:
            return table
        tag = data[p]
        if tag < 0x80:
            p += 1
        else:
            tag, p = read_uleb(data, p)
        children = data[p] != 0
        p += 1
        attrs: list[tuple[int, int, int]] = []
        while True:
            at = data[p]
            if at < 0x80:
                p += 1
            else:
                at, p = read_uleb(data, p)
            form = data[p]
            if form < 0x80:
                p += 1
            else:
                form, p = read_uleb(data, p)
            if at == 0 and form == 0:
                break
            implicit = 0
            if form == FORM_IMPLICIT_CONST:
                implicit, p = read_sleb(data, p)
            attrs.append((at, form, implicit))
        table[code] = (tag, children, tuple(attrs))
