"""gdb 10.2's line tables of one unit (the gdb bundled with crash 8.0.6, whose answers crash prints):
a line-number program decoded into one table per source file, and the row gdb chooses for a pc.

* Building the tables (gdb/dwarf2/read.c ``lnp_state_machine::record_line``,
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
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from crashpy.bits import MASK64
from crashpy.dwarf.constants import (
    LNE_DEFINE_FILE,
    LNE_END_SEQUENCE,
    LNE_SET_ADDRESS,
    LNE_SET_DISCRIMINATOR,
    LNS_ADVANCE_LINE,
    LNS_ADVANCE_PC,
    LNS_CONST_ADD_PC,
    LNS_COPY,
    LNS_FIXED_ADVANCE_PC,
    LNS_NEGATE_STMT,
    LNS_SET_BASIC_BLOCK,
    LNS_SET_COLUMN,
    LNS_SET_FILE,
)
from crashpy.dwarf.forms import ByteOrder, read_sleb, read_uleb
from crashpy.dwarf.line_header import LineHeader, read_cstring


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
        return crash_path(self.filename, self.comp_dir)


def crash_path(filename: str, comp_dir: str | None) -> str | None:
    """crash's get_line_number() file name: an absolute one as it is, a relative one after the unit's
    directory and "/" (none when the directory ends in "/"); None without a directory; "//" squeezed."""
    if comp_dir is None:
        return None
    if filename.startswith("/"):
        text = filename
    else:
        text = comp_dir + ("" if comp_dir.endswith("/") else "/") + filename
    while "//" in text:
        text = text.replace("//", "/")
    return text


class _Subfile:
    """gdb's ``struct subfile``: one source file of a unit with its own line vector."""

    __slots__ = ("name", "rows", "has_vector", "has_symtab", "serial")

    def __init__(self, name: str, serial: int) -> None:
        self.name = name
        self.rows: list[tuple[int, int, bool]] = []  # (pc, line, is_stmt) in recording order
        self.has_vector = False  # gdb's line_vector != NULL: something was recorded once
        self.has_symtab = False
        self.serial = serial  # creation order; m_subfiles is newest first


class UnitLines:
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


def decode_lines(
    h: LineHeader, cu_name: str, comp_dir: str | None, addr_size: int, cu_lowpc: int, byteorder: ByteOrder
) -> UnitLines:
    """dwarf_decode_lines + end_symtab: per-file tables in symtab order."""
    data = h.program
    order = byteorder

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
            elif op == LNS_COPY:
                do_record = True
            elif op == 0:  # extended
                ext_len, pos = read_uleb(data, pos)
                ext_end = pos + ext_len
                ext = data[pos]
                pos += 1
                if lo_user <= ext <= hi_user:
                    pos = ext_end
                    continue
                if ext == LNE_END_SEQUENCE:
                    recording = True
                    end_sequence = True
                elif ext == LNE_SET_ADDRESS:
                    a = int.from_bytes(data[pos : pos + addr_size], order)
                    pos += addr_size
                    if (a == 0 and cu_lowpc > 0) or a == MASK64:
                        recording = False  # a function the linker dropped (PR gdb/12528)
                    op_index = 0
                    address = a
                elif ext == LNE_DEFINE_FILE:
                    name, pos = read_cstring(data, pos)
                    d, pos = read_uleb(data, pos)
                    _mtime, pos = read_uleb(data, pos)
                    _size, pos = read_uleb(data, pos)
                    h.files.append((name, d))
                    file_cache.clear()
                    file_ok = h.file_at(file) is not None
                elif ext == LNE_SET_DISCRIMINATOR:
                    discriminator, pos = read_uleb(data, pos)
                    nonzero_disc = nonzero_disc or discriminator != 0
                else:
                    return _finish(h, main, subfiles, comp_dir, dwarf2_start_subfile)
                if pos != ext_end:  # "mangled .debug_line section": gdb stops here
                    return _finish(h, main, subfiles, comp_dir, dwarf2_start_subfile)
                continue
            elif op == LNS_ADVANCE_PC:
                adjust, pos = read_uleb(data, pos)
                address += ((op_index + adjust) // max_ops) * min_len
                op_index = (op_index + adjust) % max_ops
                continue
            elif op == LNS_ADVANCE_LINE:
                delta, pos = read_sleb(data, pos)
                line = (line + delta) & mask
                if delta:
                    nonzero_disc = discriminator != 0
                continue
            elif op == LNS_SET_FILE:
                file, pos = read_uleb(data, pos)
                sub = dwarf2_start_subfile(file)
                file_ok = sub is not None
                if sub is not None:
                    last_subfile = current
                    nonzero_disc = discriminator != 0
                    current = sub
                continue
            elif op == LNS_SET_COLUMN:
                _col, pos = read_uleb(data, pos)
                continue
            elif op == LNS_NEGATE_STMT:
                is_stmt = not is_stmt
                continue
            elif op == LNS_SET_BASIC_BLOCK:
                continue
            elif op == LNS_CONST_ADD_PC:
                address += ((op_index + const_add) // max_ops) * min_len
                op_index = (op_index + const_add) % max_ops
                continue
            elif op == LNS_FIXED_ADVANCE_PC:
                address += int.from_bytes(data[pos : pos + 2], order)
                pos += 2
                op_index = 0
                continue
            else:
                for _ in range(opcode_lengths[op] if op < len(opcode_lengths) else 0):
                    _skip, pos = read_uleb(data, pos)
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

    return _finish(h, main, subfiles, comp_dir, dwarf2_start_subfile)


def _finish(
    h: LineHeader,
    main: _Subfile,
    subfiles: list[_Subfile],
    comp_dir: str | None,
    start: Callable[[int], _Subfile | None],
) -> UnitLines:
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
    unit = UnitLines(comp_dir)
    for sub in [first] + [s for s in order if s is not first]:
        if sub.rows:
            unit.add(sub.name, sub.rows)
    unit.finish()
    return unit
