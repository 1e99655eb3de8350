"""An ELF symbol table: its entries as raw tuples (unpacked all at once only when asked), and symbols by
name without unpacking the table: the name's offsets in the string table are looked for as the
st_name field of the entries (a strided copy of that one field, searched with bytes.find).
"""

from __future__ import annotations

import array
import itertools
import struct
import sys
from typing import TYPE_CHECKING

from crashpy.elf.constants import SHN_XINDEX
from crashpy.elf.errors import ElfError
from crashpy.elf.sections import SectionBytes

if TYPE_CHECKING:
    from crashpy.elf.file import ElfFile, Section

# (st_name, st_info, st_other, st_shndx, st_value, st_size): the Elf64_Sym order, for both classes
SymbolRow = tuple[int, int, int, int, int, int]

# A name found at more string-table offsets than this (a common word ends many longer names) is looked
# up by one pass over every entry's st_name (~10 ms for a kernel's 120,000 symbols) instead of one
# bytes.find over the st_name fields per offset (~0.5 ms each).
_SCANS_PER_LOOKUP = 16


class ElfSymbol:
    """One symbol table entry, decoded."""

    __slots__ = ("name", "value", "size", "type", "bind", "shndx", "index")

    def __init__(self, name: str, value: int, size: int, info: int, shndx: int, index: int = 0) -> None:
        self.name = name
        self.value = value
        self.size = size
        self.type = info & 0xF
        self.bind = info >> 4
        self.shndx = shndx
        self.index = index

    def __repr__(self) -> str:
        return f"<ElfSymbol {self.name} {self.value:#x} size={self.size} type={self.type} bind={self.bind}>"


class ElfSymtab:
    """The entries of one SHT_SYMTAB (or SHT_DYNSYM) section and its string table."""

    def __init__(
        self, elf: ElfFile, section: Section, strings: SectionBytes | None, shndx: SectionBytes | None
    ) -> None:
        self.elf = elf
        self.section = section
        data = elf.section_bytes(section)
        self._data = data if data is not None else SectionBytes.of(section.name, b"")
        self._strings = strings if strings is not None else SectionBytes.of(".strtab", b"")
        self._shndx = shndx
        self.entsize = 24 if elf.is64 else 16
        if section.entsize and section.entsize != self.entsize:
            raise ElfError(f"{elf.path}: {section.name}: entry size {section.entsize}, not {self.entsize}")
        self.count = self._data.size // self.entsize
        self._struct = struct.Struct(elf.order + ("IBBHQQ" if elf.is64 else "IIIBBH"))
        self._rows: list[SymbolRow] | None = None
        self._strtab: bytes | None = None
        self._st_names: bytes | None = None  # every entry's st_name, packed in the file's byte order
        self._values: list[int] | None = None  # every entry's st_name

    def __len__(self) -> int:
        return self.count

    @property
    def strtab(self) -> bytes:
        """The string table, as bytes (a copy, kept)."""
        if self._strtab is None:
            self._strtab = self._strings.all()
        return self._strtab

    def rows(self) -> list[SymbolRow]:
        """Every entry as (st_name, st_info, st_other, st_shndx, st_value, st_size), kept; an st_shndx of
        SHN_XINDEX is replaced by the entry's index in SHT_SYMTAB_SHNDX."""
        if self._rows is None:
            raw = self._data.read(0, self.count * self.entsize)
            if self.elf.is64:
                rows: list[SymbolRow] = list(self._struct.iter_unpack(raw))
            else:
                rows = [(n, i, o, x, v, s) for n, v, s, i, o, x in self._struct.iter_unpack(raw)]
            if self._shndx is not None:
                rows = [self._fix_shndx(k, r) if r[3] == SHN_XINDEX else r for k, r in enumerate(rows)]
            self._rows = rows
        return self._rows

    def entry(self, index: int) -> SymbolRow:
        """Entry `index`, unpacked alone (or from rows() when they are made)."""
        if self._rows is not None:
            return self._rows[index]
        if not 0 <= index < self.count:
            raise IndexError(index)
        row = self._struct.unpack(self._data.read(index * self.entsize, self.entsize))
        if not self.elf.is64:
            n, v, s, i, o, x = row
            row = (n, i, o, x, v, s)
        if row[3] == SHN_XINDEX and self._shndx is not None:
            return self._fix_shndx(index, row)
        return row  # type: ignore[no-any-return]

    def _fix_shndx(self, index: int, row: SymbolRow) -> SymbolRow:
        assert self._shndx is not None
        (real,) = struct.unpack(self.elf.order + "I", self._shndx.read(index * 4, 4))
        return (row[0], row[1], row[2], real, row[4], row[5])

    def name_at(self, st_name: int) -> str:
        """The string at offset `st_name` of the string table."""
        if self._strtab is not None:
            end = self._strtab.find(b"\0", st_name)
            return self._strtab[st_name : end if end >= 0 else len(self._strtab)].decode("utf-8", "replace")
        if st_name >= self._strings.size:
            return ""
        return self._strings.cstring(st_name).decode("utf-8", "replace")

    def symbol(self, index: int) -> ElfSymbol:
        """Entry `index` as an ElfSymbol."""
        st_name, info, _other, shndx, value, size = self.entry(index)
        return ElfSymbol(self.name_at(st_name), value, size, info, shndx, index)

    # -- by name ---------------------------------------------------------------------------------------

    def string_offsets(self, name: str) -> list[int]:
        """The offsets in the string table where the string `name` is (whole, or as the tail of a longer
        string: linkers merge suffixes), in increasing order."""
        if not name:
            return []
        wanted = name.encode() + b"\0"
        out: list[int] = []
        sb = self._strings
        p = sb.find(wanted)
        while p >= 0:
            out.append(p)
            p = sb.find(wanted, p + 1)
        return out

    def indexes_at(self, offsets: list[int]) -> dict[int, list[int]]:
        """{string offset: indexes of the entries whose st_name is that offset, in table order}."""
        found: dict[int, list[int]] = {}
        if len(offsets) > _SCANS_PER_LOOKUP:
            wanted = set(offsets)
            values = self._st_name_values()
            for i in itertools.compress(range(len(values)), map(wanted.__contains__, values)):
                found.setdefault(values[i], []).append(i)
            return found
        packed = self._packed_st_names()
        pack = struct.Struct(self.elf.order + "I").pack
        for off in offsets:
            needle = pack(off)
            hits: list[int] = []
            q = packed.find(needle)
            while q >= 0:
                if q % 4 == 0:
                    hits.append(q // 4)
                    q = packed.find(needle, q + 4)
                else:
                    q = packed.find(needle, q + 1)
            if hits:
                found[off] = hits
        return found

    def indexes_named(self, name: str) -> list[int]:
        """Indexes of the entries called `name`, in string-offset order, then table order."""
        offsets = self.string_offsets(name)
        found = self.indexes_at(offsets)
        return [i for off in offsets for i in found.get(off, ())]

    def symbols_named(self, name: str) -> list[ElfSymbol]:
        """The entries called `name`, in table order."""
        out = []
        for index in sorted(self.indexes_named(name)):
            st_name, info, _other, shndx, value, size = self.entry(index)
            out.append(ElfSymbol(name, value, size, info, shndx, index))
        return out

    def _packed_st_names(self) -> bytes:
        """Every entry's st_name field, 4 bytes each in the file's byte order: one strided copy."""
        if self._st_names is None:
            table = self._data.read(0, self.count * self.entsize)
            with memoryview(table) as view, view.cast("I") as words:
                self._st_names = words[:: self.entsize // 4].tobytes()
        return self._st_names

    def _st_name_values(self) -> list[int]:
        """Every entry's st_name, as a list (made once)."""
        if self._values is None:
            names = array.array("I")
            names.frombytes(self._packed_st_names())
            if (self.elf.order == "<") != (sys.byteorder == "little"):
                names.byteswap()
            self._values = names.tolist()
        return self._values


def tail_merge_key(sec: SectionBytes, pos: int, length: int) -> bytes:
    """How likely the string of `length` bytes at `pos` of a string section is the copy a linker's
    suffix merging keeps (smaller first): a string of its own first, then (GNU ld sorts strings by
    their reversed bytes and stores a suffix in the tail of the string sorting just after it) by the
    containing string's reversed bytes."""
    nul = sec.rfind(b"\0", 0, pos)
    start = nul + 1 if nul >= 0 else 0
    if start == pos:
        return b""
    return sec.read(start, pos + length - start)[::-1]
