"""kmem's memory-layout options: -v (vmalloc areas), -V (vm_stat and vm_event counters), -n (nodes,
zones, memory sections and memory blocks), -z (every zone's figures), -o (per-CPU offsets), -h
(hugepage hstates), and the vmalloc part of `kmem address`.  kmem.py dispatches here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.rows import mkstring
from crashpy.errors import CommandError
from crashpy.helpers import mmzone, sysinfo, vmalloc

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16


# ---- -v ------------------------------------------------------------------------------------------------

VMLIST_HEADER = (
    f"{mkstring('VMAP_AREA', VADDR_PRLEN, 'cl')}  {mkstring('VM_STRUCT', VADDR_PRLEN, 'cl')}  "
    f"{mkstring('ADDRESS RANGE', VADDR_PRLEN * 2 + 3, 'cl')}     SIZE"
)


def area_line(area: vmalloc.VmapArea) -> str:
    return f"{area.vmap_area:016x}  {area.vm_struct:016x}  {area.start:16x} - {area.end:<16x}  {area.size:7d}"


def vmlist_text(prog: Program) -> str:
    """`kmem -v`: the header and one line per area."""
    areas, listed = vmalloc.vmap_list(prog)
    return "".join(f"{line}\n" for line in ([VMLIST_HEADER] if listed else []) + [area_line(a) for a in areas])


@dataclass
class VmlistLookup:
    """`kmem -v address...`: crash prints the header once per command, before the first area."""

    header_printed: bool = False

    def text(self, prog: Program, addr: int, physical: bool) -> str:
        areas, listed = vmalloc.vmap_list(prog)
        lines = []
        if listed and not self.header_printed:
            lines.append(VMLIST_HEADER)
            self.header_printed = True
        if physical:
            lines += [area_line(a) for a, _ in vmalloc.areas_mapping(prog, addr)]
        else:
            lines += [area_line(a) for a in areas if a.start <= addr < a.end]
        return "".join(f"{line}\n" for line in lines)


def vmalloc_search(prog: Program, addr: int) -> tuple[str, int] | None:
    """The vmalloc part of `kmem address` for a kernel virtual address: when `addr` is mapped and lies
    in a vmalloc area, (the header, the area's line and a blank line; the physical address the page
    part goes on with), else None."""
    paddr = vmalloc.mapped(prog, addr)
    if paddr is None:
        return None
    area = vmalloc.area_of(prog, addr)
    if area is None:
        return None
    return f"{VMLIST_HEADER}\n{area_line(area)}\n\n", paddr


def phys_to_vmalloc(prog: Program, paddr: int) -> tuple[int, str] | None:
    """For a physical address of `kmem address`: the vmalloc address that maps it and the area's lines
    (header, line, blank line), as crash shows them before the page part; None when no area maps it."""
    hits = vmalloc.areas_mapping(prog, paddr)
    if not hits:
        return None
    return hits[0][1], "".join(
        f"{line}\n" for line in [VMLIST_HEADER] + [area_line(a) for a, _ in hits] + [""]
    )


# ---- -V ------------------------------------------------------------------------------------------------


def stat_lines(items: list[tuple[str, int]], width: int) -> list[str]:
    return [f"{name:>{width}}: {value}" for name, value in items]


def vm_stat_text(prog: Program) -> str:
    """`kmem -V`: the global counters in groups, then the CPUs' vm_event_states summed."""
    groups = mmzone.vm_stat_groups(prog)
    lines: list[str] = []
    if groups:
        width = max((len(name) for g in groups for name, _ in g.items), default=0)
        for k, group in enumerate(groups):
            lines += ([""] if k else []) + [f"  {group.title}:"] + stat_lines(group.items, width)
    events = mmzone.vm_events(prog, sysinfo.crash_cpu_count(prog))
    if events:
        width = max(len(name) for name, _ in events)
        lines += ["", "  VM_EVENT_STATES:"] + stat_lines(events, width)
    return "".join(f"{line}\n" for line in lines)


# ---- -n ------------------------------------------------------------------------------------------------

NODE_HEADER = (
    f"NODE  {mkstring('SIZE', 8, 'c')}  {mkstring('PGLIST_DATA', VADDR_PRLEN, 'cl')}  "
    f"{mkstring('BOOTMEM_DATA', VADDR_PRLEN, 'cl')}  {mkstring('NODE_ZONES', VADDR_PRLEN, 'cl')}"
)
ZONE_HEADER = f"ZONE  NAME         SIZE  {mkstring('MEM_MAP', VADDR_PRLEN, 'cr')}  START_PADDR  START_MAPNR"


def paddr_width(prog: Program) -> int:
    """crash's PADDR_PRLEN: the hex digits of the highest physical address the kernel has."""
    from crashpy.helpers.pages import max_pfn

    page = prog.vmcoreinfo.page_size
    return len(f"{max(max_pfn(prog) * page, sysinfo.memory_bytes(prog)):x}")


def node_lines(prog: Program, node: mmzone.Node) -> list[str]:
    page = prog.vmcoreinfo.page_size
    size = mkstring(str(node.spanned), 8, "cl")
    bootmem = mkstring("----" if node.bootmem is None else f"{node.bootmem:x}", VADDR_PRLEN, "c")
    zones = node.zones
    first = f"{zones[0].address:x}" if zones else ""
    lines = [NODE_HEADER, f" {node.node_id:2d}   {size}  {node.pgdat:016x}  {bootmem}  {first}"]
    indent = " " * (12 + len(size) + VADDR_PRLEN + len(bootmem))
    lines += [f"{indent}{z.address:x}" for z in zones[1:]]
    lines.append(f"{mkstring('MEM_MAP', VADDR_PRLEN, 'cl')}     START_PADDR    START_MAPNR")
    lines.append(
        f"{mkstring(f'{node.mem_map:x}', VADDR_PRLEN, 'c')}  "
        f"{mkstring(f'{node.start_pfn * page:x}', 16, 'cr')}  {mkstring(str(node.start_pfn), 11, 'cr')}"
    )
    lines += ["", ZONE_HEADER]
    for z in zones:
        mem_map = mapnr = 0
        if z.spanned:
            mapnr = z.start_pfn
            mem_map = mmzone.pfn_to_page(prog, z.start_pfn) or 0
        lines.append(
            f" {z.index:2d}   {z.name:<9} {z.spanned:7d}  {mem_map:{VADDR_PRLEN}x}  "
            f"{z.start_pfn * page:11x}  {mapnr:11d}"
        )
    return lines


def section_lines(prog: Program) -> list[str]:
    head = (
        f"NR  {mkstring('SECTION', VADDR_PRLEN, 'cl')}  {mkstring('CODED_MEM_MAP', VADDR_PRLEN, 'cl')}  "
        f"{mkstring('MEM_MAP', VADDR_PRLEN, 'cl')}  STATE PFN"
    )
    lines = [head]
    for s in mmzone.sections(prog):
        lines.append(
            f"{s.nr:2d}  {s.address:016x}  {s.coded_mem_map:16x}  {s.mem_map:16x}  "
            f"{mkstring(s.state, 5, 'c')} {s.pfn:<{VADDR_PRLEN}d}"
        )
    return lines


def block_lines(prog: Program) -> list[str]:
    blocks = mmzone.memory_blocks(prog)
    if blocks is None:
        return []
    width = paddr_width(prog)
    ranged = prog.has_symbol("memory_block_size_probed") or prog.has_member("memory_block", "end_section_nr")
    title = "PHYSICAL RANGE" if ranged else "PHYSICAL START"
    with_nid = prog.has_member("memory_block", "nid")
    if with_nid:
        head = (
            f"{mkstring('MEM_BLOCK', VADDR_PRLEN, 'cl')} {mkstring('NAME', 10, 'c')}   "
            f"{mkstring(title, width * 2 + 2, 'c')}   NODE  STATE   START_SECTION_NO"
        )
    else:
        head = (
            f"{mkstring('MEM_BLOCK', VADDR_PRLEN, 'cl')} {mkstring('NAME', 10, 'c')}   "
            f"{mkstring(title, width * 2, 'c')}    STATE   START_SECTION_NO"
        )
    lines = ["", head]
    for b in blocks:
        if b.end is None or b.end == mmzone.MASK64:
            prange = mkstring(f"{b.start:x}", width * 2 + 3, "c")
        else:
            prange = f"{b.start:>{width}x} - {b.end:>{width}x}"
        state = mkstring(b.state, 7)
        sec = mkstring(str(b.start_section), 12)
        if with_nid:
            nid = mkstring(str(b.nid), 4, "c")
            lines.append(f" {b.address:<16x} {mkstring(b.name, 12, 'c')} {prange} {nid}  {state} {sec}")
        else:
            lines.append(f" {b.address:<16x} {mkstring(b.name, 10, 'c')} {prange}  {state} {sec}")
    return lines


def nodes_text(prog: Program) -> str:
    """`kmem -n`: each node with its zones, then the memory sections and the memory blocks."""
    lines: list[str] = []
    dashes = "-" * len(ZONE_HEADER)
    for k, node in enumerate(mmzone.nodes(prog)):
        if k:
            lines += ["", dashes, ""]
        lines += node_lines(prog, node)
    lines += ["", "-" * 67, ""]
    lines += section_lines(prog)
    lines += block_lines(prog)
    return "".join(f"{line}\n" for line in lines)


# ---- -z ------------------------------------------------------------------------------------------------


def zones_text(prog: Program) -> str:
    """`kmem -z`: every zone of every node, its size, watermarks and vm_stat counters."""
    lines: list[str] = []
    for node in mmzone.nodes(prog):
        for z in node.zones:
            lines.append(f'NODE: {z.node}  ZONE: {z.index}  ADDR: {z.address:x}  NAME: "{z.name}"')
            if not z.spanned:
                lines += ["  [unpopulated]", ""]
                continue
            text = f"  SIZE: {z.spanned}"
            if z.present < z.spanned:
                text += f"  PRESENT: {z.present}"
            lines.append(text + "  MIN/LOW/HIGH: {}/{}/{}".format(*z.watermarks))
            lines.append("  VM_STAT:")
            items = mmzone.zone_vm_stat(prog, z.address)
            width = max((len(name) for name, _ in items), default=0)
            lines += stat_lines(items, width)
            tail = ""  # what older kernels add: the zone's reclaim state and its scanned pages
            if z.all_unreclaimable is not None:
                tail += f"  ALL_UNRECLAIMABLE: {'yes' if z.all_unreclaimable else 'no'}  "
            if z.pages_scanned is not None:
                tail += f"PAGES_SCANNED: {z.pages_scanned}  "
            lines += [tail, ""]
    return "".join(f"{line}\n" for line in lines)


# ---- -o and -h -----------------------------------------------------------------------------------------


def offsets_text(session: Session) -> str:
    """`kmem -o`: __per_cpu_offset[] of each CPU crash counts."""
    from crashpy.commands.mach import cpu_online

    prog = session.prog
    lines = ["PER-CPU OFFSET VALUES:"]
    offsets = prog.percpu_offsets
    for cpu in range(sysinfo.crash_cpu_count(prog)):
        off = offsets[cpu] if cpu < len(offsets) else 0
        mark = " [OFFLINE]" if session.settings.offline_hide and not cpu_online(session, cpu) else ""
        lines.append(f"{'CPU ' + str(cpu):>7}: {off:x}{mark}")
    return "".join(f"{line}\n" for line in lines)


def hstates_text(session: Session) -> str:
    """`kmem -h`: each hstate's page size, free and total huge pages, and name."""
    from crashpy.commands.kmem import pages_to_size

    prog = session.prog
    states = mmzone.hstates(prog)
    if states is None:
        session.println("kmem: hstates[] array does not exist")
        raise CommandError("-h option not supported or applicable on this architecture or kernel")
    page = prog.vmcoreinfo.page_size
    lines = [f"{mkstring('HSTATE', VADDR_PRLEN, 'c')}   SIZE    FREE   TOTAL  NAME"]
    for h in states:
        size = pages_to_size(1 << h.order, page).replace(" ", "", 1)
        lines.append(f"{h.address:x}  {size:>5}  {h.free:>6}  {h.total:>6}  {h.name}")
    return "".join(f"{line}\n" for line in lines)


# ---- --json --------------------------------------------------------------------------------------------


def _hex(value: int) -> str:
    return f"{value:x}"


def document(session: Session, flag: str) -> dict[str, Any]:
    """`kmem --json -v|-V|-n|-z|-o|-h`: the rows the text is made of (addresses as hex strings)."""
    prog = session.prog
    page = prog.vmcoreinfo.page_size
    if flag == "v":
        areas = vmalloc.vmap_areas(prog)
        return {
            "vmap_areas": [
                {"vmap_area": _hex(a.vmap_area), "vm_struct": _hex(a.vm_struct), "start": _hex(a.start),
                 "end": _hex(a.end), "size": a.size}
                for a in areas
            ]
        }  # fmt: skip
    if flag == "V":
        groups = mmzone.vm_stat_groups(prog)
        events = mmzone.vm_events(prog, sysinfo.crash_cpu_count(prog))
        out: dict[str, Any] = {g.title.lower(): dict(g.items) for g in groups}
        out["vm_event_states"] = dict(events)
        return out
    if flag in "nz":
        nodes = []
        for node in mmzone.nodes(prog):
            zones = []
            for z in node.zones:
                row: dict[str, Any] = {
                    "index": z.index, "address": _hex(z.address), "name": z.name, "spanned": z.spanned,
                    "present": z.present, "start_paddr": _hex(z.start_pfn * page),
                    "watermarks": dict(zip(("min", "low", "high"), z.watermarks, strict=True)),
                }  # fmt: skip
                if flag == "z" and z.spanned:
                    row["vm_stat"] = dict(mmzone.zone_vm_stat(prog, z.address))
                zones.append(row)
            nodes.append(
                {"node": node.node_id, "pgdat": _hex(node.pgdat), "spanned": node.spanned,
                 "start_paddr": _hex(node.start_pfn * page), "mem_map": _hex(node.mem_map), "zones": zones}
            )  # fmt: skip
        if flag == "z":
            return {"nodes": nodes}
        blocks = mmzone.memory_blocks(prog) or []
        return {
            "nodes": nodes,
            "sections": [
                {"nr": s.nr, "section": _hex(s.address), "coded_mem_map": _hex(s.coded_mem_map),
                 "mem_map": _hex(s.mem_map), "state": s.state, "pfn": s.pfn}
                for s in mmzone.sections(prog)
            ],
            "memory_blocks": [
                {"memory_block": _hex(b.address), "name": b.name, "start": _hex(b.start),
                 "end": None if b.end is None else _hex(b.end), "node": b.nid, "state": b.state,
                 "start_section": b.start_section}
                for b in blocks
            ],
        }  # fmt: skip
    if flag == "o":
        offsets = prog.percpu_offsets
        cpus = sysinfo.crash_cpu_count(prog)
        return {"per_cpu_offsets": [_hex(offsets[c] if c < len(offsets) else 0) for c in range(cpus)]}
    states = mmzone.hstates(prog)
    if states is None:
        raise CommandError("hstates[] array does not exist")
    return {
        "hstates": [
            {"hstate": _hex(h.address), "page_size": page << h.order, "free": h.free, "total": h.total,
             "name": h.name}
            for h in states
        ]
    }  # fmt: skip
