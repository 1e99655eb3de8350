"""The kernel's vmalloc areas (mm/vmalloc.c): the struct vmap_area entries of vmap_area_list that
carry a struct vm_struct, as `kmem -v` lists them.  Never prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError

if TYPE_CHECKING:
    from crashpy.program import Program

MASK64 = (1 << 64) - 1
VM_VM_AREA = 0x4  # mm/vmalloc.c of the kernels whose vmap_area had flags and purge_list


@dataclass(frozen=True)
class VmapArea:
    """One busy vmalloc area: its struct vmap_area, its struct vm_struct and [start, end)."""

    vmap_area: int
    vm_struct: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


def vmap_areas(prog: Program) -> list[VmapArea]:
    """The busy areas sorted by address, those without a vm_struct left out: vmap_area_list, or every
    vmap_node's busy list (6.9 and later); CommandError (crash's words) for the old vmlist kernels."""
    return vmap_list(prog)[0]


def vmap_list(prog: Program) -> tuple[list[VmapArea], int]:
    """(vmap_areas(prog), how many struct vmap_area the lists hold in all, those without a vm_struct
    too: crash prints its header when there is any)."""

    def build() -> tuple[list[VmapArea], int]:
        if prog.has_symbol("vmap_nodes") and prog.has_member("vmap_node", "busy"):
            # 6.9 and later: each vmap_node's busy list; crash sorts them all by start address
            count = prog.read_u32(prog.symbol_address("nr_vmap_nodes"))
            base = prog.read_u64(prog.symbol_address("vmap_nodes"))
            busy = prog.offsetof("vmap_node", "busy") + prog.offsetof("rb_list", "head")
            size = prog.sizeof("vmap_node")
            lists = [_areas_on(prog, base + i * size + busy) for i in range(count)]
            areas = sorted((a for found, _ in lists for a in found), key=lambda a: a.start)
            return areas, sum(n for _, n in lists)
        if not prog.has_symbol("vmap_area_list") or not prog.has_member("vmap_area", "list"):
            raise CommandError("-v option not supported or applicable on this architecture or kernel")
        return _areas_on(prog, prog.symbol_address("vmap_area_list"))

    return prog.cache("vmalloc.vmap_list", build)  # type: ignore[no-any-return]


def _areas_on(prog: Program, head: int) -> tuple[list[VmapArea], int]:
    """The struct vmap_area entries on the list at `head` that carry a vm_struct (or, on kernels whose
    vmap_area has flags and purge_list, are marked VM_VM_AREA); each read whole once, its list.next
    taken from the same bytes.  Also how many entries the list holds."""
    size = prog.sizeof("vmap_area")
    list_off = prog.offsetof("vmap_area", "list")
    start_off = prog.offsetof("vmap_area", "va_start")
    end_off = prog.offsetof("vmap_area", "va_end")
    vm_off = prog.offsetof("vmap_area", "vm")
    by_flags = prog.has_member("vmap_area", "flags") and prog.has_member("vmap_area", "purge_list")
    flags_off = prog.offsetof("vmap_area", "flags") if by_flags else 0
    out: list[VmapArea] = []
    seen: set[int] = set()
    entry = prog.read_u64(head)
    while entry != head and entry not in seen:
        seen.add(entry)
        va = (entry - list_off) & MASK64
        raw = prog.read(va, size, what="vmap_area struct")

        def word(off: int, raw: bytes = raw) -> int:
            return int.from_bytes(raw[off : off + 8], "little")

        entry = word(list_off)
        if by_flags:
            if word(flags_off) != VM_VM_AREA:
                continue
        elif not word(vm_off):
            continue
        out.append(VmapArea(va, word(vm_off), word(start_off), word(end_off)))
    return out, len(seen)


def area_of(prog: Program, addr: int) -> VmapArea | None:
    """The area whose [start, end) holds kernel virtual address `addr`."""
    for area in vmap_areas(prog):
        if area.start <= addr < area.end:
            return area
    return None


def areas_mapping(prog: Program, paddr: int) -> list[tuple[VmapArea, int]]:
    """(area, virtual address) of each area with a page mapped to physical address `paddr`, in area
    order, the first such page of each area: crash translates every page of every area.  The map from
    physical page to areas is built once per dump."""
    page = prog.vmcoreinfo.page_size

    def build() -> dict[int, list[tuple[VmapArea, int]]]:
        pages: dict[int, list[tuple[VmapArea, int]]] = {}
        for area in vmap_areas(prog):
            for v in range(area.start, area.end, page):
                try:
                    p = prog.kvtop(v) & ~(page - 1)
                except FaultError:
                    continue
                hits = pages.setdefault(p, [])
                if not hits or hits[-1][0] is not area:
                    hits.append((area, v))
        return pages

    by_page: dict[int, list[tuple[VmapArea, int]]] = prog.cache("vmalloc.by_physical_page", build)
    offset = paddr & (page - 1)
    return [(area, v + offset) for area, v in by_page.get(paddr & ~(page - 1), [])]


def mapped(prog: Program, addr: int) -> int | None:
    """The physical address `addr` translates to, None when it does not."""
    try:
        return prog.kvtop(addr)
    except FaultError:
        return None


def area_ranges(prog: Program) -> list[tuple[int, int]]:
    """[start, end) of each busy area with a vm_struct, by address (what `search` walks of vmalloc
    space); empty when the kernel's lists cannot be read or it keeps the old vmlist."""
    try:
        return [(a.start, a.end) for a in vmap_areas(prog)]
    except (CommandError, FaultError):
        return []
