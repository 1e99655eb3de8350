"""dwarf/lines.py: source lines of code addresses, as gdb 10.2 inside crash 8.0.6 gives them.

Synthetic units pin down gdb's rules one by one (row choice, end markers, is_stmt, file names); the
real Debian vmlinux checks known answers (each one also what gdb 13's ``info line`` says), speed,
and, when the oracle crash and a dump are at hand, crash's own ``sym`` output.
"""

from __future__ import annotations

import random
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.lines import LineTable, SourceLine
from crashpy.elf import ElfError
from tests.kernel_facts import function_end as kernel_function_end
from tests.kernel_facts import kernel_paths
from tests.kernel_facts import lines as gdb_lines
from tests.kernel_facts import section as kernel_section
from tests.kernel_facts import symbol as kernel_symbol
from tests.oracle import cache_root

# ---------------------------------------------------------------------------------------------------
# A small DWARF writer: compile units with a top DIE, a line program, and .debug_aranges.


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


OPCODE_BASE = 13
LINE_BASE = -5
LINE_RANGE = 14


class Program:
    """A line-number program, op by op (DWARF standard opcodes)."""

    def __init__(self) -> None:
        self.code = bytearray()

    def set_address(self, addr: int) -> Program:
        self.code += b"\0" + uleb(9) + b"\x02" + struct.pack("<Q", addr)
        return self

    def end_sequence(self) -> Program:
        self.code += b"\0\x01\x01"
        return self

    def set_discriminator(self, d: int) -> Program:
        body = b"\x04" + uleb(d)
        self.code += b"\0" + uleb(len(body)) + body
        return self

    def copy(self) -> Program:
        self.code += b"\x01"
        return self

    def advance_pc(self, n: int) -> Program:
        self.code += b"\x02" + uleb(n)
        return self

    def advance_line(self, n: int) -> Program:
        self.code += b"\x03" + sleb(n)
        return self

    def set_file(self, n: int) -> Program:
        self.code += b"\x04" + uleb(n)
        return self

    def negate_stmt(self) -> Program:
        self.code += b"\x06"
        return self

    def row(self, addr_delta: int, line_delta: int) -> Program:
        """A special opcode (falls back to advance + copy when out of its range)."""
        if LINE_BASE <= line_delta < LINE_BASE + LINE_RANGE:
            op = (line_delta - LINE_BASE) + LINE_RANGE * addr_delta + OPCODE_BASE
            if op <= 255:
                self.code.append(op)
                return self
        if addr_delta:
            self.advance_pc(addr_delta)
        if line_delta:
            self.advance_line(line_delta)
        return self.copy()

    def line(self, addr: int, line: int, state: dict[str, int]) -> Program:
        """A row at an absolute address and line (tracking the machine's registers in `state`)."""
        self.row(addr - state["addr"], line - state["line"])
        state["addr"], state["line"] = addr, line
        return self


@dataclass
class Unit:
    name: str | None
    comp_dir: str | None
    dirs: list[str]
    files: list[tuple[str, int]]  # (name, directory index)
    program: bytes
    ranges: list[tuple[int, int]]  # aranges (start, length)
    version: int = 5  # line-table version (the unit header is DWARF 5 either way)


@dataclass
class Sections:
    info: bytearray = field(default_factory=bytearray)
    abbrev: bytearray = field(default_factory=bytearray)
    line: bytearray = field(default_factory=bytearray)
    line_str: bytearray = field(default_factory=bytearray)
    aranges: bytearray = field(default_factory=bytearray)
    offsets: list[int] = field(default_factory=list)

    def line_strp(self, s: str) -> bytes:
        off = len(self.line_str)
        self.line_str += s.encode() + b"\0"
        return struct.pack("<I", off)

    def mapping(self) -> dict[str, bytes]:
        return {
            ".debug_info": bytes(self.info),
            ".debug_abbrev": bytes(self.abbrev),
            ".debug_line": bytes(self.line),
            ".debug_line_str": bytes(self.line_str),
            ".debug_aranges": bytes(self.aranges),
        }


def line_header(sec: Sections, unit: Unit) -> bytes:
    lengths = bytes([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1])
    params = (
        bytes([1])
        + (bytes([1]) if unit.version >= 4 else b"")
        + bytes([1, LINE_BASE & 0xFF, LINE_RANGE, OPCODE_BASE])
        + lengths
    )
    if unit.version >= 5:
        tables = bytes([1]) + uleb(1) + uleb(0x1F)  # DW_LNCT_path, DW_FORM_line_strp
        tables += uleb(len(unit.dirs)) + b"".join(sec.line_strp(d) for d in unit.dirs)
        tables += bytes([2]) + uleb(1) + uleb(0x1F) + uleb(2) + uleb(0x0F)  # path, directory_index
        tables += uleb(len(unit.files)) + b"".join(sec.line_strp(n) + uleb(d) for n, d in unit.files)
        after_version = bytes([8, 0])
    else:
        tables = b"".join(d.encode() + b"\0" for d in unit.dirs) + b"\0"
        tables += b"".join(n.encode() + b"\0" + uleb(d) + b"\0\0" for n, d in unit.files) + b"\0"
        after_version = b""
    rest = params + tables
    body = (
        struct.pack("<H", unit.version) + after_version + struct.pack("<I", len(rest)) + rest + unit.program
    )
    return struct.pack("<I", len(body)) + body


def build(*units: Unit) -> dict[str, bytes]:
    """The DWARF sections of the given units, as LineTable takes them."""
    sec = Sections()
    for unit in units:
        stmt_list = len(sec.line)
        sec.line += line_header(sec, unit)
        abbrev_off = len(sec.abbrev)
        specs = [(0x10, 0x17)]  # DW_AT_stmt_list, DW_FORM_sec_offset
        values = struct.pack("<I", stmt_list)
        if unit.name is not None:
            specs.append((0x03, 0x1F))  # DW_AT_name, DW_FORM_line_strp
            values += sec.line_strp(unit.name)
        if unit.comp_dir is not None:
            specs.append((0x1B, 0x08))  # DW_AT_comp_dir, DW_FORM_string
            values += unit.comp_dir.encode() + b"\0"
        sec.abbrev += uleb(1) + uleb(0x11) + b"\0"
        sec.abbrev += b"".join(uleb(a) + uleb(f) for a, f in specs) + b"\0\0\0"
        die = uleb(1) + values + b"\0"
        body = struct.pack("<HBBI", 5, 1, 8, abbrev_off) + die
        cu_off = len(sec.info)
        sec.offsets.append(cu_off)
        sec.info += struct.pack("<I", len(body)) + body
        tuples = b"".join(struct.pack("<QQ", a, n) for a, n in unit.ranges) + struct.pack("<QQ", 0, 0)
        header = struct.pack("<HIBB", 2, cu_off, 8, 0) + b"\0" * 4  # pad to 16 from the set start
        sec.aranges += struct.pack("<I", len(header) + len(tuples)) + header + tuples
    return sec.mapping()


def table(*units: Unit) -> LineTable:
    return LineTable(build(*units))


def prog() -> tuple[Program, dict[str, int]]:
    return Program(), {"addr": 0, "line": 1}


BASE = 0xFFFFFFFF81000000
CDIR = "/build/src"

# ---------------------------------------------------------------------------------------------------
# Synthetic units: gdb's rules


def simple_unit() -> Unit:
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 10, st).line(BASE + 4, 11, st).line(BASE + 9, 14, st)
    p.advance_pc(7).end_sequence()  # the sequence ends at BASE + 0x10
    return Unit(
        "kernel/foo.c", CDIR, [CDIR, "kernel"], [("foo.c", 1), ("foo.c", 1)], bytes(p.code), [(BASE, 0x20)]
    )


def test_rows_and_gaps() -> None:
    lt = table(simple_unit())
    assert lt.lookup(BASE) == ("/build/src/kernel/foo.c", 10)
    assert lt.lookup(BASE + 3) == ("/build/src/kernel/foo.c", 10)
    assert lt.lookup(BASE + 4) == ("/build/src/kernel/foo.c", 11)
    assert lt.lookup(BASE + 0xF) == ("/build/src/kernel/foo.c", 14)
    assert lt.lookup(BASE + 0x10) is None  # past the end of the sequence: the end marker, line 0
    assert lt.lookup(BASE - 1) is None  # no unit covers it
    assert lt.lookup(BASE + 0x20) is None
    assert lt.format(BASE + 4) == "/build/src/kernel/foo.c: 11"
    assert lt.format(BASE + 0x10) == ""
    sal = lt.find_pc_line(BASE + 6)
    assert sal == SourceLine(BASE + 4, "kernel/foo.c", CDIR, 11)  # main file: DW_AT_name's spelling
    assert lt.lines_in_range(BASE, BASE + 0x20) == [
        (BASE, "/build/src/kernel/foo.c", 10),
        (BASE + 4, "/build/src/kernel/foo.c", 11),
        (BASE + 9, "/build/src/kernel/foo.c", 14),
    ]
    assert lt.lines_in_range(BASE + 5, BASE + 9) == [(BASE + 5, "/build/src/kernel/foo.c", 11)]
    assert lt.unit_offset(BASE + 1) == 0


def inline_unit() -> Unit:
    """foo.c with rows from an inlined header (file 2) at the addresses where it switches."""
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 20, st)  # foo.c:20
    p.line(BASE + 4, 21, st)  # foo.c:21 ... dropped by the end marker of the switch below
    p.set_file(2).line(BASE + 4, 100, st)  # bar.h:100 at the same address
    p.line(BASE + 8, 101, st)
    p.set_file(1).line(BASE + 12, 22, st)  # back to foo.c: bar.h gets an end marker at +12
    # A non-statement row in another file at an address that already has a statement: not recorded.
    p.set_file(2).negate_stmt().line(BASE + 12, 102, st).negate_stmt()
    p.set_file(1).line(BASE + 16, 23, st)
    # Two rows of one file at one address: the later one is not a statement; gdb takes the statement.
    p.negate_stmt().line(BASE + 16, 24, st).negate_stmt()
    # A line-0 row is not recorded at all: the previous row goes on.
    p.line(BASE + 20, 0, st)
    p.line(BASE + 24, 25, st)
    p.advance_pc(4).end_sequence()  # ends at +28
    return Unit(
        "foo.c",
        CDIR,
        [CDIR, "include/linux"],
        [("foo.c", 0), ("foo.c", 0), ("bar.h", 1)],
        bytes(p.code),
        [(BASE, 0x40)],
    )


def test_inline_rows() -> None:
    lt = table(inline_unit())
    assert lt.lookup(BASE + 2) == ("/build/src/foo.c", 20)
    assert lt.lookup(BASE + 4) == ("/build/src/include/linux/bar.h", 100)
    assert lt.lookup(BASE + 9) == ("/build/src/include/linux/bar.h", 101)
    assert lt.lookup(BASE + 12) == ("/build/src/foo.c", 22)
    assert lt.lookup(BASE + 16) == ("/build/src/foo.c", 23)
    assert lt.find_pc_line(BASE + 17) == SourceLine(BASE + 16, "foo.c", CDIR, 23)
    assert lt.lookup(BASE + 21) == ("/build/src/foo.c", 23)
    assert lt.lookup(BASE + 24) == ("/build/src/foo.c", 25)
    assert lt.lookup(BASE + 28) is None


def test_discriminator_coalesces_repeated_line() -> None:
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 30, st).set_discriminator(1).line(BASE + 4, 30, st).line(BASE + 8, 31, st)
    p.advance_pc(4).end_sequence()
    lt = table(Unit("a.c", CDIR, [CDIR], [("a.c", 0), ("a.c", 0)], bytes(p.code), [(BASE, 0x10)]))
    # The repeated line 30 had a discriminator: gdb keeps one row, starting at BASE.
    assert lt.find_pc_line(BASE + 5) == SourceLine(BASE, "a.c", CDIR, 30)
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 30, st).line(BASE + 4, 30, st).advance_pc(4).end_sequence()
    lt = table(Unit("a.c", CDIR, [CDIR], [("a.c", 0), ("a.c", 0)], bytes(p.code), [(BASE, 0x10)]))
    assert lt.find_pc_line(BASE + 5) == SourceLine(BASE + 4, "a.c", CDIR, 30)  # no discriminator: two rows


def test_sequences_out_of_order_and_ties() -> None:
    p, st = prog()
    high = BASE + 0x1000
    p.set_address(high)
    st["addr"] = high
    p.line(high, 40, st).advance_pc(8).end_sequence()
    p2, st2 = prog()
    p2.set_address(BASE)
    st2["addr"] = BASE
    p2.line(BASE, 50, st2).advance_pc(8).end_sequence()
    # A third sequence puts bar.h rows on the addresses foo.c already covers: on a tie of row
    # addresses gdb takes the first file in symtab order, the unit's main file.
    p3, st3 = prog()
    p3.set_file(2).set_address(BASE)
    st3["addr"] = BASE
    p3.line(BASE, 60, st3).advance_pc(8).end_sequence()
    unit = Unit(
        "foo.c",
        CDIR,
        [CDIR, "inc"],
        [("foo.c", 0), ("foo.c", 0), ("bar.h", 1)],
        bytes(p.code + p2.code + p3.code),
        [(BASE, 8), (high, 8)],
    )
    lt = table(unit)
    assert lt.lookup(BASE + 1) == ("/build/src/foo.c", 50)
    assert lt.lookup(high + 7) == ("/build/src/foo.c", 40)
    assert lt.lookup(high + 8) is None
    assert lt.lookup(BASE + 0x800) is None  # between the unit's ranges


def test_end_marker_drops_rows_at_its_address() -> None:
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 70, st).line(BASE + 8, 71, st).end_sequence()  # ends where line 71 starts
    lt = table(Unit("a.c", CDIR, [CDIR], [("a.c", 0), ("a.c", 0)], bytes(p.code), [(BASE, 0x10)]))
    assert lt.lookup(BASE + 7) == ("/build/src/a.c", 70)
    assert lt.lookup(BASE + 8) is None


def test_file_names() -> None:
    # DWARF 5: relative comp dir and include dirs stay relative to DW_AT_comp_dir; "./" and "../" stay;
    # absolute directories and file names are used as they are; "//" is squeezed like crash does.
    def one(
        name: str, comp_dir: str | None, dirs: list[str], files: list[tuple[str, int]], file: int
    ) -> tuple[SourceLine | None, tuple[str, int] | None]:
        p, st = prog()
        p.set_file(file).set_address(BASE)
        st["addr"] = BASE
        p.line(BASE, 5, st).advance_pc(4).end_sequence()
        lt = table(Unit(name, comp_dir, dirs, files, bytes(p.code), [(BASE, 4)]))
        return lt.find_pc_line(BASE), lt.lookup(BASE)

    rel = "debian/build/build_amd64"
    files = [
        ("core.c", 1),
        ("core.c", 1),
        ("current.h", 2),
        ("abs.h", 3),
        ("/usr/include/x.h", 1),
        ("y.h", 4),
    ]
    dirs = [rel, "kernel/sched", "./arch/x86/include/asm", "/opt/inc", "kernel/sched/../../include"]
    assert one("kernel/sched/core.c", rel, dirs, files, 1)[1] == (f"{rel}/kernel/sched/core.c", 5)
    assert one("kernel/sched/core.c", rel, dirs, files, 2)[1] == (
        f"{rel}/./arch/x86/include/asm/current.h",
        5,
    )
    assert one("kernel/sched/core.c", rel, dirs, files, 3)[1] == ("/opt/inc/abs.h", 5)
    assert one("kernel/sched/core.c", rel, dirs, files, 4)[1] == ("/usr/include/x.h", 5)
    assert one("kernel/sched/core.c", rel, dirs, files, 5)[1] == (f"{rel}/kernel/sched/../../include/y.h", 5)
    # gas: absolute DW_AT_name, the file table's absolute directory: the main file keeps DW_AT_name.
    src = "/build/linux"
    asm = one(
        f"{src}/arch/x86/kernel/head_64.S",
        f"{src}/debian/build",
        [f"{src}/debian/build", f"{src}/arch/x86/kernel"],
        [("head_64.S", 1), ("head_64.S", 1)],
        1,
    )
    assert asm[1] == (f"{src}/arch/x86/kernel/head_64.S", 5)
    # A relative DW_AT_name matches the file table's absolute spelling after joining DW_AT_comp_dir.
    sal, found = one("kernel/a.c", "/b", ["/b", "/b/kernel"], [("a.c", 1), ("a.c", 1)], 1)
    assert sal is not None and sal.filename == "kernel/a.c" and found == ("/b/kernel/a.c", 5)
    # Trailing slash on the comp dir, and "//" inside names.
    assert one("a.c", "/b/", ["/b/"], [("a.c", 0), ("a.c", 0)], 1)[1] == ("/b/a.c", 5)
    assert one("x//a.c", "/b//c", ["/b//c"], [("x//a.c", 0), ("x//a.c", 0)], 1)[1] == ("/b/c/x/a.c", 5)
    # No DW_AT_comp_dir: gdb knows the line, crash prints nothing.
    sal, found = one("a.c", None, ["/b"], [("a.c", 0), ("a.c", 0)], 1)
    assert sal is not None and sal.line == 5 and sal.path is None and found is None


def test_dwarf4_line_table() -> None:
    # DWARF 4: 1-based file and directory numbers; directory 0 is "none" (the name stays relative).
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 8, st).set_file(2).line(BASE + 2, 9, st).advance_pc(2).end_sequence()
    unit = Unit(
        "mm/slub.c",
        "/k",
        ["include/linux"],
        [("mm/slub.c", 0), ("slab.h", 1)],
        bytes(p.code),
        [(BASE, 4)],
        version=4,
    )
    lt = table(unit)
    assert lt.lookup(BASE) == ("/k/mm/slub.c", 8)
    assert lt.lookup(BASE + 3) == ("/k/include/linux/slab.h", 9)


def test_main_file_alias() -> None:
    # The line table names the main file differently from DW_AT_name (watch_main_source_file_lossage):
    # the one file with the same base name stands in for it, first in symtab order, so it wins ties.
    p, st = prog()
    p.set_file(2).set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 3, st).advance_pc(4).end_sequence()
    p2, st2 = prog()
    p2.set_address(BASE)
    st2["addr"] = BASE
    p2.line(BASE, 4, st2).advance_pc(4).end_sequence()
    unit = Unit(
        "/src/dir/main.c",
        "/build",
        ["/build", "/elsewhere"],
        [("other.h", 1), ("other.h", 1), ("main.c", 1)],
        bytes(p.code + p2.code),
        [(BASE, 4)],
    )
    lt = table(unit)
    assert lt.lookup(BASE) == ("/elsewhere/main.c", 3)  # without the rule other.h (first in the table) wins


def test_overlapping_aranges_first_unit_wins() -> None:
    u1 = simple_unit()
    p, st = prog()
    p.set_address(BASE)
    st["addr"] = BASE
    p.line(BASE, 99, st).advance_pc(0x40).end_sequence()
    u2 = Unit("other.c", CDIR, [CDIR], [("other.c", 0), ("other.c", 0)], bytes(p.code), [(BASE + 8, 0x40)])
    lt = table(u1, u2)
    assert lt.lookup(BASE + 9) == ("/build/src/kernel/foo.c", 14)
    assert lt.lookup(BASE + 0x20) == ("/build/src/other.c", 99)
    assert lt.unit_offset(BASE + 0x20) != 0


def test_no_aranges_no_lines() -> None:
    sections = build(simple_unit())
    del sections[".debug_aranges"]
    assert LineTable(sections).lookup(BASE) is None


def test_not_elf(tmp_path: Path) -> None:
    bad = tmp_path / "vmlinux"
    bad.write_bytes(b"not an ELF file at all, but long enough to be read as one" * 2)
    with pytest.raises(ElfError, match="not an ELF file"):
        LineTable(str(bad))
    with pytest.raises(ElfError, match="No such file"):
        LineTable(str(tmp_path / "missing"))


# ---------------------------------------------------------------------------------------------------
# The real Debian vmlinux


KERNEL = kernel_paths()  # the dump set tools/vmcores.py builds (whichever 6.1 cloud kernel it is)
VMCORES = KERNEL.root
VMLINUX = KERNEL.vmlinux

# (symbol, offset) of code addresses whose (file, line) must be what gdb 13's find_pc_line() says:
# what crash 8.0.6's `sym addr` prints (7,300 addresses agreed with it).  Among them:
# assembler units (absolute file names), C units (names relative to the build directory) and code
# inlined from a header at a function's start (do_syscall_64).
KNOWN_PLACES = [
    ("startup_64", 0),
    ("startup_64", 0x2A),
    ("entry_SYSCALL_64", 0),
    ("entry_SYSCALL_64", 0x10),
    ("panic", 0),
    ("sysrq_handle_crash", 0),
    ("sysrq_handle_crash", 0x10),
    ("__schedule", 0),
    ("__schedule", 0x10),
    ("schedule", 0),
    ("do_syscall_64", 0),
    ("do_syscall_64", 0x10),
]

needs_vmlinux = pytest.mark.skipif(not VMLINUX.is_file(), reason=f"{VMLINUX} not built")


def _place(name: str, offset: int = 0) -> int:
    return kernel_symbol(VMLINUX, name) + offset


def known_addresses() -> list[int]:
    return [_place(name, offset) for name, offset in KNOWN_PLACES]


@pytest.fixture(scope="module")
def vmlinux_lines() -> LineTable:
    return LineTable(str(VMLINUX))


@pytest.fixture(scope="module")
def gdb_known_lines() -> dict[int, tuple[str, int] | None]:
    """gdb's (file, line) for KNOWN_PLACES and the addresses the other tests here look up."""
    extra = [_place("__raw_callee_save_xen_make_pte")]
    return gdb_lines(VMLINUX, known_addresses() + extra)


@needs_vmlinux
@pytest.mark.parametrize(("name", "offset"), KNOWN_PLACES, ids=[f"{n}+{o:#x}" for n, o in KNOWN_PLACES])
def test_known_lines(
    vmlinux_lines: LineTable, gdb_known_lines: dict[int, tuple[str, int] | None], name: str, offset: int
) -> None:
    addr = _place(name, offset)
    expected = gdb_known_lines[addr]
    assert expected is not None, f"gdb has no line for {name}+{offset:#x}"
    assert vmlinux_lines.lookup(addr) == expected


@needs_vmlinux
def test_known_lines_cover_every_file_naming(gdb_known_lines: dict[int, tuple[str, int] | None]) -> None:
    """The places above reach an assembler unit (an absolute name), a C unit (a name relative to
    the build directory, under it) and a header inlined into a C unit."""
    found = [gdb_known_lines[a] for a in known_addresses()]
    files = [f[0] for f in found if f is not None]
    assert any(f.startswith("/") and f.endswith("/arch/x86/kernel/head_64.S") for f in files)
    assert any(not f.startswith("/") and f.endswith("/kernel/panic.c") for f in files)
    assert any(not f.startswith("/") and f.endswith(".h") for f in files)


@needs_vmlinux
def test_no_line_outside_units(
    vmlinux_lines: LineTable, gdb_known_lines: dict[int, tuple[str, int] | None]
) -> None:
    no_dwarf = _place("__raw_callee_save_xen_make_pte")  # assembler made by a macro: no DWARF
    assert gdb_known_lines[no_dwarf] is None
    assert vmlinux_lines.lookup(no_dwarf) is None
    assert vmlinux_lines.lookup(0) is None
    assert vmlinux_lines.lookup(0xFFFFFFFFFFFFF000) is None


MODULE = KERNEL.kernel_dir / "usr/lib/debug/lib/modules" / KERNEL.krel / "kernel/drivers/net"


@pytest.mark.skipif(not (MODULE / "virtio_net.ko").is_file(), reason="no module debuginfo")
def test_module_debuginfo_refused() -> None:
    # A module's .ko is ET_REL: its DWARF addresses mean nothing before relocation.
    with pytest.raises(DwarfFormatError, match="relocatable"):
        LineTable(str(MODULE / "virtio_net.ko"))


@needs_vmlinux
def test_first_lookup_in_a_fresh_table() -> None:
    """A new LineTable answers its first look-up (how fast: benchmarks/timings.py)."""
    schedule = _place("__schedule")
    lt = LineTable(str(VMLINUX))
    assert lt.lookup(schedule) is not None  # kernel/sched/core.c: 6,000 rows, 80 files
    lt.close()


@needs_vmlinux
def test_dis_range(vmlinux_lines: LineTable, gdb_known_lines: dict[int, tuple[str, int] | None]) -> None:
    start = _place("sysrq_handle_crash")
    rows = vmlinux_lines.lines_in_range(start, kernel_function_end(VMLINUX, "sysrq_handle_crash"))
    assert rows[0] == (start, *gdb_known_lines[start])  # type: ignore[misc]
    assert rows[0][1].endswith("/drivers/tty/sysrq.c")
    assert all(vmlinux_lines.lookup(a) == (f, n) for a, f, n in rows)
    assert [a for a, _f, _n in rows] == sorted({a for a, _f, _n in rows})


# ---------------------------------------------------------------------------------------------------
# crash 8.0.6 itself: `sym <addr>` on a dump of this kernel (nokaslr: addresses are link-time ones)

CRASH = cache_root() / "crash-8.0.6" / "crash"
DUMP = VMCORES / "sysrq.elf"


def oracle_addresses() -> list[int]:
    """KNOWN_PLACES, more places in functions, addresses spread over .text and .init.text (the same
    offsets every run)."""
    text, text_size = kernel_section(VMLINUX, ".text")
    init, init_size = kernel_section(VMLINUX, ".init.text")
    addrs = known_addresses() + [
        _place("startup_64", 0x30),
        _place("reserve_bios_regions"),  # .init.text
        _place("__schedule", 0x14C),  # deep in it
        _place("panic", 0x1CF),
        text + 0xFF00,
        text + 0x123450,
        text + 0x234560,
        text + 0x345670,
        text + 0x456780,
        text + 0x567890,
        text + 0x6789A0,
        text + 0x789AB0,
        text + 0x89ABC0,
        text + 0x9ABCD0,
        text + 0xABCDE0,
        text + 0xC01000,
        text + 0xD00000,
        init + 0x20F0,
    ]
    rng = random.Random(61)
    addrs += sorted(rng.randrange(text, text + text_size) for _ in range(300))
    addrs += sorted(rng.randrange(init, init + init_size) for _ in range(50))
    return addrs


DIS_FUNCS = ["sysrq_handle_crash", "startup_64", "entry_SYSCALL_64", "__schedule", "do_syscall_64"]
SYM_RE = re.compile(
    r"^([0-9a-f]+) \(\w\) (\S+)(?: (.*))?$"
)  # "ffffffff81000000 (T) startup_64 /p/head_64.S: 65"
INSN_RE = re.compile(r"^0x([0-9a-f]+) <")

needs_oracle = pytest.mark.skipif(
    not (VMLINUX.is_file() and DUMP.is_file() and CRASH.is_file()),
    reason="the oracle crash or the sysrq dump is not built",
)


def crash_dis_lines(lt: LineTable, text: str, offset: int = 0) -> list[str]:
    """crash's `dis -l` text rebuilt from its instruction lines and our lookups (kernel.c: cmd_dis)."""
    out: list[str] = []
    shown = ""
    for line in text.splitlines():
        m = INSN_RE.match(line)
        if m:
            where = lt.format(int(m.group(1), 16) - offset)
            if where != shown:
                out.append(where)
                shown = where
            out.append(line)
    return out


@needs_oracle
def test_sym_and_dis_match_crash(vmlinux_lines: LineTable) -> None:
    from tests.oracle import run_crash

    addrs = oracle_addresses()
    syms = [f"sym {a:x}" for a in addrs]
    outputs = run_crash(VMLINUX, DUMP, syms + [f"dis -l {f}" for f in DIS_FUNCS])
    for addr, out in zip(addrs, outputs, strict=False):
        m = SYM_RE.match(out.rstrip("\n"))
        assert m is not None, out
        assert int(m.group(1), 16) == addr
        assert (m.group(3) or "") == vmlinux_lines.format(addr), f"sym {addr:x}"
    for func, out in zip(DIS_FUNCS, outputs[len(syms) :], strict=True):
        assert out.splitlines() == crash_dis_lines(vmlinux_lines, out), f"dis -l {func}"


@pytest.mark.skipif(
    not (VMLINUX.is_file() and (VMCORES / "kaslr.elf").is_file() and CRASH.is_file()),
    reason="the oracle crash or the KASLR dump is not built",
)
def test_kaslr_dump_matches_crash(vmlinux_lines: LineTable) -> None:
    # crash looks up runtime addresses; LineTable takes link-time ones: subtract the KASLR offset.
    from tests.oracle import run_crash

    funcs = ["startup_64", "panic", "__schedule", "sysrq_handle_crash"]
    outputs = run_crash(VMLINUX, VMCORES / "kaslr.elf", [f"sym {f}" for f in funcs] + ["dis -l __schedule"])
    m = SYM_RE.match(outputs[0].rstrip("\n"))
    assert m is not None and m.group(2) == "startup_64"
    offset = int(m.group(1), 16) - _place("startup_64")
    assert offset != 0
    for out in outputs[: len(funcs)]:
        m = SYM_RE.match(out.rstrip("\n"))
        assert m is not None, out
        assert (m.group(3) or "") == vmlinux_lines.format(int(m.group(1), 16) - offset)
    assert outputs[-1].splitlines() == crash_dis_lines(vmlinux_lines, outputs[-1], offset)
