"""Source file and line of a code address, exactly as gdb 10.2 inside crash 8.0.6 reports them.

`sym <addr>`, `dis -l` and `bt -l` print `/path/file.c: 123` from gdb's ``find_pc_line``; this module
gives the same answer without loading the whole DWARF: ``.debug_aranges`` (parsed once, bisected)
names the unit, then only that unit's root DIE (``DW_AT_name``, ``DW_AT_comp_dir``,
``DW_AT_stmt_list``) and its line program are read, and the decoded tables are kept per unit
(line_tables.py has gdb's rules for building them and choosing a row).

Printing (crash's ``gdb_get_line_number`` in gdb-10.2.patch, then ``get_line_number`` in symbols.c):
an absolute symtab file name as it is, a relative one after ``DW_AT_comp_dir`` and "/" (none when the
directory already ends in "/"); nothing at all when the unit has no ``DW_AT_comp_dir``; then every "//"
is squeezed to "/".

Addresses are the ELF file's link-time addresses: the caller removes the KASLR offset first.
Checked against crash 8.0.6 (`sym` on 8,027 addresses of the Debian 6.1 vmlinux, `dis -l` of
seven functions, a KASLR dump) and gdb 13 (`info line` on 7,297 addresses): no difference.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from crashpy.dwarf.aranges import AddressMap
from crashpy.dwarf.constants import AT_COMP_DIR, AT_NAME, AT_STMT_LIST
from crashpy.dwarf.errors import DWARF_READ_ERRORS, DwarfFormatError
from crashpy.dwarf.info import DwarfInfo
from crashpy.dwarf.line_header import read_line_header
from crashpy.dwarf.line_tables import SourceLine, UnitLines, decode_lines
from crashpy.dwarf.source import DwarfSource, MemorySections
from crashpy.elf.errors import ElfError
from crashpy.elf.file import ElfFile

__all__ = ["LineTable", "SourceLine", "source_line"]


class LineTable:
    """Source lines of one linked ELF file (vmlinux), looked up like gdb 10.2.

    ``source`` is a path, an open ElfFile (left open by close()), or a mapping of section name
    (".debug_info", ...) to its bytes (tests). A module's .ko debuginfo is refused (DwarfFormatError):
    it is ET_REL, its DWARF addresses mean nothing until relocated to where its sections were loaded.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | ElfFile | DwarfSource | Mapping[str, bytes],
        *,
        address_size: int = 8,
        little_endian: bool = True,
    ) -> None:
        self._owned: ElfFile | None = None
        self._source: DwarfSource
        if isinstance(source, Mapping):
            self._source = MemorySections(source, little_endian=little_endian, address_size=address_size)
        elif isinstance(source, ElfFile) or not isinstance(source, (str, os.PathLike)):
            self._source = source  # an ElfFile, or a DwarfSource (a module's relocated sections)
        else:
            self._owned = ElfFile(source)
            self._source = self._owned
        self._byteorder = self._source.byteorder
        self._dwarf: DwarfInfo | None = None
        self._dwarf_failed = False
        self._map: AddressMap | None = None
        self._units: dict[int, UnitLines | None] = {}
        self._memo: dict[int, SourceLine | None] = {}
        if self._source.is_relocatable:
            path = self._source.path
            self.close()
            raise DwarfFormatError(f"{path}: a relocatable object (its line addresses need relocating)")

    # -- public API -------------------------------------------------------------------------------

    def lookup(self, addr: int) -> tuple[str, int] | None:
        """(file, line) as crash prints them for a code address (``sym``, ``dis -l``); None if none."""
        sal = self.find_pc_line(addr)
        if sal is None:
            return None
        path = sal.path
        if path is None:
            return None
        return path, sal.line

    def format(self, addr: int) -> str:
        """crash's get_line_number() text: ``/path/file.c: 123``, or "" when crash prints nothing."""
        found = self.lookup(addr)
        return "" if found is None else f"{found[0]}: {found[1]}"

    def find_pc_line(self, addr: int) -> SourceLine | None:
        """gdb's find_pc_line(addr, 0): the covering row, or None (no unit, no row, or a line-0 gap)."""
        memo = self._memo
        if addr in memo:
            return memo[addr]
        off = self.unit_offset(addr)
        unit = self._unit(off) if off is not None else None
        sal = unit.find(addr) if unit is not None else None
        if len(memo) > 1 << 16:
            memo.clear()
        memo[addr] = sal
        return sal

    def lines_in_range(self, lo: int, hi: int) -> list[tuple[int, str, int]]:
        """The addresses in [lo, hi) where gdb's answer may change (lo included), with the answer.

        One entry per address: (address, file, line) as crash prints them. Addresses where gdb has
        no line (end markers, gaps between units) are left out, so there a gap looks like the
        entry before it going on. `dis -l` asks per instruction, and so should a caller that must
        match it byte for byte; this is the cheap overview of a range.
        """
        if hi <= lo:
            return []
        candidates = {lo}
        for a, b, cu in self._address_map().overlapping(lo, hi):
            if lo < a:
                candidates.add(a)
            if b < hi:
                candidates.add(b)
            unit = self._unit(cu)
            if unit is not None:
                candidates.update(unit.row_addresses(lo, hi))
        out: list[tuple[int, str, int]] = []
        for pc in sorted(candidates):
            found = self.lookup(pc)
            if found is not None:
                out.append((pc, found[0], found[1]))
        return out

    def unit_offset(self, addr: int) -> int | None:
        """The .debug_info offset of the unit whose .debug_aranges cover addr."""
        return self._address_map().unit_at(addr)

    def close(self) -> None:
        """Forget the tables; close the file if this table opened it."""
        self._units.clear()
        self._memo.clear()
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> LineTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- units ------------------------------------------------------------------------------------

    def _address_map(self) -> AddressMap:
        if self._map is None:
            self._map = AddressMap.read(self._source.section_bytes(".debug_aranges"), self._source.order)
        return self._map

    def _dwarf_info(self) -> DwarfInfo | None:
        if self._dwarf is None and not self._dwarf_failed:
            try:
                self._dwarf = DwarfInfo(self._source)
            except DwarfFormatError:
                self._dwarf_failed = True  # no .debug_info: no lines, as gdb would have none
        return self._dwarf

    def _unit(self, cu_off: int) -> UnitLines | None:
        if cu_off in self._units:
            return self._units[cu_off]
        try:
            unit = self._read_unit(cu_off)
        except DWARF_READ_ERRORS:
            unit = None  # malformed DWARF: no line information, as gdb would complain and go on
        self._units[cu_off] = unit
        return unit

    def _read_unit(self, cu_off: int) -> UnitLines | None:
        dwarf = self._dwarf_info()
        line = self._source.section_bytes(".debug_line")
        if dwarf is None or line is None:
            return None
        u = dwarf.unit_header(cu_off)
        root = dwarf.root_die(u)
        name = root.get(AT_NAME)
        comp_dir = root.get(AT_COMP_DIR)
        if not isinstance(name, str):
            name = "<unknown>"
        if not isinstance(comp_dir, str):
            comp_dir = None
        else:
            # find_file_and_directory: Irix "machine.:" prefix.
            colon = comp_dir.find(":")
            if colon > 0 and comp_dir[colon - 1] == "." and comp_dir[colon + 1 : colon + 2] == "/":
                comp_dir = comp_dir[colon + 1 :]
        stmt = root.get(AT_STMT_LIST)
        if not isinstance(stmt, int) or isinstance(stmt, bool):
            return None

        def strings(form: int, offset: int) -> str | None:
            try:
                return dwarf.string(form, offset)
            except DwarfFormatError:
                return None

        header = read_line_header(line, stmt, self._byteorder, strings)
        if header is None:
            return None
        low = self._address_map().unit_low.get(cu_off, 0)
        return decode_lines(header, name, comp_dir, u.address_size, low, self._byteorder)


# ---------------------------------------------------------------------------------------------------
# The line of an address in a session


class _LineSource(Protocol):
    """What source_line() needs of a Program: the vmlinux, the KASLR offset, a cache."""

    image: ElfFile | None
    kaslr_offset: int

    def cache(self, key: str, factory: Callable[[], Any]) -> Any: ...


class ModuleLines:
    """The line tables of the modules whose debuginfo is loaded (`mod -s`, `mod -S`): each module's
    address ranges and its relocated DWARF, whose table is made on the first look-up inside them."""

    def __init__(self) -> None:
        self._modules: dict[str, tuple[list[tuple[int, int]], DwarfSource]] = {}
        self._tables: dict[str, LineTable | None] = {}

    def add(self, name: str, ranges: list[tuple[int, int]], source: DwarfSource) -> None:
        self._modules[name] = (ranges, source)
        self._tables.pop(name, None)

    def remove(self, name: str) -> None:
        self._modules.pop(name, None)
        self._tables.pop(name, None)

    def covering(self, addr: int) -> tuple[bool, LineTable | None]:
        """(whether a loaded module holds `addr`, that module's line table when it has one)."""
        for name, (ranges, source) in self._modules.items():
            if any(lo <= addr < hi for lo, hi in ranges):
                if name not in self._tables:
                    try:
                        self._tables[name] = LineTable(source)
                    except (ElfError, DwarfFormatError):
                        self._tables[name] = None
                return True, self._tables[name]
        return False, None


def module_lines(prog: _LineSource) -> ModuleLines:
    """The Program's module line tables (empty until a module's debuginfo is loaded)."""
    found: ModuleLines = prog.cache("dwarf.module_lines", ModuleLines)
    return found


def source_line(prog: _LineSource, addr: int) -> str:
    """`file: line` of a kernel text address as crash shows it (gdb's find_pc_line), or ""; a module's
    address is answered from its loaded debuginfo (its DWARF relocated to run-time addresses)."""
    inside, mod_table = module_lines(prog).covering(addr)
    if inside:
        if mod_table is None:
            return ""
        try:
            hit = mod_table.lookup(addr)
        except DWARF_READ_ERRORS:
            return ""
        return f"{hit[0]}: {hit[1]}" if hit else ""

    def load() -> LineTable | None:
        if prog.image is None:
            return None
        try:
            return LineTable(prog.image)
        except (ElfError, DwarfFormatError):
            return None

    table = prog.cache("sym.linetable", load)
    if table is None:
        return ""
    try:
        found = table.lookup(addr - prog.kaslr_offset)
    except DWARF_READ_ERRORS:
        return ""
    if not found:
        return ""
    path, line = found
    return f"{path}: {line}"
