"""The kernel's BUG()/WARN() table: which ud2 was planted by which source line (beyond crash).

`__bug_table` holds one ``struct bug_entry`` per BUG()/WARN() site.  With
CONFIG_GENERIC_BUG_RELATIVE_POINTERS (x86_64) ``bug_addr_disp`` and ``file_disp`` are 32-bit
offsets from the fields themselves; ``line`` and ``flags`` are 16-bit.  The layout comes from BTF
where the kernel has it, else the x86_64 layout (disp, disp, u16 line, u16 flags: 12 bytes).  The
table is read from the dump (``__start___bug_table`` .. ``__stop___bug_table``), the file names
from the dump's memory too.  Each loaded module's table (``struct module``: ``bug_table``,
``num_bugs``, found through the ``modules`` list) is read the same way; the module's own symbols
are not needed for that.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CrashpyError, FaultError

if TYPE_CHECKING:
    from crashpy.program import Program

__all__ = ["BugEntry", "bug_table", "parse_bug_entries"]

BUGFLAG_WARNING = 1 << 0
BUGFLAG_ONCE = 1 << 1
BUGFLAG_DONE = 1 << 2
BUGFLAG_NO_CUT_HERE = 1 << 3


@dataclass(frozen=True, slots=True)
class BugEntry:
    """One struct bug_entry, resolved: the ud2's address, the file, the line and the flags."""

    address: int
    file: str
    line: int
    flags: int

    @property
    def note(self) -> str:
        """What dis -B prints after the ud2: `; BUG at file:line` (`; WARN at ...` for a WARN())."""
        kind = "WARN" if self.flags & BUGFLAG_WARNING else "BUG"
        return f"; {kind} at {self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class _Layout:
    size: int
    addr: int
    file: int
    line: int
    flags: int


def _layout(prog: Program) -> _Layout:
    try:
        return _Layout(
            prog.sizeof("bug_entry"),
            prog.offsetof("bug_entry", "bug_addr_disp"),
            prog.offsetof("bug_entry", "file_disp"),
            prog.offsetof("bug_entry", "line"),
            prog.offsetof("bug_entry", "flags"),
        )
    except CrashpyError:  # no BTF or no struct bug_entry: the x86_64 layout since v4.x
        return _Layout(12, 0, 4, 8, 10)


def parse_bug_entries(
    data: bytes, base: int, layout: tuple[int, int, int, int, int] = (12, 0, 4, 8, 10)
) -> list[tuple[int, int, int, int]]:
    """(bug address, file-name address, line, flags) of each entry of a table at `base`."""
    size, o_addr, o_file, o_line, o_flags = layout
    out = []
    for off in range(0, len(data) - size + 1, size):
        (disp_a,) = struct.unpack_from("<i", data, off + o_addr)
        (disp_f,) = struct.unpack_from("<i", data, off + o_file)
        (line,) = struct.unpack_from("<H", data, off + o_line)
        (flags,) = struct.unpack_from("<H", data, off + o_flags)
        mask = MASK64
        out.append(
            ((base + off + o_addr + disp_a) & mask, (base + off + o_file + disp_f) & mask, line, flags)
        )
    return out


def _entries(prog: Program, start: int, count_bytes: int, names: dict[int, str]) -> list[BugEntry]:
    lay = _layout(prog)
    if count_bytes <= 0:
        return []
    data = prog.read(start, count_bytes, what="__bug_table")
    entries = []
    for addr, file_addr, line, flags in parse_bug_entries(
        data, start, (lay.size, lay.addr, lay.file, lay.line, lay.flags)
    ):
        if file_addr not in names:
            try:
                names[file_addr] = prog.read_cstring(file_addr, 256).decode("utf-8", "replace")
            except FaultError:
                names[file_addr] = "?"
        entries.append(BugEntry(addr, names[file_addr], line, flags))
    return entries


def module_bug_tables(prog: Program) -> list[BugEntry]:
    """The bug entries of every loaded module (struct module.bug_table, num_bugs)."""
    names: dict[int, str] = {}
    out: list[BugEntry] = []
    try:
        head = prog.symbol_address("modules")
        list_off = prog.offsetof("module", "list")
        table_off = prog.offsetof("module", "bug_table")
        num_off = prog.offsetof("module", "num_bugs")
        size = _layout(prog).size
    except CrashpyError:  # no module list or no bug table in struct module (CONFIG_GENERIC_BUG off)
        return out
    node = prog.read_u64(head)
    seen = 0
    while node != head and seen < 10000:
        mod = node - list_off
        try:
            table = prog.read_u64(mod + table_off)
            num = prog.read_u32(mod + num_off)
            if table and num:
                out += _entries(prog, table, num * size, names)
            node = prog.read_u64(node)
        except FaultError:
            break
        seen += 1
    return out


def bug_table(prog: Program) -> list[BugEntry]:
    """The bug entries of vmlinux and of the loaded modules, read from the dump, cached."""

    def load() -> list[BugEntry]:
        names: dict[int, str] = {}
        start = prog.symbol_address("__start___bug_table")
        stop = prog.symbol_address("__stop___bug_table")
        return _entries(prog, start, stop - start, names) + module_bug_tables(prog)

    return prog.cache("disasm.bug_table", load)  # type: ignore[no-any-return]
