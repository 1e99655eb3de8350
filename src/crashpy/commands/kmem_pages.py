"""kmem's page options: the memory map (-p, -m), page flags (-g), the buddy free lists (-f, -F), the
page cache hash (-c, -C) and the LRU lists (-l, -L), and the page part of `kmem <address>`.

The kernel knowledge is in helpers/pages.py (sections, struct page in blocks, flag names) and
helpers/buddy.py (nodes, zones, free lists); this module lays the rows out as crash 8.0.6 does
(memory.c: dump_mem_map_SPARSEMEM, dump_page_flags, dump_free_pages_zones_v2, dump_zone_free_area,
dump_page_hash_table, dump_page_lists).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.rows import hex_address
from crashpy.commands.vtop import mkstring, paddr_width
from crashpy.errors import CommandError, FaultError
from crashpy.helpers import buddy
from crashpy.helpers.pages import (
    PAGE_SHIFT,
    flags_text,
    page_fields,
    page_flag_list,
    page_to_phys,
    pfn_to_page,
    present_sections,
    read_page_structs,
    section_mem_map,
    sparse,
)
from crashpy.object import lookup_type, resolve
from crashpy.types.model import EnumType, IntType, PointerType, StructType, TypeKind, TypeLookupError

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

PAGE_SIZE = 1 << PAGE_SHIFT
ZONE_HEADER = "ZONE  NAME        SIZE    FREE"
AREA_HEADER = "AREA    SIZE  FREE_AREA_STRUCT"


# ---- the memory map: kmem -p, kmem -m ---------------------------------------------------------------


@dataclass(frozen=True)
class PageMember:
    """A member of struct page that `kmem -m` shows (gdb's view of it: type code, sign, size, place)."""

    name: str
    code: str  # "ptr", "int", "bool", "struct"
    unsigned: bool
    length: int
    offset: int
    bitpos: int = 0
    bitsize: int = 0


def page_members(prog: Program, optarg: str) -> list[PageMember]:
    """The members a `-m` list names, or crash's error for a list it refuses."""
    if optarg.endswith((",", ".")):
        raise CommandError(f"invalid format: {optarg}")
    names = optarg.replace(",", " ").split()
    if not names:
        raise CommandError(f"invalid page struct member list format: {optarg}")
    return [_member(prog, name) for name in names]


def _member(prog: Program, name: str) -> PageMember:
    t = resolve(lookup_type(prog, "struct page"))
    offset = 0
    bitfield: int | None = None
    for part in name.split("."):
        if not isinstance(t, StructType) or not part or not t.is_complete:
            raise CommandError(f"invalid page struct member: {name}")
        hit = t.find_member(part)
        if hit is None:
            raise CommandError(f"invalid page struct member: {name}")
        bit_offset, m = hit
        offset += bit_offset
        bitfield = m.bit_field_size
        t = resolve(m.type)
    length = t.size if not isinstance(t, PointerType) else 8
    if isinstance(t, PointerType):
        code, unsigned = "ptr", True
    elif isinstance(t, IntType):
        code, unsigned = ("bool" if t.is_bool else "int"), not t.signed
    elif isinstance(t, StructType) and t.kind is TypeKind.STRUCT:
        code, unsigned = "struct", False
    else:
        code, unsigned = "other", False
    if bitfield is not None:
        container = length * 8
        return PageMember(
            name, code, unsigned, length, offset // container * length, offset % container, bitfield
        )
    return PageMember(name, code, unsigned, length, offset // 8)


def _member_text(m: PageMember, raw: bytes, radix: int) -> str:
    """How crash shows member `m` of the struct page whose bytes are `raw` (crash's words for a
    member type it does not show)."""
    return _member_value_text(m, raw[m.offset : m.offset + m.length], radix)


def _member_value_text(m: PageMember, data: bytes, radix: int) -> str:
    if m.code == "ptr":
        return f"{int.from_bytes(data[:8], 'little'):016x}  "
    if m.code == "int" and m.length in (1, 2, 4, 8):
        value = int.from_bytes(data, "little")
        if m.bitsize:
            value = value >> m.bitpos & ((1 << m.bitsize) - 1)
        if m.name == "flags":
            radix = 16
        elif m.name.startswith(("_count", "_mapcount")):
            radix = 10
        digits = 2 * m.length
        if m.unsigned:
            return f"{value}  " if radix == 10 else f"{value:0{digits}x}  "
        if radix == 10:
            signed = value - (1 << 8 * m.length) if value >> (8 * m.length - 1) else value
            return f"{signed}  "
        return f"{value:016x}" if m.length == 8 else f"{value:0{digits}x}  "
    if m.code == "struct":
        if m.name.startswith(("_count", "_mapcount")):
            return f"{int.from_bytes(data[:4], 'little', signed=True)}  "
        if m.length % 8 == 0:
            words = [int.from_bytes(data[k : k + 8], "little") for k in range(0, m.length, 8)]
            return ",".join(f"{w:016x}" for w in words) + "  "
        if m.length % 4 == 0:
            words = [int.from_bytes(data[k : k + 4], "little") for k in range(0, m.length, 4)]
            return ",".join(f"{w:08x}" for w in words)
        if m.length == 2:
            return f"{int.from_bytes(data, 'little'):04x}  "
    if m.code == "bool":
        b = data[0]
        if b <= 1:
            return f"{'true' if b else 'false'}  "
        return f"{b}" if radix == 10 else f"{b:x}  "
    raise CommandError(f"unsupported page member reference: page.{m.name}")


def mem_map_header(prog: Program, members: list[PageMember] | None) -> str:
    if members:
        return mkstring("PAGE", 16, "c") + "".join(f"  {m.name}" for m in members) + "\n"
    width = paddr_width(prog)
    return (
        f"{mkstring('PAGE', 16, 'c')} {'PHYSICAL':>{width}} {mkstring('MAPPING', 16, 'cr')} "
        f"{mkstring('INDEX', 8, 'cr')}CNT FLAGS\n"
    )


class MemMap:
    """Renders struct pages as crash's memory-map lines, block by block (one section at a time)."""

    def __init__(self, prog: Program, members: list[PageMember] | None, radix: int = 10) -> None:
        self.prog = prog
        self.members = members
        self.radix = radix
        self.fields = page_fields(prog)
        self.unpack, self.where = self.fields.unpacker()
        width = paddr_width(prog)
        self.head = f"%-16x %{width}x "
        self.tail = "%16x %8x %2d %s\n"
        self.tails: dict[tuple[int, ...], str] = {}
        self.unmapped_line = f"%-16x %{width}x {' ' * 16} {' ' * 8}    %s\n"
        self.flag_cache: dict[int, str] = {}
        self.member_caches: list[dict[bytes, str]] = [{} for _ in members or []]

    def flags(self, value: int) -> str:
        text = self.flag_cache.get(value)
        if text is None:
            text = self.flag_cache[value] = flags_text(self.prog, value)
        return text

    def lines(self, pp: int, phys: int, n: int) -> str:
        """The lines of the `n` struct pages from `pp`, the first describing `phys`."""
        data, unmapped = read_page_structs(self.prog, pp, n)
        size = self.fields.size
        out: list[str] = []
        if self.members:
            columns = [[f"{page:x}  " for page in range(pp, pp + n * size, size)]]
            for m, cache in zip(self.members, self.member_caches, strict=True):
                cut = struct.Struct(f"<{m.offset}x{m.length}s{size - m.offset - m.length}x")
                column = []
                for (value,) in cut.iter_unpack(data):  # pages alike share their members' text
                    text = cache.get(value)
                    if text is None:
                        text = cache[value] = _member_value_text(m, value, self.radix)
                    column.append(text)
                columns.append(column)
                if len(cache) > 1 << 16:
                    cache.clear()
            return "".join("".join(parts) + "\n" for parts in zip(*columns, strict=True))
        fl, ma, ix, ct = self.where
        head, tails, tail = self.head, self.tails, self.tail
        pps = range(pp, pp + n * size, size)
        physes = range(phys, phys + n * PAGE_SIZE, PAGE_SIZE)
        for k, (page, ph, row) in enumerate(zip(pps, physes, self.unpack.iter_unpack(data), strict=True)):
            if unmapped and k in unmapped:
                out.append(self.unmapped_line % (page, ph, self.flags(row[fl])))
                continue
            text = tails.get(row)
            if text is None:  # pages alike (reserved, free, ...) share the end of their line
                text = tails[row] = tail % (row[ma], row[ix], row[ct], self.flags(row[fl]))
            out.append(head % (page, ph) + text)
        if len(tails) > 1 << 16:
            tails.clear()
        return "".join(out)


def mem_map_all(prog: Program, members: list[PageMember] | None, radix: int = 10) -> Iterator[str]:
    """`kmem -p` / `kmem -m`: the header, then every page of every present section, a section a piece."""
    mm = MemMap(prog, members, radix)
    sections = present_sections(prog)
    if sections:
        yield mem_map_header(prog, members)
    per = sparse(prog).per_section
    step = 8192
    for nr, mem_map in sections:
        for first in range(0, per, step):
            n = min(step, per - first)
            yield mm.lines(mem_map + first * mm.fields.size, (nr * per + first) << PAGE_SHIFT, n)


def locate(prog: Program, spec: int, physical: bool) -> tuple[int, int] | None:
    """(struct page, physical address) of the page a struct page address, a kernel address or a
    physical address names, or None when no present section holds it (crash's dump_mem_map)."""
    phys = None if physical else page_to_phys(prog, spec)
    pg_spec = phys is not None
    if phys is None:
        if physical:
            phys = spec
        else:
            try:
                phys = prog.kvtop(spec)
            except FaultError:
                return None
    sp = sparse(prog)
    pfn = phys >> PAGE_SHIFT
    nr = pfn >> (sp.section_bits - PAGE_SHIFT)
    mem_map = section_mem_map(prog, nr)
    if mem_map is None:
        return None
    return (
        spec if pg_spec else mem_map + (pfn - nr * sp.per_section) * prog.sizeof("page")
    ), pfn << PAGE_SHIFT


def mem_map_one(
    prog: Program, spec: int, physical: bool, header: bool, members: list[PageMember] | None, radix: int = 10
) -> str | None:
    """`kmem -p <address>`: the line of the page `spec` names (with the header when `header`), or None."""
    found = locate(prog, spec, physical)
    if found is None:
        return None
    text = MemMap(prog, members, radix).lines(found[0], found[1], 1)
    return (mem_map_header(prog, members) if header else "") + text


# ---- page flags: kmem -g ----------------------------------------------------------------------------


def pageflags_enum(prog: Program) -> EnumType:
    """The kernel's enum pageflags (kmem -g's table), or crash's error when it has none."""
    try:
        enum = resolve(lookup_type(prog, "enum pageflags"))
    except TypeLookupError:
        enum = None
    if not isinstance(enum, EnumType):
        raise CommandError("enum pageflags does not exist in this kernel")
    return enum


def page_flags_text(prog: Program, flags: int) -> str:
    """`kmem -g [flags]`: the PG_ flags of enum pageflags with their bits and values (only those set
    in `flags`, when it is not 0)."""
    enum = pageflags_enum(prog)
    items = list(enum.enumerators.items())
    longest = max((len(name) for name, _ in items), default=0)
    largest = max((v for name, v in items if "PG_" in name), default=0)
    digits = (largest + 1) // 4 + 1
    indent = "  " if flags else ""
    out = [f"FLAGS: {flags:x}\n"] if flags else []
    out.append(f"{indent}{'PAGE-FLAG':<{longest}} BIT  VALUE\n")
    found = 0
    for name, value in items:
        if "PG_" not in name:
            continue
        bit = 1 << value
        if not flags or flags & bit:
            out.append(f"{indent}{name:<{longest}}  {value:2d}  {bit & ((1 << 64) - 1):0{digits}x}\n")
            found += bool(flags & bit)
    if flags and not found:
        out.append("  (none found)\n")
    return "".join(out)


# ---- the buddy free lists: kmem -f, kmem -F, kmem -f <address> ----------------------------------------


def _zone_line(z: buddy.Zone) -> str:
    return (
        f"{z.index:3d}   {z.name:<9} {z.spanned:6d}  {z.free:6d}  "
        f"{mkstring(f'{z.mem_map:x}', 16, 'c')}  {mkstring(f'{z.start_pfn << PAGE_SHIFT:x}', 11, 'cr')}  "
        f"{mkstring(str(z.start_mapnr), 11, 'cr')}\n"
    )


def _zone_header() -> str:
    return f"{ZONE_HEADER}  {mkstring('MEM_MAP', 16, 'cl')}  START_PADDR  START_MAPNR\n"


def _area_line(fl: buddy.FreeList) -> str:
    return f"{fl.order:3d}  {f'{(PAGE_SIZE << fl.order) // 1024}k':>7}  {fl.address:016x}  "


def free_pages(session: Session, verbose: bool) -> None:
    """`kmem -f` (each list's blocks and pages) and `kmem -F` (each list's blocks by struct page),
    node by node and zone by zone, then the free page count checked against the lists."""
    prog = session.prog
    nodes = buddy.nodes(prog)
    seen: set[int] = set()
    total = found = 0
    for n, node in enumerate(nodes):
        for z in buddy.zones(prog, node):
            out: list[str] = []
            if z.index == 0 and len(nodes) > 1:
                if n:
                    out.append("\n" + "-" * 74 + "\n")
                out.append(f"{chr(10) if n else ''}NODE\n {node.nid:2d}\n")
            out.append(("\n" if z.index > 0 else "") + _zone_header() + _zone_line(z))
            total += z.free
            session.write("".join(out))
            if z.free:
                found += _free_area_text(session, prog, z, seen, verbose)
    session.write(
        f"\nnr_free_pages: {total}  " + ("(verified)\n" if total == found else f"(found {found})\n")
    )


def _free_area_text(session: Session, prog: Program, z: buddy.Zone, seen: set[int], verbose: bool) -> int:
    orders, lists, area_size, area_off = buddy.free_area_shape(prog)
    if not verbose:
        session.write(AREA_HEADER + "  BLOCKS  PAGES\n")
    total = 0
    for order in range(orders):
        for mt in range(lists):
            fl = buddy.FreeList(order, mt, z.address + area_off + order * area_size + mt * 16)
            out = [AREA_HEADER + "\n"] if verbose else []
            out.append(_area_line(fl))
            try:
                fl.blocks = buddy.walk_free_list(prog, fl.address, seen)
            except buddy.CorruptFreeList as e:  # crash: the list walk's note, then the list it gives up on
                session.write("".join(out) + f"\n\nkmem: {e}\n")
                raise CommandError(
                    f"corrupted free list {mt} from free_area struct: {fl.address:x}"
                ) from None
            if verbose:
                out.append("\n" + "".join(f"{b:x}\n" for b in fl.blocks))
            else:
                out.append(f"{len(fl.blocks):6d} {len(fl.blocks) << order:6d}\n")
            total += len(fl.blocks) << order
            session.write("".join(out))
    return total


def _ordinal(n: int) -> str:
    return f"{n}" + {"1": "st", "2": "nd", "3": "rd"}.get(str(n)[-1], "th")


def free_search_text(prog: Program, spec: int, physical: bool) -> str | None:
    """`kmem -f <address>`: the zone, list and first page of the free block holding the page of a
    struct page, kernel or physical address; "" when no free block holds it, None when crash
    prints nothing at all (no page for it: the caller prints crash's error)."""
    phys = buddy.search_phys(prog, spec, physical)
    if phys is None:
        return ""
    page = pfn_to_page(prog, phys >> PAGE_SHIFT)
    if page is None:
        return None
    block = buddy.find_free_block(prog, page, phys)
    if block is None:
        return ""
    out = []
    if len(buddy.nodes(prog)) > 1:
        out.append(f"NODE\n {block.zone.node.nid:2d}\n")
    out += [_zone_header(), _zone_line(block.zone), AREA_HEADER + "\n", _area_line(block.free_list) + "\n"]
    out.append(f"{block.first:x}  ")
    if block.free_list.order:
        where = f"{spec:x} is " + ("in " if physical and spec & (PAGE_SIZE - 1) else "")
        out.append(f"({where}{_ordinal(block.offset + 1)} of {1 << block.free_list.order} pages)")
    return "".join(out) + "\n"


# ---- page cache and LRU lists: kmem -c, -C, -l, -L ---------------------------------------------------


def page_hash(prog: Program, verbose: bool) -> None:
    """`kmem -c` / `kmem -C`: kernels since 2.6 have no page_hash_table; crash says its option does
    not apply (it counted nr_pagecache on the kernels that had that)."""
    raise CommandError(
        f"-{'C' if verbose else 'c'} option not supported or applicable on this architecture or kernel"
    )


LRU_LISTS = {
    "a": "active_list",
    "i": "inactive_list",
    "id": "inactive_dirty_list",
    "ic": "inactive_clean_list",
}


def page_lists(prog: Program, which: set[str]) -> None:
    """`kmem -l|-L a|i|ic|id`: the global LRU lists of 2.4 kernels; later kernels keep them per node
    and memory cgroup, which crash does not walk: it names the list that is missing."""
    for key, symbol in (("a", "active_list"), ("i", "inactive_list"), ("id", "inactive_dirty_list")):
        if key in which and not prog.has_symbol(symbol):
            raise CommandError(f"{symbol} does not exist in this kernel")
    if "ic" in which:
        raise CommandError("inactive_clean_list(s) do not exist in this kernel")
    if which:
        raise CommandError("the LRU lists of this kernel are not available in crashpy")


# ---- kmem's page options, as kmem's dispatcher hands them over ----------------------------------------

OPTIONS = "pfFgcClL"  # -m comes as -p


def high_memory_phys(prog: Program) -> int:
    def build() -> int:
        if not prog.has_symbol("high_memory"):
            return 1 << 64
        high = prog.read_u64(prog.symbol_address("high_memory"))
        return high - prog.layout.page_offset

    value: int = prog.cache("kmem.high_memory_phys", build)
    return value


def run(
    session: Session, flags: set[str], values: list[int], members: list[PageMember] | None, lru: set[str]
) -> None:
    """kmem -p, -m, -f, -F, -g, -c, -C, -l, -L (with their addresses); `kmem <address>` is
    kmem_search.py's."""
    prog = session.prog
    radix = getattr(session, "radix", 10)
    calls = 0
    header_done = False
    for i, value in enumerate(values):
        physical = "P" in flags or not prog.is_kvaddr(value)
        if "f" in flags:
            if calls:
                session.write("\n")
            calls += 1
            text = free_search_text(prog, value, physical)
            session.write(f"kmem: cannot determine page for {value:x}\n" if text is None else text)
        elif "p" in flags:
            line = mem_map_one(prog, value, physical, not header_done, members, radix)
            if line is not None:
                session.write(line)
                header_done = True
        elif "c" in flags:
            page_hash(prog, False)
        elif flags & {"l", "L"}:
            page_lists(prog, lru)
        elif "g" in flags:
            session.write(("\n" if i else "") + page_flags_text(prog, value))
    if values:
        return
    if "p" in flags:
        for text in mem_map_all(prog, members, radix):
            session.write(text)
    elif flags & {"f", "F"}:
        free_pages(session, "F" in flags)
    elif flags & {"c", "C"}:
        page_hash(prog, "C" in flags)
    elif flags & {"l", "L"}:
        page_lists(prog, lru)
    elif "g" in flags:
        session.write(page_flags_text(prog, 0))


# ---- kmem --json of the page options: the same rows as data -------------------------------------------


def _page_rows(prog: Program, pp: int, phys: int, n: int) -> list[dict[str, Any]]:
    fields = page_fields(prog)
    unpack, (fl, ma, ix, ct) = fields.unpacker()
    data, unmapped = read_page_structs(prog, pp, n)
    rows = []
    for k, row in enumerate(unpack.iter_unpack(data)):
        mapped = k not in unmapped
        rows.append(
            {
                "address": hex_address(pp + k * fields.size),
                "physical": hex_address(phys + k * PAGE_SIZE),
                "mapping": hex_address(row[ma]) if mapped else None,
                "index": row[ix] if mapped else None,
                "count": row[ct] if mapped else None,
                "flags": hex_address(row[fl]),
                "flag_names": page_flag_list(prog, row[fl]) if row[fl] else [],
            }
        )
    return rows


def _zone_data(prog: Program, z: buddy.Zone, seen: set[int], blocks: bool) -> dict[str, Any]:
    lists = buddy.free_lists(prog, z, seen) if z.free else []
    return {
        "index": z.index,
        "name": z.name,
        "size": z.spanned,
        "free": z.free,
        "mem_map": hex_address(z.mem_map),
        "start_paddr": hex_address(z.start_pfn << PAGE_SHIFT),
        "start_mapnr": z.start_mapnr,
        "free_lists": [
            {
                "order": fl.order,
                "migratetype": fl.migratetype,
                "address": hex_address(fl.address),
                "blocks": len(fl.blocks),
                "pages": len(fl.blocks) << fl.order,
            }
            | ({"first_pages": [hex_address(b) for b in fl.blocks]} if blocks else {})
            for fl in lists
        ],
    }


def document(session: Session, flags: set[str], values: list[int]) -> dict[str, Any]:
    """`kmem --json -p|-f|-F|-g [address ...]`: what the text shows, as rows."""
    prog = session.prog
    physical = "P" in flags
    if "p" in flags:
        pages: list[dict[str, Any]] = []
        if values:
            for value in values:
                found = locate(prog, value, physical or not prog.is_kvaddr(value))
                if found is not None:
                    pages += _page_rows(prog, found[0], found[1], 1)
        else:
            per = sparse(prog).per_section
            for nr, mem_map in present_sections(prog):
                pages += _page_rows(prog, mem_map, nr * per << PAGE_SHIFT, per)
        return {"pages": pages}
    if flags & {"f", "F"} and values:
        out = []
        for value in values:
            phys = buddy.search_phys(prog, value, physical or not prog.is_kvaddr(value))
            page = pfn_to_page(prog, phys >> PAGE_SHIFT) if phys is not None else None
            block = buddy.find_free_block(prog, page, phys) if page is not None and phys is not None else None
            entry: dict[str, Any] = {"address": hex_address(value), "free": block is not None}
            if block is not None:
                entry |= {
                    "node": block.zone.node.nid,
                    "zone": block.zone.name,
                    "order": block.free_list.order,
                    "migratetype": block.free_list.migratetype,
                    "first_page": hex_address(block.first),
                    "page_in_block": block.offset,
                }
            out.append(entry)
        return {"searches": out}
    if flags & {"f", "F"}:
        seen: set[int] = set()
        nodes: list[dict[str, Any]] = [
            {
                "node": node.nid,
                "zones": [_zone_data(prog, z, seen, "F" in flags) for z in buddy.zones(prog, node)],
            }
            for node in buddy.nodes(prog)
        ]
        total = sum(z["free"] for n in nodes for z in n["zones"])
        listed = sum(fl["pages"] for n in nodes for z in n["zones"] for fl in z["free_lists"])
        return {"nodes": nodes, "nr_free_pages": total, "listed_pages": listed}
    if "g" in flags:
        enum = pageflags_enum(prog)
        known: list[dict[str, Any]] = [
            {"name": n, "bit": v, "value": hex_address(1 << v)}
            for n, v in enum.enumerators.items()
            if "PG_" in n
        ]
        if not values:
            return {"page_flags": known}
        return {
            "decoded": [
                {"flags": hex_address(v), "set": [f for f in known if v >> f["bit"] & 1]} for v in values
            ]
        }
    raise CommandError("only -i, -p, -f, -F and -g are supported with --json")
