"""The buddy allocator's free lists: nodes (struct pglist_data), their zones (struct zone) and each
zone's free_area[order].free_list[migratetype] lists of free blocks (struct page)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.pages import PAGE_SHIFT, page_to_phys, pfn_to_page
from crashpy.object import Object, crash_faults, lookup_type, object_for_symbol, resolve
from crashpy.types.model import ArrayType, EnumType

if TYPE_CHECKING:
    from crashpy.program import Program


@dataclass(frozen=True)
class Node:
    """One online node: its id, its pglist_data and its first struct page (0: none)."""

    nid: int
    pgdat: int
    start_pfn: int
    mem_map: int


@dataclass(frozen=True)
class Zone:
    """One struct zone of a node, with what `kmem -f` shows of it."""

    node: Node
    index: int
    address: int
    name: str
    spanned: int
    free: int  # vm_stat[NR_FREE_PAGES]
    start_pfn: int
    mem_map: int  # the struct page of zone_start_pfn (0 for an empty zone)
    start_mapnr: int  # pages from the node's first struct page to the zone's (0 without one)


@dataclass
class FreeList:
    """free_area[order].free_list[migratetype] of a zone: its list_head's address and its blocks."""

    order: int
    migratetype: int
    address: int
    blocks: list[int] = field(default_factory=list)  # the first struct page of each free block


class CorruptFreeList(CommandError):
    """A free list that comes back to an entry it (or another list) already had."""

    def __init__(self, entry: int) -> None:
        super().__init__(f"duplicate list entry: {entry:x}")
        self.entry = entry


def _array_length(obj: Object) -> int:
    t = resolve(obj.type_)
    return t.length if isinstance(t, ArrayType) and t.length else 0


def _online_node_ids(prog: Program) -> list[int]:
    """The node ids set in node_states[N_ONLINE], else every node with a pglist_data."""
    node_data = object_for_symbol(prog, "node_data")
    count = _array_length(node_data)
    if prog.has_symbol("node_states"):
        states = resolve(lookup_type(prog, "enum node_states"))
        online = states.enumerators.get("N_ONLINE", 1) if isinstance(states, EnumType) else 1
        bits = object_for_symbol(prog, "node_states").index_(online).member_("bits")
        words = bits.data_()
        mask = int.from_bytes(words, "little")
        ids = [n for n in range(len(words) * 8) if mask >> n & 1]
        if ids:
            return ids
    return [n for n in range(count) if int(node_data.index_(n))]


@crash_faults
def nodes(prog: Program) -> list[Node]:
    """Every online node, in id order (crash's node_table)."""

    def build() -> list[Node]:
        out = []
        if prog.has_symbol("node_data"):
            node_data = object_for_symbol(prog, "node_data")
            pgdats = [(n, int(node_data.index_(n))) for n in _online_node_ids(prog)]
        else:
            pgdats = [(0, prog.symbol_address("contig_page_data"))]
        for _, pgdat in pgdats:
            if not pgdat:
                continue
            obj = Object(prog, "struct pglist_data", pgdat)
            start = int(obj.node_start_pfn)
            out.append(Node(int(obj.node_id), pgdat, start, pfn_to_page(prog, start) or 0))
        return sorted(out, key=lambda n: n.nid)

    result: list[Node] = prog.cache("buddy.nodes", build)
    return result


def _nr_free_index(prog: Program) -> int:
    t = resolve(lookup_type(prog, "enum zone_stat_item"))
    return t.enumerators.get("NR_FREE_PAGES", 0) if isinstance(t, EnumType) else 0


@crash_faults
def zones(prog: Program, node: Node) -> list[Zone]:
    """The zones of `node` (every entry of node_zones[], empty ones too)."""
    pgdat = Object(prog, "struct pglist_data", node.pgdat)
    node_zones = pgdat.member_("node_zones")
    nr_free = _nr_free_index(prog)
    out = []
    for i in range(_array_length(node_zones)):
        z = node_zones.index_(i)
        name_ptr = int(z.member_("name"))
        try:
            name = prog.read_cstring(name_ptr).decode("latin-1") if name_ptr else "(unknown)"
        except FaultError:
            name = "(unknown)"
        spanned = int(z.member_("spanned_pages"))
        free = int(z.member_("vm_stat").index_(nr_free).member_("counter"))
        start_pfn = int(z.member_("zone_start_pfn"))
        mem_map = (pfn_to_page(prog, start_pfn) or 0) if spanned else 0
        mapnr = (mem_map - node.mem_map) // prog.sizeof("page") if mem_map else 0
        out.append(Zone(node, i, z.address_ or 0, name, spanned, free, start_pfn, mem_map, mapnr))
    return out


def free_area_shape(prog: Program) -> tuple[int, int, int, int]:
    """(orders, migrate types, sizeof(struct free_area), offset of zone.free_area)."""
    zone_t = resolve(lookup_type(prog, "struct zone"))
    z = Object(prog, zone_t, 0)
    area = z.member_("free_area")
    orders = _array_length(area)
    lists = _array_length(area.index_(0).member_("free_list"))
    return orders, lists, prog.sizeof("free_area"), prog.offsetof("zone", "free_area")


def _lru_offset(prog: Program) -> int:
    """Where a free block's struct page keeps its list_head (buddy_list since 6.0, lru before)."""
    return prog.offsetof("page", "buddy_list" if prog.has_member("page", "buddy_list") else "lru")


def walk_free_list(prog: Program, head: int, seen: set[int]) -> list[int]:
    """The struct pages of one free list (from the list_head at `head`); CorruptFreeList when an entry
    comes round twice (`seen` holds every entry of the walk so far, over every list)."""
    off = _lru_offset(prog)
    blocks = []
    nxt = int.from_bytes(prog.read(head, 8, what="free_area free_list"), "little")
    while nxt != head:
        page = nxt - off
        if page in seen:
            raise CorruptFreeList(nxt)
        seen.add(page)
        blocks.append(page)
        nxt = int.from_bytes(prog.read(nxt, 8, what="list entry"), "little")
    return blocks


def free_lists(prog: Program, zone: Zone, seen: set[int]) -> list[FreeList]:
    """Every free list of `zone`, order by order, each with its blocks."""
    orders, lists, area_size, area_off = free_area_shape(prog)
    out = []
    for order in range(orders):
        area = zone.address + area_off + order * area_size
        for mt in range(lists):
            head = area + mt * 16
            out.append(FreeList(order, mt, head, walk_free_list(prog, head, seen)))
    return out


def search_phys(prog: Program, spec: int, physical: bool) -> int | None:
    """The physical address `kmem -f <address>` looks for: the page a struct page describes, else the
    translation of a kernel address, else the address itself when it is physical (None: none)."""
    if physical:
        return spec
    phys = page_to_phys(prog, spec)
    if phys is not None:
        return phys
    try:
        return prog.kvtop(spec)
    except FaultError:
        return None


@dataclass(frozen=True)
class FreeBlock:
    """The free block a page lies in: its zone, its list, its first struct page and the page's place."""

    zone: Zone
    free_list: FreeList
    first: int
    offset: int  # pages from the block's first page to the page looked for


@crash_faults
def find_free_block(prog: Program, page: int, phys: int) -> FreeBlock | None:
    """The free block holding struct page `page` (of physical address `phys`), looking only in the
    zones that have free pages, of the node whose span holds `phys`."""
    size = prog.sizeof("page")
    seen: set[int] = set()
    orders, lists, area_size, area_off = free_area_shape(prog)
    for node in nodes(prog):
        node_span = int(Object(prog, "struct pglist_data", node.pgdat).node_spanned_pages)
        if not node.start_pfn << PAGE_SHIFT <= phys < (node.start_pfn + node_span) << PAGE_SHIFT:
            continue
        for zone in zones(prog, node):
            if not zone.free:
                continue
            for order in range(orders):
                for mt in range(lists):
                    head = zone.address + area_off + order * area_size + mt * 16
                    for first in walk_free_list(prog, head, seen):
                        if first <= page < first + (size << order):
                            fl = FreeList(order, mt, head)
                            return FreeBlock(zone, fl, first, (page - first) // size)
    return None
