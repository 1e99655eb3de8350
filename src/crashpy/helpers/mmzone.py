"""Nodes, zones, memory sections, memory blocks, hugepage hstates and the vm_stat / vm_event
counters (include/linux/mmzone.h, mm/vmstat.c, drivers/base/memory.c, mm/hugetlb.c), as rows for
`kmem -n`, `-z`, `-V` and `-h`.  Never prints."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.list import walk_list
from crashpy.helpers.meminfo import online_pgdats
from crashpy.object import lookup_type, object_for_symbol, resolve
from crashpy.types.model import ArrayType, EnumType, TypeLookupError

if TYPE_CHECKING:
    from crashpy.program import Program

MASK64 = (1 << 64) - 1
BADADDR = MASK64
# the low bits of mem_section.section_mem_map (include/linux/mmzone.h), in the order crash names them
SECTION_STATE_LETTERS = ((1 << 0, "P"), (1 << 1, "M"), (1 << 2, "O"), (1 << 3, "E"), (1 << 4, "D"))
SECTION_HAS_MEM_MAP = 1 << 1
SECTION_MAP_MASK = ~((1 << 5) - 1) & MASK64
# include/linux/memory.h: memory_block.state
MEMORY_BLOCK_STATES = {
    1 << 0: "ONLINE",
    1 << 1: "GOING_OFFLINE",
    1 << 2: "OFFLINE",
    1 << 3: "GOING_ONLINE",
    1 << 4: "CANCEL_ONLINE",
    1 << 5: "CANCEL_OFFLINE",
}


def _u64(raw: bytes, off: int) -> int:
    return int.from_bytes(raw[off : off + 8], "little")


def _s64(raw: bytes, off: int) -> int:
    return int.from_bytes(raw[off : off + 8], "little", signed=True)


def _enum(prog: Program, name: str) -> dict[str, int]:
    """The enumerators of `enum name` in declaration order ({} without the type)."""
    try:
        t = resolve(lookup_type(prog, f"enum {name}"))
    except TypeLookupError:
        return {}
    return dict(t.enumerators) if isinstance(t, EnumType) else {}


def _array_length(prog: Program, symbol: str) -> int:
    if not prog.has_symbol(symbol):
        return 0
    t = resolve(object_for_symbol(prog, symbol).type_)
    return t.length if isinstance(t, ArrayType) and t.length else 0


def _names(enum: dict[str, int], count: int) -> list[str]:
    """Index -> enumerator name for indexes below `count` (a later name for the same value wins)."""
    names = [""] * count
    for name, value in enum.items():
        if 0 <= value < count:
            names[value] = name
    return names


# ---- vm_stat -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatGroup:
    """One group of counters: its title ("VM_ZONE_STAT", ...) and (name, value) pairs."""

    title: str
    items: list[tuple[str, int]]


def zone_stat_names(prog: Program) -> list[str]:
    enum = _enum(prog, "zone_stat_item")
    return _names(enum, enum.get("NR_VM_ZONE_STAT_ITEMS", 0))


def vm_stat_groups(prog: Program) -> list[StatGroup]:
    """The global counters as crash's `kmem -V` lists them: vm_zone_stat[], vm_node_stat[] and, where
    the kernel has it, vm_numa_stat[] (or the single vm_stat[] of older kernels)."""
    if prog.has_symbol("vm_zone_stat"):
        parts = [("VM_ZONE_STAT", "vm_zone_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS")]
        if prog.has_symbol("vm_node_stat"):
            parts.append(("VM_NODE_STAT", "vm_node_stat", "node_stat_item", "NR_VM_NODE_STAT_ITEMS"))
        if _array_length(prog, "vm_numa_stat"):
            parts.append(("VM_NUMA_STAT", "vm_numa_stat", "numa_stat_item", "NR_VM_NUMA_STAT_ITEMS"))
    elif prog.has_symbol("vm_stat"):
        parts = [("VM_STAT", "vm_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS")]
    else:
        return []
    groups = []
    for title, symbol, enum_name, count_name in parts:
        enum = _enum(prog, enum_name)
        count = enum.get(count_name, _array_length(prog, symbol))
        raw = prog.read(prog.symbol_address(symbol), 8 * count, what=symbol)
        names = _names(enum, count)
        groups.append(StatGroup(title, [(names[i], _s64(raw, 8 * i)) for i in range(count)]))
    return groups


def zone_vm_stat(prog: Program, zone: int) -> list[tuple[str, int]]:
    """A zone's own vm_stat[] counters (struct zone at `zone`)."""
    names = zone_stat_names(prog)
    raw = prog.read(zone + prog.offsetof("zone", "vm_stat"), 8 * len(names), what="vm_zone_stat")
    return [(name, _s64(raw, 8 * i)) for i, name in enumerate(names)]


def vm_events(prog: Program, cpus: int) -> list[tuple[str, int]]:
    """The per-CPU vm_event_states summed over CPUs 0..cpus-1 (crash's cumulative VM_EVENT_STATES);
    [] when the kernel has none."""
    enum = _enum(prog, "vm_event_item")
    count = enum.get("NR_VM_EVENT_ITEMS", 0)
    if not count or not prog.has_symbol("vm_event_states"):
        return []
    base = prog.symbol_address("vm_event_states")
    totals = [0] * count
    for cpu in range(cpus):
        raw = prog.read(prog.percpu_address(base, cpu), 8 * count, what="vm_event_states buffer")
        for i in range(count):
            totals[i] += _u64(raw, 8 * i)
    return [(name, value & MASK64) for name, value in zip(_names(enum, count), totals, strict=True)]


# ---- memory sections -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One present memory section."""

    nr: int
    address: int  # struct mem_section *
    word: int  # section_mem_map as stored (the coded mem_map and the state bits)
    pfn: int
    page_size: int  # sizeof(struct page)

    @property
    def coded_mem_map(self) -> int:
        return self.word & SECTION_MAP_MASK

    @property
    def mem_map(self) -> int:
        return (self.coded_mem_map + self.pfn * self.page_size) & MASK64

    @property
    def state(self) -> str:
        return "".join(letter for bit, letter in SECTION_STATE_LETTERS if self.word & bit)


def sections(prog: Program) -> list[Section]:
    """Every memory section whose SECTION_MARKED_PRESENT bit is set, by number (SPARSEMEM_EXTREME's
    roots, or the static two-dimensional array)."""

    def build() -> list[Section]:
        info = prog.vmcoreinfo
        page = info.page_size
        section_bits, physmem_bits = info.sparsemem(prog.layout.five_level)
        per_section = 1 << (section_bits - (page.bit_length() - 1))
        ms_size = prog.sizeof("mem_section")
        map_off = prog.offsetof("mem_section", "section_mem_map")
        per_root = page // ms_size
        n_roots = info.length("mem_section") or -(-(1 << (physmem_bits - section_bits)) // per_root)
        mem_section = object_for_symbol(prog, "mem_section")
        if resolve(mem_section.type_).kind.value == "pointer":
            raw = prog.read(int(mem_section), 8 * n_roots, what="mem_section roots")
            roots = [_u64(raw, 8 * i) for i in range(n_roots)]
        else:
            base = mem_section.address_ or 0
            roots = [base + i * per_root * ms_size for i in range(n_roots)]
        page_struct = prog.sizeof("page")
        out = []
        for r, root in enumerate(roots):
            if not root or not prog.is_kvaddr(root):
                continue
            raw = prog.read(root, per_root * ms_size, what="memory section")
            for j in range(per_root):
                word = _u64(raw, j * ms_size + map_off)
                if word & 1:
                    nr = r * per_root + j
                    out.append(Section(nr, root + j * ms_size, word, nr * per_section, page_struct))
        return out

    return prog.cache("mmzone.sections", build)  # type: ignore[no-any-return]


def pfn_to_page(prog: Program, pfn: int) -> int | None:
    """The struct page of `pfn` through its memory section (crash's pfn_to_map), None without one."""
    section_bits = prog.vmcoreinfo.sparsemem(prog.layout.five_level)[0]
    nr = pfn >> (section_bits - 12)
    by_nr = prog.cache("mmzone.sections_by_nr", lambda: {s.nr: s for s in sections(prog)})
    s = by_nr.get(nr)
    if s is None or not s.word & SECTION_HAS_MEM_MAP:
        return None
    return (s.mem_map + (pfn - s.pfn) * s.page_size) & MASK64


# ---- nodes and zones -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """One struct zone of a node's node_zones[]."""

    node: int  # the node's position in the node list
    index: int
    address: int
    name: str
    spanned: int
    present: int
    start_pfn: int
    watermarks: tuple[int, int, int]  # min, low, high
    all_unreclaimable: bool | None = None  # kernels with zone.all_unreclaimable or ZONE_ALL_UNRECLAIMABLE
    pages_scanned: int | None = None  # kernels with zone.pages_scanned


@dataclass(frozen=True)
class Node:
    """One struct pglist_data."""

    node_id: int
    pgdat: int
    spanned: int
    start_pfn: int
    mem_map: int  # node_mem_map, or the page of its first pfn (BADADDR when neither)
    bootmem: int | None  # bdata of kernels that had bootmem, else None
    zones: list[Zone]


def _zone(prog: Program, n: int, i: int, address: int) -> Zone:
    raw = prog.read(address, prog.sizeof("zone"), what="zone buffer")
    name_ptr = _u64(raw, prog.offsetof("zone", "name"))
    try:
        name = prog.read_cstring(name_ptr, 64).decode("latin-1")
    except FaultError:
        name = "(unknown) "
    spanned = _u64(raw, prog.offsetof("zone", "spanned_pages"))
    present = _u64(raw, prog.offsetof("zone", "present_pages"))
    wm_member = "watermark" if prog.has_member("zone", "watermark") else "_watermark"
    wm = prog.offsetof("zone", wm_member)
    marks = _enum(prog, "zone_watermarks")
    low, mid, high = marks.get("WMARK_MIN", 0), marks.get("WMARK_LOW", 1), marks.get("WMARK_HIGH", 2)
    watermarks = (_s64(raw, wm + 8 * low), _s64(raw, wm + 8 * mid), _s64(raw, wm + 8 * high))
    start = _u64(raw, prog.offsetof("zone", "zone_start_pfn"))
    unreclaimable = scanned = None
    if prog.has_member("zone", "all_unreclaimable"):
        unreclaimable = bool(int.from_bytes(raw[prog.offsetof("zone", "all_unreclaimable") :][:4], "little"))
    elif prog.has_member("zone", "flags") and "ZONE_ALL_UNRECLAIMABLE" in _enum(prog, "zone_flags"):
        bit = _enum(prog, "zone_flags")["ZONE_ALL_UNRECLAIMABLE"]
        unreclaimable = bool(_u64(raw, prog.offsetof("zone", "flags")) >> bit & 1)
    if prog.has_member("zone", "pages_scanned"):
        scanned = _u64(raw, prog.offsetof("zone", "pages_scanned"))
    return Zone(n, i, address, name, spanned, present, start, watermarks, unreclaimable, scanned)


def nodes(prog: Program) -> list[Node]:
    """Every online node with its zones (node_data[], or contig_page_data)."""

    def build() -> list[Node]:
        out = []
        zone_size = prog.sizeof("zone")
        zones_off = prog.offsetof("pglist_data", "node_zones")
        for n, pgdat in enumerate(online_pgdats(prog)):
            addr = pgdat.address_ or 0
            t = resolve(pgdat.member_("node_zones").type_)
            nr_zones = t.length if isinstance(t, ArrayType) and t.length else 0
            node_id = int(pgdat.member_("node_id"))
            start_pfn = int(pgdat.member_("node_start_pfn"))
            spanned = int(pgdat.member_("node_spanned_pages"))
            if pgdat.has_member_("node_mem_map"):
                mem_map = int(pgdat.member_("node_mem_map"))
            else:
                page = pfn_to_page(prog, start_pfn)
                mem_map = BADADDR if page is None else page
            bootmem = int(pgdat.member_("bdata")) if pgdat.has_member_("bdata") else None
            zones = [_zone(prog, n, i, addr + zones_off + i * zone_size) for i in range(nr_zones)]
            out.append(Node(node_id, addr, spanned, start_pfn, mem_map, bootmem, zones))
        return out

    return prog.cache("mmzone.nodes", build)  # type: ignore[no-any-return]


# ---- memory blocks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryBlock:
    """One struct memory_block of the memory bus (drivers/base/memory.c)."""

    address: int
    name: str
    start: int  # physical
    end: int | None  # physical, inclusive; None when the kernel does not tell the block's size
    nid: int | None
    state: str
    start_section: int


def memory_blocks(prog: Program) -> list[MemoryBlock] | None:
    """The memory bus's devices in klist order; None when the kernel has no memory_subsys."""
    if not prog.has_symbol("memory_subsys") or not prog.has_member("memory_block", "dev"):
        return None
    if not prog.has_member("bus_type", "p"):
        raise CommandError("cannot determine subsys_private for memory.")
    private = int(object_for_symbol(prog, "memory_subsys").member_("p"))
    if not private:
        raise CommandError("cannot determine subsys_private for memory.")
    head = private + prog.offsetof("subsys_private", "klist_devices") + prog.offsetof("klist", "k_list")
    knode = prog.offsetof("device_private", "knode_bus") + prog.offsetof("klist_node", "n_node")
    device_off = prog.offsetof("device_private", "device")
    dev_off = prog.offsetof("memory_block", "dev")
    name_off = dev_off + prog.offsetof("device", "kobj") + prog.offsetof("kobject", "name")
    first = prog.read_u64(head)
    section_bits = prog.vmcoreinfo.sparsemem(prog.layout.five_level)[0]
    probed = None
    if prog.has_symbol("memory_block_size_probed"):
        probed = prog.read_u64(prog.symbol_address("memory_block_size_probed"))
    has_end = prog.has_member("memory_block", "end_section_nr")
    has_nid = prog.has_member("memory_block", "nid")
    size = prog.sizeof("memory_block")
    out: list[MemoryBlock] = []
    if first == head:
        return out
    for entry in walk_list(prog, first, end=head):
        device = prog.read_u64(entry - knode + device_off)
        block = (device - dev_off) & MASK64
        raw = prog.read(block, size, what="memory_block")
        start_sec = _u64(raw, prog.offsetof("memory_block", "start_section_nr"))
        start = start_sec << section_bits
        end = None
        if probed is not None:
            end = (start + probed - 1) & MASK64
        elif has_end:
            end = ((_u64(raw, prog.offsetof("memory_block", "end_section_nr")) + 1) << section_bits) - 1
        state = _u64(raw, prog.offsetof("memory_block", "state"))
        name = prog.read_cstring(_u64(raw, name_off), 64).decode("latin-1")
        nid = None
        if has_nid:
            nid = int.from_bytes(raw[prog.offsetof("memory_block", "nid") :][:4], "little", signed=True)
        out.append(
            MemoryBlock(block, name, start, end, nid, MEMORY_BLOCK_STATES.get(state, "UNKNOWN"), start_sec)
        )
    return out


# ---- hugepages -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HState:
    """One used struct hstate of hstates[]."""

    address: int
    order: int
    free: int
    total: int
    name: str


def hstates(prog: Program) -> list[HState] | None:
    """hstates[] entries with an order; None when the kernel has no hstates[]."""
    if not prog.has_symbol("hstates"):
        return None
    base = prog.symbol_address("hstates")
    size = prog.sizeof("hstate")
    out: list[HState] = []
    for i in range(_array_length(prog, "hstates")):
        raw = prog.read(base + i * size, size, what="hstate")
        order = int.from_bytes(raw[prog.offsetof("hstate", "order") :][:4], "little")
        if not order:
            continue
        name_raw = raw[prog.offsetof("hstate", "name") :][:32]
        out.append(
            HState(
                base + i * size,
                order,
                _s64(raw, prog.offsetof("hstate", "free_huge_pages")),
                _s64(raw, prog.offsetof("hstate", "nr_huge_pages")),
                name_raw.split(b"\0", 1)[0].decode("latin-1"),
            )
        )
    return out


def iter_zones(prog: Program) -> Iterator[Zone]:
    for node in nodes(prog):
        yield from node.zones
