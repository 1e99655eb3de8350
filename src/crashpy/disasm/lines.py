"""Source file and line of a code address, exactly as gdb 10.2 inside crash 8.0.6 reports them.

`sym <addr>` and `dis -l` print `/path/file.c: 123` from gdb's ``find_pc_line``; this module gives
the same answer without loading the whole DWARF: ``.debug_aranges`` (parsed once, bisected) names
the compilation unit, then only that unit's top DIE (``DW_AT_name``, ``DW_AT_comp_dir``,
``DW_AT_stmt_list``) and that unit's line program are read, and the decoded table is cached per unit.

Everything below mirrors gdb 10.2 (the copy bundled with crash 8.0.6), because crash prints what gdb
answers:

* Building the table (gdb/dwarf2/read.c ``lnp_state_machine::record_line``,
  ``dwarf_record_line_p``, ``dwarf_finish_line``; gdb/buildsym.c ``record_line``,
  ``start_subfile``, ``end_symtab_with_blockvector``, ``watch_main_source_file_lossage``): one table
  per source file ("subfile"); a file switch or the end of a sequence puts a line-0 end marker in the
  file left behind, and that marker drops the file's earlier rows at the same address; a line-0 row
  and a non-statement row that switches files at an address that already has a statement are not
  recorded; a repeated line in the same file is coalesced when it ever had a non-zero
  discriminator; each file's table is stable-sorted by address, end markers first at one address.
* Choosing the row (gdb/symtab.c ``find_pc_sect_line``): in every file's table take the last row
  whose address is <= pc; skip a file when that row is an end marker; of the rest the row with the
  greatest address wins, the first file in symtab order (the unit's main file first, then the
  line-table file order) on a tie; a non-statement row gives way to a statement row at the same
  address just before it.
* Naming the file (``dwarf2_start_subfile``): a relative file name is joined to its
  include-directory entry with "/" (for DWARF 5 directory 0 is the compilation directory, as the line
  table spells it); a name that matches the unit's ``DW_AT_name`` (also after joining a relative
  ``DW_AT_name`` to ``DW_AT_comp_dir``) is the main file and keeps the ``DW_AT_name`` spelling. No
  path is normalised: ``./`` and ``../`` stay.
* Printing (crash's ``gdb_get_line_number`` in gdb-10.2.patch, then ``get_line_number`` in
  symbols.c): an absolute symtab file name as it is, a relative one after ``DW_AT_comp_dir`` and "/"
  (none when the directory already ends in "/"); nothing at all when the unit has no
  ``DW_AT_comp_dir``; then every "//" is squeezed to "/".

The unit for an address comes from .debug_aranges; where units overlap, the first in .debug_info
order keeps the bytes (gdb fills its pc -> unit map with addrmap_set_empty, unit by unit).

Addresses are the ELF file's link-time addresses: the caller removes the KASLR offset first.
Checked against crash 8.0.6 (`sym` on 8,027 addresses of the Debian 6.1 vmlinux, `dis -l` of
seven functions, a KASLR dump) and gdb 13 (`info line` on 7,297 addresses): no difference.
"""

from __future__ import annotations

import bisect
import mmap
import os
import struct
import zlib
from array import array
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["LineTable", "SourceLine", "LineTableError"]

_SHF_COMPRESSED = 0x800
_SHT_NOBITS = 8

# DWARF constants used here.
_DW_AT_name = 0x03
_DW_AT_stmt_list = 0x10
_DW_AT_comp_dir = 0x1B
_DW_AT_str_offsets_base = 0x72

_DW_FORM_string = 0x08
_DW_FORM_strp = 0x0E
_DW_FORM_indirect = 0x16
_DW_FORM_strx = 0x1A
_DW_FORM_implicit_const = 0x21
_DW_FORM_line_strp = 0x1F
_DW_FORM_strx1 = 0x25
_DW_FORM_strx2 = 0x26
_DW_FORM_strx3 = 0x27
_DW_FORM_strx4 = 0x28
_DW_FORM_GNU_str_index = 0x1F02

_DW_LNCT_path = 1
_DW_LNCT_directory_index = 2

_DW_LNS_copy = 1
_DW_LNS_advance_pc = 2
_DW_LNS_advance_line = 3
_DW_LNS_set_file = 4
_DW_LNS_set_column = 5
_DW_LNS_negate_stmt = 6
_DW_LNS_set_basic_block = 7
_DW_LNS_const_add_pc = 8
_DW_LNS_fixed_advance_pc = 9

_DW_LNE_end_sequence = 1
_DW_LNE_set_address = 2
_DW_LNE_define_file = 3
_DW_LNE_set_discriminator = 4

_DW_UT_compile = 1
_DW_UT_type = 2
_DW_UT_partial = 3
_DW_UT_skeleton = 4
_DW_UT_split_compile = 5
_DW_UT_split_type = 6


class LineTableError(Exception):
    """The file is not an ELF file with usable DWARF line information."""


@dataclass(frozen=True, slots=True)
class SourceLine:
    """gdb's answer for one pc (``struct symtab_and_line``): the row that covers it."""

    address: int  # where the covering line-table row starts (sal.pc)
    filename: str  # the symtab's file name as gdb stores it (sal.symtab->filename)
    comp_dir: str | None  # the unit's DW_AT_comp_dir (SYMTAB_DIRNAME), None without one
    line: int

    @property
    def path(self) -> str | None:
        """The file name as crash prints it (None: crash prints nothing for this pc)."""
        return _crash_path(self.filename, self.comp_dir)


def _crash_path(filename: str, comp_dir: str | None) -> str | None:
    if comp_dir is None:
        return None
    if filename.startswith("/"):
        text = filename
    else:
        text = comp_dir + ("" if comp_dir.endswith("/") else "/") + filename
    while "//" in text:
        text = text.replace("//", "/")
    return text


# ---------------------------------------------------------------------------------------------------
# Byte-level readers


def _uleb(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _sleb(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos


def _cstr(data: bytes | memoryview, pos: int) -> tuple[str, int]:
    end = pos
    n = len(data)
    while end < n and data[end] != 0:
        end += 1
    return bytes(data[pos:end]).decode("utf-8", "surrogateescape"), end + 1


def _cstr_at(data: bytes | memoryview | None, offset: int) -> str | None:
    if data is None or not 0 <= offset < len(data):
        return None
    return _cstr(data, offset)[0]


# Fixed sizes of DWARF forms; None: variable (handled in _skip_form). "A" = address size,
# "O" = offset size (4 or 8).
_FORM_SIZE: dict[int, int | str] = {
    0x01: "A",  # addr
    0x05: 2,  # data2
    0x06: 4,  # data4
    0x07: 8,  # data8
    0x0B: 1,  # data1
    0x0C: 1,  # flag
    0x0E: "O",  # strp
    0x10: "O",  # ref_addr (DWARF 3+)
    0x11: 1,  # ref1
    0x12: 2,  # ref2
    0x13: 4,  # ref4
    0x14: 8,  # ref8
    0x17: "O",  # sec_offset
    0x19: 0,  # flag_present
    0x1C: 4,  # ref_sup4
    0x1D: "O",  # strp_sup
    0x1E: 16,  # data16
    0x1F: "O",  # line_strp
    0x20: 8,  # ref_sig8
    0x21: 0,  # implicit_const
    0x24: 8,  # ref_sup8
    0x25: 1,  # strx1
    0x26: 2,  # strx2
    0x27: 3,  # strx3
    0x28: 4,  # strx4
    0x29: 1,  # addrx1
    0x2A: 2,  # addrx2
    0x2B: 3,  # addrx3
    0x2C: 4,  # addrx4
    0x1F20: "O",  # GNU_ref_alt
    0x1F21: "O",  # GNU_strp_alt
}
_FORM_ULEB = {0x0F, 0x15, 0x1A, 0x1B, 0x22, 0x23, 0x1F01, 0x1F02}  # udata ref_udata strx addrx ...
_FORM_BLOCK_ULEB = {0x09, 0x18}  # block, exprloc


# ---------------------------------------------------------------------------------------------------
# The ELF container


class _Sections:
    """The DWARF sections of an ELF file, as zero-copy views of an mmap where possible."""

    NAMES = (
        ".debug_aranges",
        ".debug_info",
        ".debug_abbrev",
        ".debug_line",
        ".debug_str",
        ".debug_line_str",
        ".debug_str_offsets",
    )

    def __init__(self, path: str) -> None:
        self.map: mmap.mmap | None = None
        self.data: dict[str, bytes | memoryview] = {}
        try:
            with open(path, "rb") as f:
                self.map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as e:
            raise LineTableError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
        m = self.map
        if len(m) < 52 or m[:4] != b"\x7fELF":
            raise LineTableError(f"{path}: not an ELF file")
        is64 = m[4] == 2
        end = "<" if m[5] == 1 else ">"
        (e_type,) = struct.unpack_from(end + "H", m, 16)
        if e_type == 1:  # ET_REL: a module's DWARF holds section-relative addresses until relocated
            raise LineTableError(f"{path}: a relocatable object (its line addresses need relocating)")
        self.little_endian = end == "<"
        self.address_size = 8 if is64 else 4
        if is64:
            (shoff,) = struct.unpack_from(end + "Q", m, 40)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", m, 58)
            shdr = struct.Struct(end + "IIQQQQIIQQ")
        else:
            (shoff,) = struct.unpack_from(end + "I", m, 32)
            shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", m, 46)
            shdr = struct.Struct(end + "IIIIIIIIII")
        if shoff == 0 or shnum == 0 or shoff + shnum * shentsize > len(m) or shstrndx >= shnum:
            raise LineTableError(f"{path}: no ELF section headers")
        raw = [shdr.unpack_from(m, shoff + i * shentsize) for i in range(shnum)]
        stroff = raw[shstrndx][4]
        view = memoryview(m)
        self._view = view
        wanted = set(self.NAMES) | {".z" + n[1:] for n in self.NAMES}
        for r in raw:
            name_end = m.find(b"\0", stroff + r[0])
            name = m[stroff + r[0] : name_end].decode("ascii", "replace")
            if name not in wanted or r[1] == _SHT_NOBITS:
                continue
            flags, offset, size = r[2], r[4], r[5]
            if offset + size > len(m):
                raise LineTableError(f"{path}: section {name} lies beyond the end of the file")
            body: bytes | memoryview = view[offset : offset + size]
            if flags & _SHF_COMPRESSED:
                body = self._decompress_chdr(bytes(body), is64, end, path, name)
            elif name.startswith(".zdebug"):
                if bytes(body[:4]) != b"ZLIB":
                    raise LineTableError(f"{path}: bad compressed section {name}")
                body = zlib.decompress(bytes(body[12:]))
                name = "." + name[2:]
            self.data[name] = body

    @staticmethod
    def _decompress_chdr(body: bytes, is64: bool, end: str, path: str, name: str) -> bytes:
        if is64:
            ch_type, _res, _size, _align = struct.unpack_from(end + "IIQQ", body, 0)
            start = 24
        else:
            ch_type, _size, _align = struct.unpack_from(end + "III", body, 0)
            start = 12
        if ch_type != 1:  # ELFCOMPRESS_ZLIB; zstd (2) would need a codec
            raise LineTableError(f"{path}: section {name}: unsupported compression {ch_type}")
        return zlib.decompress(body[start:])

    def close(self) -> None:
        for body in self.data.values():
            if isinstance(body, memoryview):
                body.release()
        self.data.clear()
        if self.map is not None:
            self._view.release()
            try:
                self.map.close()
            except BufferError:  # someone still holds a view; the map goes with it
                pass
            self.map = None


# ---------------------------------------------------------------------------------------------------
# One unit's decoded line table


class _Subfile:
    """gdb's ``struct subfile``: one source file of a unit with its own line vector."""

    __slots__ = ("name", "rows", "has_vector", "has_symtab", "serial")

    def __init__(self, name: str, serial: int) -> None:
        self.name = name
        self.rows: list[tuple[int, int, bool]] = []  # (pc, line, is_stmt) in recording order
        self.has_vector = False  # gdb's line_vector != NULL: something was recorded once
        self.has_symtab = False
        self.serial = serial  # creation order; m_subfiles is newest first


class _UnitLines:
    """The line tables of one unit, per file in symtab order, ready for gdb's row choice.

    Besides each file's table (``pcs``, ``lines``, ``stmts``) all rows are merged by address
    (``m_pc``, ``m_file``, ``m_index``; a file's rows keep their order), so that a lookup is one
    bisect and a short walk back instead of one bisect per file.
    """

    __slots__ = ("comp_dir", "names", "pcs", "lines", "stmts", "m_pc", "m_file", "m_index")

    def __init__(self, comp_dir: str | None) -> None:
        self.comp_dir = comp_dir
        # Arrays, not lists: a kernel unit has tens of thousands of rows and a session may keep
        # hundreds of units.
        self.names: list[str] = []
        self.pcs: list[array[int]] = []
        self.lines: list[array[int]] = []
        self.stmts: list[bytes] = []
        self.m_pc: array[int] = array("Q")
        self.m_file: array[int] = array("I")
        self.m_index: array[int] = array("I")

    def add(self, name: str, rows: list[tuple[int, int, bool]]) -> None:
        """One file's table, in symtab order (call finish() after the last)."""
        # buildsym.c lte_is_less_than + std::stable_sort: by pc, end markers (line 0) first at a pc.
        if any(
            rows[i][0] > rows[i + 1][0]
            or (rows[i][0] == rows[i + 1][0] and rows[i + 1][1] == 0 and rows[i][1] != 0)
            for i in range(len(rows) - 1)
        ):
            rows = sorted(rows, key=lambda r: (r[0], r[1] != 0))
        self.names.append(name)
        self.pcs.append(array("Q", [r[0] for r in rows]))
        self.lines.append(array("I", [r[1] for r in rows]))
        self.stmts.append(bytes(1 if r[2] else 0 for r in rows))

    def finish(self) -> None:
        all_pc: list[int] = []
        all_file: list[int] = []
        all_index: list[int] = []
        for f, pcs in enumerate(self.pcs):
            all_pc.extend(pcs)
            all_file.extend([f] * len(pcs))
            all_index.extend(range(len(pcs)))
        order = sorted(range(len(all_pc)), key=all_pc.__getitem__)  # stable: files keep their order
        self.m_pc = array("Q", [all_pc[k] for k in order])
        self.m_file = array("I", [all_file[k] for k in order])
        self.m_index = array("I", [all_index[k] for k in order])

    def find(self, pc: int) -> SourceLine | None:
        """gdb's find_pc_sect_line over this unit's symtabs.

        gdb takes, in each file's table, the last row at or below pc (a file whose row is an end
        marker drops out), and of those the one with the greatest address, the first file on a tie.
        Walking the merged rows back from pc meets each file's last row first.
        """
        m_pc, m_file, m_index = self.m_pc, self.m_file, self.m_index
        k = bisect.bisect_right(m_pc, pc) - 1
        seen: set[int] = set()
        best_pc = -1
        best_file = -1
        best_index = -1
        while k >= 0:
            p = m_pc[k]
            if best_file >= 0 and p != best_pc:
                break
            f = m_file[k]
            if f not in seen:
                seen.add(f)
                i = m_index[k]
                if self.lines[f][i] != 0 and (best_file < 0 or f < best_file):
                    best_pc, best_file, best_index = p, f, i
            k -= 1
        if best_file < 0:
            return None
        f, i = best_file, best_index
        lines = self.lines[f]
        stmts = self.stmts[f]
        if not stmts[i]:
            # Scan back through rows at the same address for a statement row.
            pcs = self.pcs[f]
            t = i
            while t > 0 and pcs[t - 1] == pcs[t] and lines[t - 1] != 0 and not stmts[t]:
                t -= 1
            if stmts[t]:
                i = t
        line = lines[i]
        if line >= 0x80000000:  # sal.line is an int
            line -= 0x100000000
        return SourceLine(best_pc, self.names[f], self.comp_dir, line)

    def row_addresses(self, lo: int, hi: int) -> list[int]:
        """The addresses in [lo, hi) where some file has a row."""
        m_pc = self.m_pc
        return m_pc[bisect.bisect_left(m_pc, lo) : bisect.bisect_left(m_pc, hi)].tolist()


class _LineHeader:
    """The parts of a line-program header that gdb uses."""

    __slots__ = (
        "version",
        "min_inst_len",
        "max_ops",
        "default_is_stmt",
        "line_base",
        "line_range",
        "opcode_base",
        "opcode_lengths",
        "include_dirs",
        "files",
        "program_start",
        "program_end",
    )

    def __init__(self) -> None:
        self.version = 0
        self.min_inst_len = 1
        self.max_ops = 1
        self.default_is_stmt = True
        self.line_base = 0
        self.line_range = 1
        self.opcode_base = 1
        self.opcode_lengths: bytes = b""
        self.include_dirs: list[str | None] = []
        self.files: list[tuple[str | None, int]] = []  # (name, directory index)
        self.program_start = 0
        self.program_end = 0

    def file_at(self, index: int) -> tuple[str | None, int] | None:
        """line_header::file_name_at: 0-based in DWARF 5, 1-based before."""
        vec = index if self.version >= 5 else index - 1
        if 0 <= vec < len(self.files):
            return self.files[vec]
        return None

    def dir_at(self, index: int) -> str | None:
        """line_header::include_dir_at: 0-based in DWARF 5, 1-based before."""
        vec = index if self.version >= 5 else index - 1
        if 0 <= vec < len(self.include_dirs):
            return self.include_dirs[vec]
        return None


# ---------------------------------------------------------------------------------------------------


class LineTable:
    """Source lines of one linked ELF file (vmlinux), looked up like gdb 10.2.

    ``source`` is a path, or a mapping of section name (".debug_info", ...) to its bytes (tests).
    A module's .ko debuginfo is refused (LineTableError): it is ET_REL, its DWARF addresses mean
    nothing until relocated to where the module's sections were loaded.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Mapping[str, bytes],
        *,
        address_size: int = 8,
        little_endian: bool = True,
    ) -> None:
        self._sections: _Sections | None = None
        if isinstance(source, Mapping):
            self._data: dict[str, bytes | memoryview] = dict(source)
            self._address_size = address_size
            self._little = little_endian
        else:
            self._sections = _Sections(os.fspath(source))
            self._data = self._sections.data
            self._address_size = self._sections.address_size
            self._little = self._sections.little_endian
        self._order: Literal["little", "big"] = "little" if self._little else "big"
        self._e = "<" if self._little else ">"
        # .debug_aranges, flattened to disjoint intervals: starts, ends, unit offsets.
        self._ar_lo: list[int] | None = None
        self._ar_hi: list[int] = []
        self._ar_cu: list[int] = []
        self._cu_low: dict[int, int] = {}  # unit offset -> lowest non-zero address in its aranges
        self._units: dict[int, _UnitLines | None] = {}
        self._memo: dict[int, SourceLine | None] = {}

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
        unit = self._unit_for(addr)
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
        self._load_aranges()
        assert self._ar_lo is not None
        candidates = {lo}
        i = max(bisect.bisect_right(self._ar_lo, lo) - 1, 0)
        while i < len(self._ar_lo) and self._ar_lo[i] < hi:
            if self._ar_hi[i] > lo:
                if lo < self._ar_lo[i]:
                    candidates.add(self._ar_lo[i])
                if self._ar_hi[i] < hi:
                    candidates.add(self._ar_hi[i])
                unit = self._unit(self._ar_cu[i])
                if unit is not None:
                    candidates.update(unit.row_addresses(lo, hi))
            i += 1
        out: list[tuple[int, str, int]] = []
        for pc in sorted(candidates):
            found = self.lookup(pc)
            if found is not None:
                out.append((pc, found[0], found[1]))
        return out

    def unit_offset(self, addr: int) -> int | None:
        """The .debug_info offset of the unit whose .debug_aranges cover addr."""
        self._load_aranges()
        assert self._ar_lo is not None
        i = bisect.bisect_right(self._ar_lo, addr) - 1
        if i >= 0 and addr < self._ar_hi[i]:
            return self._ar_cu[i]
        return None

    def close(self) -> None:
        self._units.clear()
        self._memo.clear()
        if self._sections is not None:
            self._sections.close()
            self._sections = None

    def __enter__(self) -> LineTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- .debug_aranges ---------------------------------------------------------------------------

    def _load_aranges(self) -> None:
        if self._ar_lo is not None:
            return
        data = self._data.get(".debug_aranges")
        ranges: list[tuple[int, int, int]] = []  # (cu offset, lo, hi) in file order
        e = self._e
        pos = 0
        n = len(data) if data is not None else 0
        while data is not None and pos + 4 <= n:
            set_start = pos
            (length,) = struct.unpack_from(e + "I", data, pos)
            pos += 4
            offset_size = 4
            if length == 0xFFFFFFFF:
                (length,) = struct.unpack_from(e + "Q", data, pos)
                pos += 8
                offset_size = 8
            end = pos + length
            if length == 0 or end > n:
                break
            (version,) = struct.unpack_from(e + "H", data, pos)
            cu_off = int.from_bytes(data[pos + 2 : pos + 2 + offset_size], self._order)
            p = pos + 2 + offset_size
            addr_size = data[p]
            seg_size = data[p + 1]
            p += 2
            pos = end
            if version != 2 or addr_size not in (4, 8) or seg_size != 0:
                continue
            # The tuples start at a multiple of the tuple size from the start of the set.
            tuple_size = 2 * addr_size
            p = set_start + -(-(p - set_start) // tuple_size) * tuple_size
            count = (end - p) // tuple_size
            fmt = e + ("QQ" if addr_size == 8 else "II")
            for a, ln in struct.iter_unpack(fmt, data[p : p + count * tuple_size]):
                if a == 0 and ln == 0:
                    break
                if ln and a:  # a range at 0 is a function the linker dropped
                    ranges.append((cu_off, a, a + ln))
        cu_low = self._cu_low
        for cu_off, a, _b in ranges:
            if cu_off not in cu_low or a < cu_low[cu_off]:
                cu_low[cu_off] = a
        self._ar_lo, self._ar_hi, self._ar_cu = self._flatten(ranges)

    @staticmethod
    def _flatten(ranges: list[tuple[int, int, int]]) -> tuple[list[int], list[int], list[int]]:
        """Disjoint intervals; where units overlap the first in .debug_info order keeps the bytes.

        (gdb builds its pc -> unit map with addrmap_set_empty, unit by unit.)
        """
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

    # -- units ------------------------------------------------------------------------------------

    def _unit_for(self, addr: int) -> _UnitLines | None:
        off = self.unit_offset(addr)
        return None if off is None else self._unit(off)

    def _unit(self, cu_off: int) -> _UnitLines | None:
        if cu_off in self._units:
            return self._units[cu_off]
        try:
            unit = self._read_unit(cu_off)
        except (IndexError, ValueError, struct.error):
            unit = None  # malformed DWARF: no line information, as gdb would complain and go on
        self._units[cu_off] = unit
        return unit

    def _read_unit(self, cu_off: int) -> _UnitLines | None:
        info = self._data.get(".debug_info")
        abbrev = self._data.get(".debug_abbrev")
        if info is None or abbrev is None:
            return None
        e = self._e
        pos = cu_off
        (length,) = struct.unpack_from(e + "I", info, pos)
        pos += 4
        offset_size = 4
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from(e + "Q", info, pos)
            pos += 8
            offset_size = 8
        unit_end = pos + length
        (version,) = struct.unpack_from(e + "H", info, pos)
        pos += 2
        if version >= 5:
            unit_type = info[pos]
            addr_size = info[pos + 1]
            pos += 2
            abbrev_off = int.from_bytes(info[pos : pos + offset_size], self._order)
            pos += offset_size
            if unit_type in (_DW_UT_skeleton, _DW_UT_split_compile):
                pos += 8  # dwo_id
            elif unit_type in (_DW_UT_type, _DW_UT_split_type):
                pos += 8 + offset_size  # type signature, type offset
        else:
            abbrev_off = int.from_bytes(info[pos : pos + offset_size], self._order)
            pos += offset_size
            addr_size = info[pos]
            pos += 1
        code, pos = _uleb(info, pos)
        if code == 0:
            return None
        specs = self._abbrev_specs(abbrev, abbrev_off, code)
        if specs is None:
            return None
        attrs: dict[int, tuple[int, object]] = {}  # attribute -> (form, value)
        for at, form, implicit in specs:
            form, value, pos = self._read_form(info, pos, form, implicit, addr_size, offset_size, version)
            if at not in attrs:
                attrs[at] = (form, value)
            if pos > unit_end:
                return None
        base = attrs.get(_DW_AT_str_offsets_base, (0, 8))[1]
        str_offsets_base = base if isinstance(base, int) else 8

        def string(at: int) -> str | None:
            if at not in attrs:
                return None
            form, value = attrs[at]
            return self._form_string(form, value, offset_size, str_offsets_base)

        name = string(_DW_AT_name)
        comp_dir = string(_DW_AT_comp_dir)
        if name is None:
            name = "<unknown>"
        if comp_dir is not None:
            # find_file_and_directory: Irix "machine.:" prefix.
            colon = comp_dir.find(":")
            if colon > 0 and comp_dir[colon - 1] == "." and comp_dir[colon + 1 : colon + 2] == "/":
                comp_dir = comp_dir[colon + 1 :]
        stmt = attrs.get(_DW_AT_stmt_list)
        if stmt is None or not isinstance(stmt[1], int):
            return None
        header = self._line_header(stmt[1])
        if header is None:
            return None
        return self._decode(header, name, comp_dir, addr_size, self._cu_low.get(cu_off, 0))

    @staticmethod
    def _abbrev_specs(abbrev: bytes | memoryview, off: int, code: int) -> list[tuple[int, int, int]] | None:
        pos = off
        n = len(abbrev)
        while pos < n:
            c, pos = _uleb(abbrev, pos)
            if c == 0:
                return None
            _tag, pos = _uleb(abbrev, pos)
            pos += 1  # children
            specs: list[tuple[int, int, int]] = []
            while True:
                at, pos = _uleb(abbrev, pos)
                form, pos = _uleb(abbrev, pos)
                implicit = 0
                if form == _DW_FORM_implicit_const:
                    implicit, pos = _sleb(abbrev, pos)
                if at == 0 and form == 0:
                    break
                specs.append((at, form, implicit))
            if c == code:
                return specs
        return None

    def _read_form(
        self,
        data: bytes | memoryview,
        pos: int,
        form: int,
        implicit: int,
        addr_size: int,
        offset_size: int,
        version: int,
    ) -> tuple[int, object, int]:
        """One attribute value: (form, after DW_FORM_indirect; value; position after it)."""
        if form == _DW_FORM_indirect:
            real, pos = _uleb(data, pos)
            return self._read_form(data, pos, real, implicit, addr_size, offset_size, version)
        value: object
        if form == _DW_FORM_string:
            value, pos = _cstr(data, pos)
            return form, value, pos
        if form == _DW_FORM_implicit_const:
            return form, implicit, pos
        if form in _FORM_ULEB:
            value, pos = _uleb(data, pos)
            return form, value, pos
        if form == 0x0D:  # sdata
            value, pos = _sleb(data, pos)
            return form, value, pos
        if form in _FORM_BLOCK_ULEB:
            size, pos = _uleb(data, pos)
            return form, None, pos + size
        if form == 0x0A:  # block1
            return form, None, pos + 1 + data[pos]
        if form == 0x03:  # block2
            return form, None, pos + 2 + int.from_bytes(data[pos : pos + 2], self._order)
        if form == 0x04:  # block4
            return form, None, pos + 4 + int.from_bytes(data[pos : pos + 4], self._order)
        spec = _FORM_SIZE.get(form)
        if spec is None:
            raise ValueError(f"unknown DWARF form {form:#x}")
        if spec == "A":
            size = addr_size
        elif spec == "O":
            size = addr_size if (form == 0x10 and version <= 2) else offset_size
        else:
            assert isinstance(spec, int)
            size = spec
        return form, int.from_bytes(data[pos : pos + size], self._order), pos + size

    def _form_string(self, form: int, value: object, offset_size: int, str_offsets_base: int) -> str | None:
        if form == _DW_FORM_string:
            return value if isinstance(value, str) else None
        if not isinstance(value, int):
            return None
        if form == _DW_FORM_strp:
            return _cstr_at(self._data.get(".debug_str"), value)
        if form == _DW_FORM_line_strp:
            return _cstr_at(self._data.get(".debug_line_str"), value)
        if form in (
            _DW_FORM_strx,
            _DW_FORM_strx1,
            _DW_FORM_strx2,
            _DW_FORM_strx3,
            _DW_FORM_strx4,
            _DW_FORM_GNU_str_index,
        ):
            offs = self._data.get(".debug_str_offsets")
            if offs is None:
                return None
            at = str_offsets_base + value * offset_size
            if at + offset_size > len(offs):
                return None
            return _cstr_at(
                self._data.get(".debug_str"), int.from_bytes(offs[at : at + offset_size], self._order)
            )
        return None

    # -- the line program -------------------------------------------------------------------------

    def _line_header(self, offset: int) -> _LineHeader | None:
        """dwarf_decode_line_header (gdb/dwarf2/line-header.c)."""
        data = self._data.get(".debug_line")
        if data is None or offset >= len(data):
            return None
        e = self._e
        order = self._order
        h = _LineHeader()
        pos = offset
        (length,) = struct.unpack_from(e + "I", data, pos)
        pos += 4
        offset_size = 4
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from(e + "Q", data, pos)
            pos += 8
            offset_size = 8
        end = pos + length
        if end > len(data):
            return None
        (h.version,) = struct.unpack_from(e + "H", data, pos)
        pos += 2
        if not 2 <= h.version <= 5:
            return None
        if h.version >= 5:
            pos += 2  # address_size, segment_selector_size
        header_length = int.from_bytes(data[pos : pos + offset_size], order)
        pos += offset_size
        h.program_start = pos + header_length
        h.program_end = end
        h.min_inst_len = data[pos]
        pos += 1
        if h.version >= 4:
            h.max_ops = data[pos] or 1
            pos += 1
        h.default_is_stmt = data[pos] != 0
        h.line_base = data[pos + 1] - 256 if data[pos + 1] >= 128 else data[pos + 1]
        h.line_range = data[pos + 2] or 1
        h.opcode_base = data[pos + 3]
        pos += 4
        h.opcode_lengths = b"\0" + bytes(data[pos : pos + max(h.opcode_base - 1, 0)])
        pos += max(h.opcode_base - 1, 0)
        if h.version >= 5:
            dirs, pos = self._entries(data, pos, offset_size)
            h.include_dirs = [name for name, _d in dirs]
            h.files, pos = self._entries(data, pos, offset_size)
        else:
            while data[pos] != 0:
                name, pos = _cstr(data, pos)
                h.include_dirs.append(name)
            pos += 1
            while data[pos] != 0:
                name, pos = _cstr(data, pos)
                d, pos = _uleb(data, pos)
                _mtime, pos = _uleb(data, pos)
                _size, pos = _uleb(data, pos)
                h.files.append((name, d))
            pos += 1
        return h

    def _entries(
        self, data: bytes | memoryview, pos: int, offset_size: int
    ) -> tuple[list[tuple[str | None, int]], int]:
        """read_formatted_entries (DWARF 5 directory and file tables)."""
        order = self._order
        count = data[pos]
        pos += 1
        formats: list[tuple[int, int]] = []
        for _ in range(count):
            ct, pos = _uleb(data, pos)
            form, pos = _uleb(data, pos)
            formats.append((ct, form))
        n, pos = _uleb(data, pos)
        line_str = self._data.get(".debug_line_str")
        out: list[tuple[str | None, int]] = []
        for _ in range(n):
            name: str | None = None
            d_index = 0
            for ct, form in formats:
                s: str | None = None
                u: int | None = None
                if form == _DW_FORM_string:
                    s, pos = _cstr(data, pos)
                elif form == _DW_FORM_line_strp:
                    s = _cstr_at(line_str, int.from_bytes(data[pos : pos + offset_size], order))
                    pos += offset_size
                elif form == _DW_FORM_strp:
                    s = _cstr_at(
                        self._data.get(".debug_str"), int.from_bytes(data[pos : pos + offset_size], order)
                    )
                    pos += offset_size
                elif form == 0x0B:
                    u = data[pos]
                    pos += 1
                elif form == 0x05:
                    u = int.from_bytes(data[pos : pos + 2], order)
                    pos += 2
                elif form == 0x06:
                    u = int.from_bytes(data[pos : pos + 4], order)
                    pos += 4
                elif form == 0x07:
                    u = int.from_bytes(data[pos : pos + 8], order)
                    pos += 8
                elif form == 0x1E:
                    pos += 16
                elif form == 0x0F:
                    u, pos = _uleb(data, pos)
                elif form == 0x09:
                    size, pos = _uleb(data, pos)
                    pos += size
                if ct == _DW_LNCT_path and s is not None:
                    name = s
                elif ct == _DW_LNCT_directory_index and u is not None:
                    d_index = u
            out.append((name, d_index))
        return out, pos

    def _decode(
        self, h: _LineHeader, cu_name: str, comp_dir: str | None, addr_size: int, cu_lowpc: int
    ) -> _UnitLines:
        """dwarf_decode_lines + end_symtab: per-file tables in symtab order."""
        whole = self._data[".debug_line"]
        data = bytes(whole[h.program_start : h.program_end])  # bytes index faster than an mmap view
        order = self._order

        # buildsym_compunit::start_subfile, m_subfiles newest first.
        subfiles: list[_Subfile] = []
        by_name: dict[str, _Subfile] = {}
        by_joined: dict[str, _Subfile] = {}  # comp_dir + "/" + relative name -> subfile

        def start_subfile(name: str) -> _Subfile:
            found = by_name.get(name)
            if name.startswith("/") and comp_dir is not None:
                other = by_joined.get(name)
                if other is not None and (found is None or other.serial > found.serial):
                    found = other
            if found is not None:
                return found
            sub = _Subfile(name, len(subfiles))
            subfiles.append(sub)
            by_name.setdefault(name, sub)
            if not name.startswith("/") and comp_dir is not None:
                joined = comp_dir + "/" + name
                prev = by_joined.get(joined)
                if prev is None or prev.serial < sub.serial:
                    by_joined[joined] = sub
            file_cache.clear()
            return sub

        file_cache: dict[int, _Subfile | None] = {}

        def dwarf2_start_subfile(index: int) -> _Subfile | None:
            """The subfile of file `index`, or None when the index is not in the table."""
            if index in file_cache:
                return file_cache[index]
            fe = h.file_at(index)
            if fe is None:
                return None
            name, d_index = fe
            if name is None:
                name = ""  # gdb would crash on a nameless entry; do not
            dirname = h.dir_at(d_index)
            if not name.startswith("/") and dirname is not None:
                name = dirname + "/" + name
            sub = start_subfile(name)
            file_cache[index] = sub
            return sub

        main = start_subfile(cu_name)
        current = main

        def record(sub: _Subfile, line: int, pc: int, is_stmt: bool) -> None:
            rows = sub.rows
            sub.has_vector = True
            if line == 0:
                while rows and rows[-1][0] == pc:
                    rows.pop()
            rows.append((pc, line, is_stmt))

        min_len = h.min_inst_len
        max_ops = h.max_ops
        line_base = h.line_base
        line_range = h.line_range
        opcode_base = h.opcode_base
        opcode_lengths = h.opcode_lengths
        const_add = (255 - opcode_base) // line_range
        lo_user, hi_user = 0x80, 0xFF
        pos = 0
        end = len(data)
        mask = 0xFFFFFFFF

        while pos < end:
            # A fresh lnp_state_machine per sequence.
            address = 0
            op_index = 0
            file = 1
            line = 1
            is_stmt = h.default_is_stmt
            discriminator = 0
            last_subfile: _Subfile | None = None
            last_address = 0
            stmt_at_address = False
            recording = True
            last_line = 0
            nonzero_disc = False
            end_sequence = False
            sub = dwarf2_start_subfile(file)
            if sub is not None:
                current = sub
            file_ok = sub is not None

            while pos < end and not end_sequence:
                op = data[pos]
                pos += 1
                do_record = False
                if op >= opcode_base:
                    adj = op - opcode_base
                    d = adj // line_range
                    if max_ops == 1:
                        address += d * min_len
                    else:
                        address += ((op_index + d) // max_ops) * min_len
                        op_index = (op_index + d) % max_ops
                    delta = line_base + adj % line_range
                    line = (line + delta) & mask
                    if delta:
                        nonzero_disc = discriminator != 0
                    do_record = True
                elif op == _DW_LNS_copy:
                    do_record = True
                elif op == 0:  # extended
                    ext_len, pos = _uleb(data, pos)
                    ext_end = pos + ext_len
                    ext = data[pos]
                    pos += 1
                    if lo_user <= ext <= hi_user:
                        pos = ext_end
                        continue
                    if ext == _DW_LNE_end_sequence:
                        recording = True
                        end_sequence = True
                    elif ext == _DW_LNE_set_address:
                        a = int.from_bytes(data[pos : pos + addr_size], order)
                        pos += addr_size
                        if (a == 0 and cu_lowpc > 0) or a == 0xFFFFFFFFFFFFFFFF:
                            recording = False  # a function the linker dropped (PR gdb/12528)
                        op_index = 0
                        address = a
                    elif ext == _DW_LNE_define_file:
                        name, pos = _cstr(data, pos)
                        d, pos = _uleb(data, pos)
                        _mtime, pos = _uleb(data, pos)
                        _size, pos = _uleb(data, pos)
                        h.files.append((name, d))
                        file_cache.clear()
                        file_ok = h.file_at(file) is not None
                    elif ext == _DW_LNE_set_discriminator:
                        discriminator, pos = _uleb(data, pos)
                        nonzero_disc = nonzero_disc or discriminator != 0
                    else:
                        return self._finish(h, main, subfiles, comp_dir, dwarf2_start_subfile)
                    if pos != ext_end:  # "mangled .debug_line section": gdb stops here
                        return self._finish(h, main, subfiles, comp_dir, dwarf2_start_subfile)
                    continue
                elif op == _DW_LNS_advance_pc:
                    adjust, pos = _uleb(data, pos)
                    address += ((op_index + adjust) // max_ops) * min_len
                    op_index = (op_index + adjust) % max_ops
                    continue
                elif op == _DW_LNS_advance_line:
                    delta, pos = _sleb(data, pos)
                    line = (line + delta) & mask
                    if delta:
                        nonzero_disc = discriminator != 0
                    continue
                elif op == _DW_LNS_set_file:
                    file, pos = _uleb(data, pos)
                    sub = dwarf2_start_subfile(file)
                    file_ok = sub is not None
                    if sub is not None:
                        last_subfile = current
                        nonzero_disc = discriminator != 0
                        current = sub
                    continue
                elif op == _DW_LNS_set_column:
                    _col, pos = _uleb(data, pos)
                    continue
                elif op == _DW_LNS_negate_stmt:
                    is_stmt = not is_stmt
                    continue
                elif op == _DW_LNS_set_basic_block:
                    continue
                elif op == _DW_LNS_const_add_pc:
                    address += ((op_index + const_add) // max_ops) * min_len
                    op_index = (op_index + const_add) % max_ops
                    continue
                elif op == _DW_LNS_fixed_advance_pc:
                    address += int.from_bytes(data[pos : pos + 2], order)
                    pos += 2
                    op_index = 0
                    continue
                else:
                    for _ in range(opcode_lengths[op] if op < len(opcode_lengths) else 0):
                        _skip, pos = _uleb(data, pos)
                    continue

                if do_record:
                    # lnp_state_machine::record_line (false)
                    if file_ok and op_index == 0:
                        file_changed = last_subfile is not current
                        ignore = (
                            file_changed and last_address == address and not is_stmt and stmt_at_address
                        ) or line == 0
                        if file_changed and not ignore and last_subfile is not None and recording:
                            record(last_subfile, 0, address, True)
                        if not ignore:
                            if (
                                current is not last_subfile or line != last_line or not nonzero_disc
                            ) and recording:
                                record(current, line, address, is_stmt)
                            last_subfile = current
                            last_line = line
                    if last_address != address:
                        stmt_at_address = False
                        last_address = address
                    stmt_at_address = stmt_at_address or is_stmt
                    discriminator = 0

            # record_line (true): the end marker in the file the sequence ended in.
            if file_ok and last_subfile is not None and recording:
                record(last_subfile, 0, address, True)

        return self._finish(h, main, subfiles, comp_dir, dwarf2_start_subfile)

    @staticmethod
    def _finish(
        h: _LineHeader,
        main: _Subfile,
        subfiles: list[_Subfile],
        comp_dir: str | None,
        start: Callable[[int], _Subfile | None],
    ) -> _UnitLines:
        """The symtab order of end_symtab_with_blockvector: main file first, then file-table order."""
        order: list[_Subfile] = []
        # dwarf_decode_lines: a symtab for every file-table entry, in table order.
        indices = range(len(h.files)) if h.version >= 5 else range(1, len(h.files) + 1)
        for index in indices:
            sub = start(index)
            if sub is not None and not sub.has_symtab:
                sub.has_symtab = True
                order.append(sub)
        first = main
        if not main.has_vector and not main.has_symtab:
            # watch_main_source_file_lossage: one other file with the same base name stands in.
            base = main.name.rsplit("/", 1)[-1]
            aliases = [s for s in subfiles if s is not main and s.name.rsplit("/", 1)[-1] == base]
            if len(aliases) == 1:
                first = aliases[0]
        unit = _UnitLines(comp_dir)
        for sub in [first] + [s for s in order if s is not first]:
            if sub.rows:
                unit.add(sub.name, sub.rows)
        unit.finish()
        return unit
