"""dwarf/: the one DWARF core, on units written here form by form (DWARF 4 and 5, 32- and 64-bit DWARF,
either byte order), .debug_aranges, line-program headers, and a program compiled here with its debug
sections left plain or compressed (zlib, zstd, GNU .zdebug) by objcopy: every reading must agree."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from crashpy.dwarf.aranges import AddressMap, read_aranges
from crashpy.dwarf.constants import (
    AT_ADDR_BASE,
    AT_BYTE_SIZE,
    AT_COMP_DIR,
    AT_CONST_VALUE,
    AT_DATA_MEMBER_LOCATION,
    AT_ENCODING,
    AT_EXTERNAL,
    AT_LOCATION,
    AT_LOCLISTS_BASE,
    AT_LOW_PC,
    AT_NAME,
    AT_RANGES,
    AT_RNGLISTS_BASE,
    AT_SIBLING,
    AT_STR_OFFSETS_BASE,
    AT_TYPE,
    TAG_BASE_TYPE,
    TAG_COMPILE_UNIT,
    TAG_MEMBER,
    TAG_POINTER_TYPE,
    TAG_STRUCTURE_TYPE,
    TAG_VARIABLE,
)
from crashpy.dwarf.errors import DwarfFormatError
from crashpy.dwarf.info import DwarfInfo
from crashpy.dwarf.line_header import read_line_header
from crashpy.dwarf.lines import LineTable
from crashpy.dwarf.lists import die_ranges, location_list
from crashpy.dwarf.locate import DieLocator, NestedHit
from crashpy.dwarf.source import MemorySections
from crashpy.elf import ElfFile, SectionBytes
from crashpy.types.dwarf import DwarfTypes
from tests.elf_writer import SHF_ALLOC, SHF_EXECINSTR, Sec, write_elf
from tests.test_lines import BASE, build, simple_unit

AT_GNU_MD5 = 0x2140  # a vendor attribute, to carry a DW_FORM_data16


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
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


class Writer:
    """A .debug_info unit (and its abbreviations and string sections), DIE by DIE."""

    def __init__(self, e: str, version: int, offset_size: int, addr_size: int) -> None:
        self.e, self.version, self.osize, self.asize = e, version, offset_size, addr_size
        self.abbrev = b""
        self.codes = 0
        self.str = b"\0"
        self.line_str = b"\0"

    def num(self, value: int, size: int) -> bytes:
        return value.to_bytes(size, "little" if self.e == "<" else "big")

    def add_abbrev(self, tag: int, children: bool, specs: list[tuple[int, int, int | None]]) -> int:
        self.codes += 1
        self.abbrev += uleb(self.codes) + uleb(tag) + bytes([children])
        for at, form, implicit in specs:
            self.abbrev += uleb(at) + uleb(form) + (sleb(implicit) if implicit is not None else b"")
        self.abbrev += b"\0\0"
        return self.codes

    def strp(self, text: str) -> bytes:
        at = len(self.str)
        self.str += text.encode() + b"\0"
        return self.num(at, self.osize)

    def unit(self, body: bytes, unit_type: int = 1, extra: bytes = b"") -> bytes:
        """A unit header around `body` (the DIEs)."""
        if self.version >= 5:
            head = struct.pack(self.e + "HBB", 5, unit_type, self.asize) + self.num(0, self.osize) + extra
        else:
            head = struct.pack(self.e + "H", self.version) + self.num(0, self.osize) + bytes([self.asize])
        rest = head + body
        if self.osize == 8:
            return b"\xff\xff\xff\xff" + self.num(len(rest), 8) + rest
        return self.num(len(rest), 4) + rest

    def header_size(self, unit_type: int = 1) -> int:
        length = 12 if self.osize == 8 else 4
        if self.version >= 5:
            return length + 4 + self.osize + (8 + self.osize if unit_type == 2 else 0)
        return length + 2 + self.osize + 1


SHAPES = [("<", 5, 4, 8), (">", 5, 4, 4), ("<", 5, 8, 8), ("<", 4, 4, 8), (">", 4, 8, 4)]
SHAPE_IDS = ["v5-LE-32bit-addr8", "v5-BE-addr4", "v5-LE-dwarf64", "v4-LE", "v4-BE-dwarf64-addr4"]
SIGNATURE = 0x1122334455667788


def synthetic(e: str, version: int, offset_size: int, addr_size: int) -> tuple[dict[str, bytes], dict[str, int]]:
    """A compile unit (root, base type, variable, struct with members, pointer through a type unit in
    DWARF 5) using most forms, the sections around it, and the offsets of its DIEs."""
    w = Writer(e, version, offset_size, addr_size)
    v5 = version >= 5
    # str_offsets: a DWARF 5 header (length, version, padding), then the offsets of "cu.c", "var".
    str_name = w.strp("cu.c")
    str_var = w.strp("var")
    offs = w.num(int.from_bytes(str_name, "little" if e == "<" else "big"), offset_size)
    offs += w.num(int.from_bytes(str_var, "little" if e == "<" else "big"), offset_size)
    str_offsets = w.num(4 + len(offs), 4) + struct.pack(e + "HH", 5, 0) + offs
    addr = struct.pack(e + "IHBB", 4 + 2 * addr_size, 5, addr_size, 0)[:8] + w.num(0x1000, addr_size) * 2
    line_str = b"\0/build\0"
    ref_size = 4
    if v5:
        root = w.add_abbrev(TAG_COMPILE_UNIT, True, [
            (AT_NAME, 0x25, None),  # strx1
            (AT_STR_OFFSETS_BASE, 0x17, None),
            (AT_ADDR_BASE, 0x17, None),
            (AT_COMP_DIR, 0x1F, None),  # line_strp
            (AT_LOW_PC, 0x1B, None),  # addrx
        ])
        root_attrs = b"\0" + w.num(8, offset_size) + w.num(8, offset_size) + w.num(1, offset_size) + uleb(1)
    else:
        root = w.add_abbrev(TAG_COMPILE_UNIT, True, [(AT_NAME, 0x0E, None), (AT_LOW_PC, 0x01, None)])
        root_attrs = str_name + w.num(0x1000, addr_size)
    base_t = w.add_abbrev(TAG_BASE_TYPE, False, [
        (AT_NAME, 0x08, None),  # string
        (AT_BYTE_SIZE, 0x21 if v5 else 0x0B, 8 if v5 else None),  # implicit_const / data1
        (AT_ENCODING, 0x0B, None),
    ])
    var = w.add_abbrev(TAG_VARIABLE, False, [
        (AT_NAME, 0x25 if v5 else 0x0E, None),
        (AT_TYPE, 0x15, None),  # ref_udata
        (AT_LOCATION, 0x18, None),  # exprloc
        (AT_EXTERNAL, 0x19, None),  # flag_present
        (AT_CONST_VALUE, 0x0D, None),  # sdata
        (AT_GNU_MD5, 0x1E, None),  # data16
    ])
    struct_t = w.add_abbrev(TAG_STRUCTURE_TYPE, True, [
        (AT_SIBLING, 0x13, None),  # ref4
        (AT_NAME, 0x16, None),  # indirect
        (AT_BYTE_SIZE, 0x05, None),  # data2
    ])
    member = w.add_abbrev(TAG_MEMBER, False, [
        (AT_NAME, 0x08, None),
        (AT_TYPE, 0x10, None),  # ref_addr (a .debug_info offset)
        (AT_DATA_MEMBER_LOCATION, 0x0A, None),  # block1
    ])
    pointer = w.add_abbrev(TAG_POINTER_TYPE, False, [(AT_TYPE, 0x20 if v5 else 0x13, None)])  # ref_sig8
    start = w.header_size()
    base_at = start + 1 + len(root_attrs)
    base_die = uleb(base_t) + b"long int\0" + (b"" if v5 else b"\x08") + b"\x05"
    var_at = base_at + len(base_die)
    location = bytes([0x03]) + w.num(0x2000, addr_size)
    var_die = (
        uleb(var)
        + (b"\1" if v5 else str_var)
        + uleb(base_at)
        + uleb(len(location))
        + location
        + sleb(-300)
        + bytes(range(16))
    )
    struct_at = var_at + len(var_die)
    member1 = uleb(member) + b"a\0" + w.num(base_at, offset_size if version > 2 else addr_size) + b"\x02\x23\x00"
    member2 = uleb(member) + b"b\0" + w.num(base_at, offset_size) + b"\x02\x23\x08"
    struct_name = uleb(0x0E) + w.strp("pair")  # indirect: the form, then the value
    struct_head = uleb(struct_t) + b"SIBL" + struct_name + w.num(16, 2)
    after_struct = struct_at + len(struct_head) + len(member1) + len(member2) + 1
    struct_die = uleb(struct_t) + w.num(after_struct, ref_size) + struct_name + w.num(16, 2)
    pointer_at = after_struct
    pointer_die = uleb(pointer) + (w.num(SIGNATURE, 8) if v5 else w.num(base_at, 4))
    body = (
        uleb(root) + root_attrs + base_die + var_die + struct_die + member1 + member2 + b"\0" + pointer_die + b"\0"
    )
    cu = w.unit(body)
    info = cu
    type_die_at = 0
    if v5:
        # A type unit: its type DIE is a base type.
        tu_base = uleb(base_t) + b"char\0" + b"\x06"
        tu_root = w.add_abbrev(0x41, True, [])  # DW_TAG_type_unit
        type_offset = w.header_size(2) + 1
        extra = w.num(SIGNATURE, 8) + w.num(type_offset, offset_size)
        tu = w.unit(uleb(tu_root) + tu_base + b"\0", unit_type=2, extra=extra)
        type_die_at = len(cu) + type_offset
        info = cu + tu
    sections = {
        ".debug_info": info,
        ".debug_abbrev": w.abbrev + b"\0",
        ".debug_str": w.str,
        ".debug_line_str": line_str,
        ".debug_str_offsets": str_offsets,
        ".debug_addr": addr,
    }
    where = {
        "base": base_at,
        "var": var_at,
        "struct": struct_at,
        "pointer": pointer_at,
        "type_die": type_die_at,
        "end": len(cu),
    }
    return sections, where


@pytest.mark.parametrize(("e", "version", "offset_size", "addr_size"), SHAPES, ids=SHAPE_IDS)
def test_forms_and_walks(e: str, version: int, offset_size: int, addr_size: int) -> None:
    sections, where = synthetic(e, version, offset_size, addr_size)
    dwarf = DwarfInfo(MemorySections(sections, little_endian=e == "<", address_size=addr_size))
    v5 = version >= 5
    u = dwarf.unit_header(0)
    assert (u.version, u.offset_size, u.address_size, u.end) == (version, offset_size, addr_size, where["end"])
    root = dwarf.root_die(u)
    assert root.tag == TAG_COMPILE_UNIT and root.name == "cu.c" and root.get(AT_LOW_PC) == 0x1000
    if v5:
        assert root.get(AT_COMP_DIR) == "/build"
    base = dwarf.die(where["base"])
    assert (base.name, base.get(AT_BYTE_SIZE), base.get(AT_ENCODING)) == ("long int", 8, 5)
    var = dwarf.die(where["var"])
    assert var.name == "var" and var.get(AT_TYPE) == where["base"] and var.get(AT_EXTERNAL) is True
    assert var.get(AT_LOCATION) == bytes([3]) + (0x2000).to_bytes(addr_size, "little" if e == "<" else "big")
    assert var.get(AT_CONST_VALUE) == -300
    assert var.get(AT_GNU_MD5) == int.from_bytes(bytes(range(16)), "little" if e == "<" else "big")
    assert var.positions[AT_NAME] == where["var"] + 1
    st = dwarf.die(where["struct"])
    assert st.name == "pair" and st.get(AT_BYTE_SIZE) == 16 and st.get(AT_SIBLING) == where["pointer"]
    members = [dwarf.die(off) for off in dwarf.children(st)]
    assert [(m.tag, m.name, m.get(AT_TYPE), m.get(AT_DATA_MEMBER_LOCATION)) for m in members] == [
        (TAG_MEMBER, "a", where["base"], b"\x23\x00"),
        (TAG_MEMBER, "b", where["base"], b"\x23\x08"),
    ]
    pointer = dwarf.die(where["pointer"])
    assert pointer.tag == TAG_POINTER_TYPE
    if v5:
        assert pointer.get(AT_TYPE) == where["type_die"] and dwarf.die(where["type_die"]).name == "char"
    assert [off for off, _ab in dwarf.top_level(u)] == [where["base"], where["var"], where["struct"], where["pointer"]]
    assert [x.offset for x in dwarf.units] == [0] + ([where["end"]] if v5 else [])
    locator = DieLocator(dwarf)
    assert locator.locate(where["var"] + 1) == (dwarf.unit_at(where["var"]), where["var"])
    nested = locator.locate(members[1].offset + 1)
    assert isinstance(nested, NestedHit) and nested.die_offset == where["struct"]
    assert locator.locate(2) is None  # the unit header
    with pytest.raises(DwarfFormatError, match="in no unit"):
        dwarf.unit_at(len(sections[".debug_info"]) + 5)


def test_no_dwarf_and_bad_units() -> None:
    with pytest.raises(DwarfFormatError, match="no DWARF"):
        DwarfInfo(MemorySections({".debug_str": b"x\0"}))
    sections, _where = synthetic("<", 5, 4, 8)
    bad = dict(sections, **{".debug_info": b"\x03\0\0\0" + sections[".debug_info"][4:]})
    with pytest.raises(DwarfFormatError, match="bad unit length"):
        DwarfInfo(MemorySections(bad)).units  # noqa: B018
    v6 = bytearray(sections[".debug_info"])
    v6[4] = 6
    with pytest.raises(DwarfFormatError, match="DWARF version 6"):
        DwarfInfo(MemorySections(dict(sections, **{".debug_info": bytes(v6)}))).unit_header(0)


def aranges_set(cu: int, ranges: list[tuple[int, int]], version: int = 2, seg: int = 0) -> bytes:
    tuples = b"".join(struct.pack("<QQ", a, n) for a, n in ranges) + struct.pack("<QQ", 0, 0)
    header = struct.pack("<HIBB", version, cu, 8, seg) + b"\0" * 4
    return struct.pack("<I", len(header) + len(tuples)) + header + tuples


def test_aranges_first_unit_keeps_overlaps() -> None:
    data = (
        aranges_set(0x100, [(0x2000, 0x100), (0, 0x50)])  # a range at 0: a dropped function
        + aranges_set(0x0, [(0x2080, 0x100), (0x1000, 0x10)])
        + aranges_set(0x300, [(0x5000, 0x10)], version=3)  # skipped
        + aranges_set(0x400, [(0x6000, 0x10)], seg=8)  # skipped
    )
    sec = SectionBytes.of(".debug_aranges", data)
    assert read_aranges(sec, "<") == [(0x100, 0x2000, 0x2100), (0, 0x2080, 0x2180), (0, 0x1000, 0x1010)]
    amap = AddressMap.read(sec, "<")
    # Unit 0 comes first in .debug_info: it keeps 0x2080..0x2100 where the two overlap.
    assert [amap.unit_at(a) for a in (0x1000, 0x2000, 0x2080, 0x20FF, 0x2100, 0x2180, 0x10, 0x5000)] == [
        0, 0x100, 0, 0, 0, None, None, None
    ]
    assert amap.unit_low == {0x100: 0x2000, 0: 0x1000}
    assert amap.overlapping(0x2050, 0x2090) == [(0x2000, 0x2080, 0x100), (0x2080, 0x2180, 0)]


def test_line_header_v4_and_v5() -> None:
    sections = build(simple_unit())  # a DWARF 5 line table (line_strp names)
    line_str = SectionBytes.of(".debug_line_str", sections[".debug_line_str"])

    def strings(form: int, offset: int) -> str | None:
        return line_str.cstring(offset).decode() if form == 0x1F else None

    h = read_line_header(SectionBytes.of(".debug_line", sections[".debug_line"]), 0, "little", strings)
    assert h is not None and h.version == 5 and h.address_size == 8
    assert h.include_dirs == ["/build/src", "kernel"] and h.file_at(0) == ("foo.c", 1)
    opcode_lengths = bytes([0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1])
    tables = b"inc\0\0" + b"a.c\0\x01\0\0" + b"\0"
    params = bytes([1, 1, 1, 0xFB, 14, 13]) + opcode_lengths  # min_inst, max_ops, default_is_stmt, ...
    after = params + tables
    body = struct.pack("<H", 4) + struct.pack("<I", len(after)) + after + b"\x00\x01\x01"
    unit = struct.pack("<I", len(body)) + body
    h4 = read_line_header(SectionBytes.of(".debug_line", unit), 0, "little", strings)
    assert h4 is not None and h4.version == 4 and h4.line_base == -5 and h4.opcode_base == 13
    assert h4.include_dirs == ["inc"] and h4.files == [("a.c", 1)] and h4.file_at(1) == ("a.c", 1)
    assert h4.program == b"\x00\x01\x01"
    assert read_line_header(SectionBytes.of(".debug_line", unit[:20]), 0, "little", strings) is None


@pytest.mark.parametrize("how", [None, "zlib", "zstd", "gnu"])
def test_line_table_from_compressed_sections(tmp_path: Path, how: str | None) -> None:
    """The same DWARF as sections in memory and in an ELF file, compressed or not: the same lines."""
    sections = build(simple_unit())
    expected = LineTable(sections)
    path = tmp_path / "vmlinux"
    elf_sections = [Sec(".text", b"\x90" * 0x40, flags=SHF_ALLOC | SHF_EXECINSTR, addr=BASE)]
    for name, data in sections.items():
        elf_sections.append(Sec(".zdebug" + name[6:] if how == "gnu" else name, data, compress=how))
    path.write_bytes(write_elf(elf_sections))
    with ElfFile(path) as elf, LineTable(elf) as table:
        answers = [table.lookup(BASE + i) for i in range(0x40)]
        assert answers == [expected.lookup(BASE + i) for i in range(0x40)]
        assert any(answers)


# ---------------------------------------------------------------------------------------------------------
# A program compiled here, its debug sections left alone or compressed by objcopy

TOOLS = shutil.which("gcc") and shutil.which("objcopy")
SOURCE = """
struct node { struct node *next; long value; unsigned flags : 3; };
struct node head;
volatile unsigned long ticks;
static int helper(int x) { return x * 3; }
int main(void) { head.value = helper(2); return (int)ticks; }
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not TOOLS:
        pytest.skip("no gcc and objcopy")
    d = tmp_path_factory.mktemp("compressed")
    (d / "p.c").write_text(SOURCE)
    out: dict[str, Path] = {}
    for dwarf in ("4", "5"):
        plain = d / f"p{dwarf}"
        subprocess.run(["gcc", f"-gdwarf-{dwarf}", "-O1", "-o", str(plain), str(d / "p.c")], check=True)
        out[f"v{dwarf}"] = plain
        for how in ("zlib", "zstd", "zlib-gnu"):
            packed = d / f"p{dwarf}.{how}"
            subprocess.run(["objcopy", f"--compress-debug-sections={how}", str(plain), str(packed)], check=True)
            out[f"v{dwarf}.{how}"] = packed
    return out


def _all_dies(dwarf: DwarfInfo) -> list[tuple[int, int, dict[int, object]]]:
    out = []
    for u in dwarf.units:
        todo = [dwarf.root_die(u).offset]
        while todo:
            die = dwarf.die(todo.pop())
            out.append((die.offset, die.tag, die.attrs))
            todo.extend(reversed(list(dwarf.children(die))))
    return out


@pytest.mark.parametrize("version", ["v4", "v5"])
def test_compressed_debug_sections_read_the_same(compiled: dict[str, Path], version: str) -> None:
    plain = ElfFile(compiled[version])
    dies = _all_dies(DwarfInfo(plain))
    assert len(dies) > 10
    types = DwarfTypes(plain, disk_cache=False)
    node = types.find_type("struct node")
    ticks = types.variable_type("ticks")
    assert node is not None and ticks is not None and ticks.type_name() == "volatile unsigned long"
    text = plain.section(".text")
    assert text is not None
    lines = LineTable(plain)
    expected_lines = [lines.lookup(text.addr + i) for i in range(text.size)]
    assert any(expected_lines)
    for how in ("zlib", "zstd", "zlib-gnu"):
        elf = ElfFile(compiled[f"{version}.{how}"])
        names = {s.name for s in elf.sections}
        assert (".zdebug_info" in names) == (how == "zlib-gnu")
        assert _all_dies(DwarfInfo(elf)) == dies, how
        other = DwarfTypes(elf, disk_cache=False)
        node2 = other.find_type("struct node")
        assert node2 is not None and [(m.name, m.bit_offset) for m in node2.members()] == [
            (m.name, m.bit_offset) for m in node.members()
        ]
        assert [LineTable(elf).lookup(text.addr + i) for i in range(text.size)] == expected_lines, how


LISTS_SOURCE = {
    "q.c": """
extern void g(int);
extern int h(void);
__attribute__((noinline)) int f(int x) { int y = x * 3; g(y); g(x); return y + h(); }
__attribute__((cold, noinline)) void c(int x) { g(x); }
int main(int argc, char **argv) { if (argc > 5) c(argc); return f(argc); }
""",
    "g.c": "void g(int x) { (void)x; }\nint h(void) { return 1; }\n",
}


def _absolute(entries: list[object], base: int) -> list[tuple[int, int, bytes]]:
    """pyelftools' list entries as (start, end, expression), base-address entries applied."""
    out = []
    for e in entries:
        if hasattr(e, "base_address"):
            base = e.base_address
            continue
        start, end = e.begin_offset, e.end_offset  # type: ignore[attr-defined]
        if not e.is_absolute:  # type: ignore[attr-defined]
            start, end = start + base, end + base
        out.append((start, end, bytes(getattr(e, "loc_expr", b""))))
    return out


@pytest.mark.parametrize("version", ["4", "5"])
def test_range_and_location_lists_equal_pyelftools(tmp_path: Path, version: str) -> None:
    """-O2 code split into hot and cold parts (DW_AT_ranges) with variables that move (location
    lists): .debug_ranges/.debug_loc (DWARF 4) and .debug_rnglists/.debug_loclists (DWARF 5)."""
    if not TOOLS:
        pytest.skip("no gcc")
    from elftools.elf.elffile import ELFFile

    for name, text in LISTS_SOURCE.items():
        (tmp_path / name).write_text(text)
    binary = tmp_path / "q"
    sources = [str(tmp_path / n) for n in LISTS_SOURCE]
    subprocess.run(["gcc", f"-gdwarf-{version}", "-O2", "-o", str(binary), *sources], check=True)
    dwarf = DwarfInfo(ElfFile(binary))
    ranges_seen = locations_seen = 0
    with open(binary, "rb") as f:
        info = ELFFile(f).get_dwarf_info()
        range_lists, location_lists = info.range_lists(), info.location_lists()
        for cu in info.iter_CUs():
            for die in cu.iter_DIEs():
                if die.is_null():
                    continue
                mine = dwarf.die(die.offset)
                top = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
                cu_base = top.value if top is not None else 0
                if "DW_AT_ranges" in die.attributes:
                    theirs = range_lists.get_range_list_at_offset(die.attributes["DW_AT_ranges"].value, cu=cu)
                    expected = [(a, b) for a, b, _e in _absolute(theirs, cu_base)]
                    assert die_ranges(dwarf, mine) == expected
                    ranges_seen += 1
                loc = die.attributes.get("DW_AT_location")
                if loc is not None and loc.form == "DW_FORM_sec_offset":
                    theirs = location_lists.get_location_list_at_offset(loc.value, die=die)
                    assert location_list(dwarf, mine) == _absolute(theirs, cu_base)
                    locations_seen += 1
    assert ranges_seen >= 2 and locations_seen >= 3
    # The compile unit's ranges are what .debug_aranges says of it.
    u = dwarf.unit_header(0)
    amap = dwarf.address_map
    assert sorted(die_ranges(dwarf, dwarf.root_die(u))) == sorted(
        (a, b) for a, b, cu in amap.overlapping(0, 1 << 64) if cu == 0
    )


def test_indexed_range_and_location_lists() -> None:
    """DW_FORM_rnglistx and DW_FORM_loclistx: an index into the offsets after the list section's header,
    from the unit's DW_AT_rnglists_base / DW_AT_loclists_base."""
    w = Writer("<", 5, 4, 8)
    root = w.add_abbrev(TAG_COMPILE_UNIT, True, [
        (AT_LOW_PC, 0x01, None),
        (AT_RNGLISTS_BASE, 0x17, None),
        (AT_LOCLISTS_BASE, 0x17, None),
        (AT_RANGES, 0x23, None),  # rnglistx
    ])
    var = w.add_abbrev(TAG_VARIABLE, False, [(AT_LOCATION, 0x22, None)])  # loclistx
    body = uleb(root) + w.num(0x1000, 8) + w.num(12, 4) + w.num(12, 4) + uleb(1) + uleb(var) + uleb(0) + b"\0"
    cu = w.unit(body)
    # One header (unit_length, version 5, address size 8, no segments, offset_entry_count 2), the offsets.
    rle = bytes([4, 0x10, 0x20, 5]) + w.num(0x5000, 8) + bytes([4, 0, 8, 7]) + w.num(0x9000, 8) + bytes([0x10, 0])
    rnglists_body = struct.pack("<HBBI", 5, 8, 0, 2) + struct.pack("<II", 8, 8) + rle
    lle = bytes([4, 0x10, 0x20, 1, 0x50, 7]) + w.num(0x7000, 8) + w.num(0x7004, 8) + bytes([1, 0x51, 0])
    loclists_body = struct.pack("<HBBI", 5, 8, 0, 1) + struct.pack("<I", 4) + lle
    sections = {
        ".debug_info": cu,
        ".debug_abbrev": w.abbrev + b"\0",
        ".debug_rnglists": struct.pack("<I", len(rnglists_body)) + rnglists_body,
        ".debug_loclists": struct.pack("<I", len(loclists_body)) + loclists_body,
    }
    dwarf = DwarfInfo(MemorySections(sections))
    u = dwarf.unit_header(0)
    assert die_ranges(dwarf, dwarf.root_die(u)) == [(0x1010, 0x1020), (0x5000, 0x5008), (0x9000, 0x9010)]
    (var_off,) = [off for off, _ab in dwarf.top_level(u)]
    assert location_list(dwarf, dwarf.die(var_off)) == [(0x1010, 0x1020, b"\x50"), (0x7000, 0x7004, b"\x51")]
