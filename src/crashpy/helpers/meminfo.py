"""What `kmem -i` reports: the kernel's own memory counters, in pages, as crash's dump_kmeminfo
gathers them (vm_zone_stat / vm_node_stat, _totalram_pages, the zones' free pages, every page
struct's flags and reference count, block-device page cache, hugetlb hstates, swap, commit)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.helpers.list import list_empty, list_for_each_entry
from crashpy.helpers.swap import swap_devices
from crashpy.object import Object, lookup_type, object_for_symbol, resolve
from crashpy.types.model import ArrayType, EnumType

if TYPE_CHECKING:
    from crashpy.program import Program

# include/linux/mmzone.h: the low bits of mem_section.section_mem_map
SECTION_MARKED_PRESENT = 1 << 0
SECTION_MAP_MASK = ~((1 << 5) - 1)


@dataclass(frozen=True)
class MemInfo:
    """The figures of `kmem -i`, in pages; None for a group the kernel does not have."""

    total: int
    free: int
    shared: int
    buffers: int
    cached: int
    cached_raw: int  # NR_FILE_PAGES less swap cache and buffers, before crash sets a negative one to 0
    slab: int
    huge_total: int | None
    huge_free: int | None
    swap_total: int | None  # None: the kernel has no swapper_spaces / swapper_space
    swap_used: int | None
    commit_limit: int | None  # None: no sysctl_overcommit_memory, or crash's bail-out
    committed: int | None
    page_size: int

    @property
    def used(self) -> int:
        return self.total - self.free


def stat_items(prog: Program) -> dict[str, int]:
    """The global vm_zone_stat[] and vm_node_stat[] counters by their enum names (NR_FREE_PAGES,
    NR_FILE_PAGES, ...), as crash's dump_vm_stat finds them."""

    def make() -> dict[str, int]:
        out: dict[str, int] = {}
        for array, enum in (("vm_zone_stat", "zone_stat_item"), ("vm_node_stat", "node_stat_item")):
            if not prog.has_symbol(array):
                continue
            t = resolve(lookup_type(prog, f"enum {enum}"))
            if not isinstance(t, EnumType):
                continue
            obj = object_for_symbol(prog, array)
            length = resolve(obj.type_)
            n = length.length if isinstance(length, ArrayType) and length.length else 0
            raw = prog.read(obj.address_ or 0, 8 * n, what=array)
            for name, value in t.enumerators.items():
                if 0 <= value < n:
                    out[name] = int.from_bytes(raw[8 * value : 8 * value + 8], "little", signed=True)
        return out

    return prog.cache("meminfo.stat_items", make)  # type: ignore[no-any-return]


def online_pgdats(prog: Program) -> list[Object]:
    """The struct pglist_data of every node: node_data[] entries that are set, or contig_page_data."""
    if prog.has_symbol("node_data"):
        node_data = object_for_symbol(prog, "node_data")
        t = resolve(node_data.type_)
        n = t.length if isinstance(t, ArrayType) and t.length else 1
        nodes = [node_data.index_(i) for i in range(n)]
        return [p.deref_() for p in nodes if int(p)]
    return [object_for_symbol(prog, "contig_page_data")]


def free_pages(prog: Program) -> int:
    """The sum of every zone's vm_stat[NR_FREE_PAGES] over every node (crash's GET_FREE_PAGES)."""
    nr_free = resolve(lookup_type(prog, "enum zone_stat_item"))
    index = nr_free.enumerators.get("NR_FREE_PAGES", 0) if isinstance(nr_free, EnumType) else 0
    total = 0
    for pgdat in online_pgdats(prog):
        zones = pgdat.member_("node_zones")
        t = resolve(zones.type_)
        n = t.length if isinstance(t, ArrayType) and t.length else 0
        for i in range(n):
            counter = zones.index_(i).member_("vm_stat").index_(index)
            # read as crash does, so that a page missing from the dump is named as crash names it
            raw = prog.read(counter.address_ or 0, 8, what="node_zones free_pages")
            total += int.from_bytes(raw, "little", signed=True)
    return total


def totalram_pages(prog: Program) -> int:
    """_totalram_pages (an atomic_long_t since 5.0), else totalram_pages."""
    if prog.has_symbol("_totalram_pages"):
        return int(object_for_symbol(prog, "_totalram_pages").member_("counter"))
    return prog.read_u64(prog.symbol_address("totalram_pages"))


def _present_mem_maps(prog: Program) -> Iterator[tuple[int, int]]:
    """(first page struct, number of pages) of every present memory section (SPARSEMEM_EXTREME)."""
    info = prog.vmcoreinfo
    section_bits = info.sparsemem(prog.layout.five_level)[0]
    page_shift = prog.vmcoreinfo.page_size.bit_length() - 1
    per_section = 1 << (section_bits - page_shift)
    page_size = prog.sizeof("page")
    ms_size = prog.sizeof("mem_section")
    map_off = prog.offsetof("mem_section", "section_mem_map")
    per_root = prog.vmcoreinfo.page_size // ms_size
    mem_section = object_for_symbol(prog, "mem_section")
    roots_len = info.length("mem_section")
    if resolve(mem_section.type_).kind.value == "pointer":  # struct mem_section **: the roots
        base = int(mem_section)
        n_roots = roots_len or 0
        roots = prog.read(base, 8 * n_roots, what="mem_section roots") if n_roots else b""
        root_addrs = [int.from_bytes(roots[8 * i : 8 * i + 8], "little") for i in range(n_roots)]
    else:  # struct mem_section mem_section[NR_SECTION_ROOTS][SECTIONS_PER_ROOT]
        base = mem_section.address_ or 0
        n_roots = roots_len or 1
        root_addrs = [base + i * per_root * ms_size for i in range(n_roots)]
    for r, root in enumerate(root_addrs):
        if not root:
            continue
        raw = prog.read(root, per_root * ms_size, what="mem_section")
        for j in range(per_root):
            word = int.from_bytes(raw[j * ms_size + map_off : j * ms_size + map_off + 8], "little")
            if not word & SECTION_MARKED_PRESENT:
                continue
            nr = r * per_root + j
            yield ((word & SECTION_MAP_MASK) + nr * per_section * page_size) & ((1 << 64) - 1), per_section


def shared_pages(prog: Program) -> int:
    """Pages that are not PG_reserved and whose reference count is above 1, over every page struct of
    every present memory section: crash's SHARED tally (not the kernel's)."""
    size = prog.sizeof("page")
    flags_off = prog.offsetof("page", "flags")
    count_off = prog.offsetof("page", "_refcount")
    pageflags = resolve(lookup_type(prog, "enum pageflags"))
    reserved_bit = pageflags.enumerators["PG_reserved"] if isinstance(pageflags, EnumType) else 0
    shared = 0
    for start, n in _present_mem_maps(prog):
        data = prog.read_partial(start, n * size, what="page struct cache").data
        shared += count_shared(data, size, count_off, flags_off + reserved_bit // 8, 1 << reserved_bit % 8)
    return shared


def count_shared(data: bytes, size: int, count_off: int, reserved_byte: int, reserved_mask: int) -> int:
    """How many of the page structs in `data` (`size` bytes each) have a signed 32-bit little-endian
    _refcount at `count_off` above 1 and the bit `reserved_mask` of their byte `reserved_byte` clear.

    A section holds 32,768 page structs: instead of a Python loop over them, each byte of interest is
    taken from every struct at once (a stepped slice) and the slices are combined as big integers,
    one byte per struct (a "lane"): a lane stays non-zero exactly where the struct counts."""
    n = len(data) // size

    def lanes(offset: int) -> int:
        return int.from_bytes(data[offset : n * size : size], "little")

    ones = int.from_bytes(b"\x01" * n, "little")
    b0, b1, b2, b3 = (lanes(count_off + k) for k in range(4))
    # refcount > 1: not negative (top bit of byte 3 clear) and some bit above bit 0 set
    above_one = (b0 & (0xFE * ones)) | b1 | b2 | (b3 & (0x7F * ones))
    positive = ~b3 & (0x80 * ones)  # 0x80 in the lanes whose refcount is not negative
    not_reserved = ~lanes(reserved_byte) & (reserved_mask * ones)
    return (_nonzero_lanes(above_one) & (positive >> 7) & _nonzero_lanes(not_reserved)).bit_count()


def _nonzero_lanes(x: int) -> int:
    """1 in each byte lane of `x` that is not zero, 0 elsewhere (bits folded within each byte)."""
    x |= x >> 4
    x |= x >> 2
    x |= x >> 1
    return x & int.from_bytes(b"\x01" * ((x.bit_length() + 7) // 8), "little")


def blockdev_pages(prog: Program) -> int:
    """nrpages of every block device's page cache: the inodes of blockdev_superblock (5.9 and
    later), else the all_bdevs list (crash's nr_blockdev_pages)."""
    total = 0
    if prog.has_symbol("all_bdevs"):
        head = object_for_symbol(prog, "all_bdevs")
        for bdev in list_for_each_entry("struct block_device", head, "bd_list"):
            total += int(bdev.member_("bd_inode").member_("i_mapping").member_("nrpages"))
        return total
    sb = object_for_symbol(prog, "blockdev_superblock")
    head = sb.member_("s_inodes")
    if list_empty(head):
        return 0
    for inode in list_for_each_entry("struct inode", head, "i_sb_list"):
        total += int(inode.member_("i_mapping").member_("nrpages"))
    return total


def hugetlb_pages(prog: Program) -> tuple[int, int] | None:
    """(total, free) huge pages in base pages over every hstate; None without hstates."""
    if prog.has_symbol("hstates"):
        hstates = object_for_symbol(prog, "hstates")
        t = resolve(hstates.type_)
        n = t.length if isinstance(t, ArrayType) and t.length else 0
        total = free = 0
        for i in range(n):
            h = hstates.index_(i)
            order = int(h.member_("order"))
            if not order:
                continue
            # C's unsigned long shift, as crash computes it (x86 takes the count modulo 64): a damaged
            # order must not make a number of gigabytes
            total += (int(h.member_("nr_huge_pages")) << (order & 63)) & MASK64
            free += (int(h.member_("free_huge_pages")) << (order & 63)) & MASK64
        return total, free
    if prog.has_symbol("nr_huge_pages"):
        per = (1 << 21) // prog.vmcoreinfo.page_size
        return (
            prog.read_u64(prog.symbol_address("nr_huge_pages")) * per,
            prog.read_u64(prog.symbol_address("free_huge_pages")) * per,
        )
    return None


def committed(prog: Program) -> int:
    """vm_committed_as.count (the percpu_counter's global part), never below 0."""
    if prog.has_symbol("vm_committed_as"):
        value = int(object_for_symbol(prog, "vm_committed_as").member_("count"))
    else:
        value = int(object_for_symbol(prog, "vm_committed_space").member_("counter"))
    return max(value, 0)


def meminfo(prog: Program) -> MemInfo:
    """Every figure of `kmem -i`, as crash's dump_kmeminfo computes it."""
    page = prog.vmcoreinfo.page_size
    stats = stat_items(prog)
    slab = stats.get("NR_SLAB", 0)
    if "NR_SLAB" not in stats:
        if "NR_SLAB_RECLAIMABLE" in stats:
            slab = stats["NR_SLAB_RECLAIMABLE"] + stats.get("NR_SLAB_UNRECLAIMABLE", 0)
        else:
            slab = stats.get("NR_SLAB_RECLAIMABLE_B", 0) + stats.get("NR_SLAB_UNRECLAIMABLE_B", 0)
    total = totalram_pages(prog)
    buffers = blockdev_pages(prog)
    cached = 0
    if "NR_FILE_PAGES" in stats:
        cached = stats["NR_FILE_PAGES"] - stats.get("NR_SWAPCACHE", 0) - buffers
    huge = hugetlb_pages(prog)
    swap_total = swap_used = None
    if prog.has_symbol("swapper_spaces") or prog.has_symbol("swapper_space"):
        devices = swap_devices(prog)
        swap_total = sum(d.pages for d in devices)
        swap_used = sum(d.inuse_pages for d in devices)
    limit = used = None
    if prog.has_symbol("sysctl_overcommit_memory"):
        kbytes = 0
        if prog.has_symbol("sysctl_overcommit_kbytes"):
            kbytes = prog.read_u64(prog.symbol_address("sysctl_overcommit_kbytes"))
        if kbytes:
            limit = kbytes >> ((page.bit_length() - 1) - 10)
        elif huge is not None:
            ratio = int.from_bytes(
                prog.read(prog.symbol_address("sysctl_overcommit_ratio"), 4), "little", signed=True
            )
            limit = (total - huge[0]) * ratio // 100
        if limit is not None:
            limit += swap_total or 0
            used = committed(prog)
    return MemInfo(
        total=total,
        free=free_pages(prog),
        shared=shared_pages(prog),
        buffers=buffers,
        cached=max(cached, 0),
        cached_raw=cached,
        slab=slab,
        huge_total=huge[0] if huge else None,
        huge_free=huge[1] if huge else None,
        swap_total=swap_total,
        swap_used=swap_used,
        commit_limit=limit,
        committed=used,
        page_size=page,
    )
