"""kmem: kernel memory. The summary (-i) is here; the SLUB options are in kmem_slab.py, -v, -V, -n, -z,
-o and -h in kmem_zones.py, the page options (-p, -m, -g, -f, -F, -c, -C, -l, -L) in kmem_pages.py, and
`kmem <address>` (what an address is) in kmem_search.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import no_arguments, reject_options
from crashpy.errors import CommandError
from crashpy.helpers import meminfo
from crashpy.helpers.numbers import Options, getopt, hexadecimal, htoll

if TYPE_CHECKING:
    from crashpy.session import Session

SYNOPSIS = (
    "kmem [-f|-F|-c|-C|-i|-v|-V|-n|-z|-o|-h] [-p | -m member[,member]]\n"
    "       [[-s|-S|-S=cpu[s]|-r] [slab] [-I slab[,slab]]] [-g [flags]] [[-P] address]]"
)
# crash's getopt string for kmem is "gI:sS::rFfm:pvczCinl:L:PVoh"; -S's optional "=cpu" is cut off
# before parsing (this getopt has no optional arguments).
OPTSTRING = "gI:sSrFfm:pvczCinl:L:PVoh"
# The options that take no address argument (crash: "no address arguments allowed with this option").
NO_ADDRESS = set("znihFCLVohr")

HELP = f"""\
NAME
  kmem - kernel memory

SYNOPSIS
  {SYNOPSIS}

DESCRIPTION
  Reports on the kernel's memory.  One of the options below at a time; -P and
  -I only qualify the others.

    -f  the buddy allocator's free lists: for each node and zone, its size, free
        pages and first page, then every order and migrate type's list with the
        blocks and pages it holds; at the end the free page count, checked
        against what the lists add up to.
    -F  the same walk, naming the first struct page of every free block.
    -c  the page cache hash table, which kernels since 2.6 no longer have: the
        option says it does not apply.
    -C  as -c, with every page of the table (does not apply either).
    -i  a table of the kernel's memory counters in pages, in bytes and as a share of
        all memory: total, free and used memory, pages used more than once, block
        device buffers, the page cache, slab pages, huge pages, swap space, and the
        overcommit limit with what is committed against it.
    -v  every vmalloc area in use, lowest first: its struct vmap_area, its struct
        vm_struct, the virtual range it spans and its length in bytes.  With
        addresses, only the areas that hold them (a physical address: the areas
        with a page mapped to it; -P takes every address as physical).
    -V  the kernel's global page counters by name (per zone kind, per node, and
        NUMA ones where the kernel keeps them), then the event counters of every
        CPU added together.
    -n  each memory node: its page count, its struct pglist_data, the addresses of
        its zones, where its page structs begin, and a line per zone; then every
        present memory section with its encoded and real page-struct address and
        its state letters (P present, M has a mem_map, O online, E early, D device),
        and the memory blocks the kernel registered, with range, node and state.
    -z  every zone of every node: size (and present pages when fewer), the
        min/low/high watermarks, and the zone's own page counters.
    -o  the offset of each CPU's per-CPU area.
    -h  each huge page size the kernel set up: its struct hstate, the page size,
        how many pages are free and how many exist, and its name.

    -s  one line per slab cache (SLUB): the kmem_cache address, the size of one
        object, how many objects are handed out and how many the cache's slabs hold,
        the number of slabs, the size of one slab and the cache's name.  A cache name,
        or a kmem_cache address, limits it to that cache; the argument "list" prints
        only addresses and names.  With the address of anything else, the line of the
        cache holding it, then its slab and the object the address falls in: shown
        "[in brackets]" while handed out, plain while free.
    -S  like -s, and then, for each cache, every CPU's kmem_cache_cpu with its current
        slab and its per-CPU partial slabs (every object marked free or in use; free
        objects on a CPU's lockless freelist are tagged with that CPU), then every
        node's kmem_cache_node with its slab counts and its partial and full lists.
  -S=cpuspec
        -S for the CPUs named only ("1", "0,2", "1-3", "a" for all).
    -I cache[,cache]
        with -s or -S, leave the named caches out (their lines say "[IGNORED]").
    -r  the root caches of kernels that keep memory-cgroup child caches (before
        Linux 5.9); other kernels answer that the option does not apply.

    -p  one line for every struct page of the memory map: its address, the physical
        page it stands for, its mapping, index and reference count, and its flags
        in hexadecimal followed by their names.
    -m member[,member]
        the memory map again, each page's line showing only the struct page members
        named (members of members written with a dot, as lru.next).
    -l a|i|ic|id
        the global active, inactive, inactive clean or inactive dirty page list of
        2.4 kernels; later kernels keep these per node and cgroup, and the option
        names the list the kernel lacks.
    -L a|i|ic|id
        as -l, listing each page of the list.
    -g  the page flag bits of the kernel's enum pageflags with their values; with
        a value, only the flags it has set.
    -P  take the address arguments as physical addresses.
    address
        with -p or -m, the memory-map line of the page holding the address (a
        struct page address, a kernel virtual address or a physical address); with
        -f, the free block that page belongs to, if any; with -g, a flags value
        to decode.  Alone, everything kmem knows of the address: the kernel or
        module symbol there, the task whose stack or task_struct holds it, the
        vmalloc area, the slab cache, slab and object (in brackets while handed
        out), the free block holding its page, and that page's memory-map line.

EXAMPLES
  The memory summary (its first lines, after the column header):

    crash> kmem -i
    ...
        TOTAL MEM   120263     469.8 MB         ----
             FREE   112589     439.8 MB   93% of TOTAL MEM
             USED     7674        30 MB    6% of TOTAL MEM
    ...

  Where an object lies: its cache's line (after the column header), its slab, and
  the object itself, in brackets as it is in use:

    crash> kmem -s ffff8880052ec4c8
    ...
    ffff88800537da00     1200          6        26      2    16k  RAWv6
      SLAB              MEMORY            NODE  TOTAL  ALLOCATED  FREE
      ffffea000014bb00  ffff8880052ec000     0     13          5     8
      FREE / [ALLOCATED]
      [ffff8880052ec4c0]

  The struct page of a physical address:

    crash> kmem -p 1000
          PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS
    ffffea0000000040     1000                0        0  1 7ffffc0001000 reserved

  Which free block a physical address lies in:

    crash> kmem -f 570b000
    ZONE  NAME        SIZE    FREE      MEM_MAP       START_PADDR  START_MAPNR
      1   DMA32     126944  108781  ffffea0000040000    1000000        4095
    AREA    SIZE  FREE_AREA_STRUCT
      1       8k  ffff88801fe25758
    ffffea000015c280  (570b000 is 2nd of 2 pages)

  Two members of one page, then what a flags value holds:

    crash> kmem -m flags,_refcount 1000
          PAGE        flags  _refcount
    ffffea0000000040  0007ffffc0001000  00000001
    crash> kmem -g 7ffffc0001000
    FLAGS: 7ffffc0001000
      PAGE-FLAG              BIT  VALUE
      PG_reserved             12  0001000
"""

HEADER = "                 PAGES        TOTAL      PERCENTAGE"


def usage() -> str:
    return f'Usage:\n  {SYNOPSIS}\nEnter "help kmem" for details.\n'


def pages_to_size(pages: int, page_size: int) -> str:
    """crash's pages_to_size: "0", "<n> KB", "<x.y> MB" or "<x.y> GB" with a ".0" dropped."""
    if pages == 0:
        return "0"
    total = pages * page_size
    if total >= 1 << 30:
        text = f"{total / (1 << 30):.1f} GB"
    elif total >= 1 << 20:
        text = f"{total / (1 << 20):.1f} MB"
    else:
        return f"{total // 1024} KB"
    return text.replace(".0 ", " ", 1)


@dataclass(frozen=True)
class Row:
    """One line of the table: a name, pages, and the line it is a percentage of (None: "----")."""

    name: str
    pages: int
    of: str | None = None  # "TOTAL MEM", "TOTAL HUGE", "TOTAL SWAP", "TOTAL LIMIT"
    percent: int = 0

    def text(self, page_size: int) -> str:
        size = pages_to_size(self.pages, page_size)
        if self.of is None:
            return f"{self.name:>13}  {self.pages:7d}  {size:>11}         ----"
        return f"{self.name:>13}  {self.pages:7d}  {size:>11}  {self.percent:3d}% of {self.of}"

    def json(self, page_size: int) -> dict[str, Any]:
        return {
            "name": self.name,
            "pages": self.pages,
            "bytes": self.pages * page_size,
            "percent": None if self.of is None else self.percent,
            "of": self.of,
        }


def pct(part: int, whole: int) -> int:
    """crash's (part * 100) / whole in C's integer division (truncating toward zero)."""
    if whole == 0:
        return 0
    q = abs(part * 100) // abs(whole)
    return q if (part >= 0) == (whole > 0) else -q


def meminfo_groups(info: meminfo.MemInfo) -> list[list[Row]]:
    """The table's groups of rows, as `kmem -i` separates them with blank lines."""
    total = info.total
    groups = [
        [
            Row("TOTAL MEM", total),
            Row("FREE", info.free, "TOTAL MEM", pct(info.free, total)),
            Row("USED", info.used, "TOTAL MEM", pct(info.used, total)),
            Row("SHARED", info.shared, "TOTAL MEM", pct(info.shared, total)),
            Row("BUFFERS", info.buffers, "TOTAL MEM", pct(info.buffers, total)),
            Row("CACHED", info.cached, "TOTAL MEM", pct(info.cached, total)),
            Row("SLAB", info.slab, "TOTAL MEM", pct(info.slab, total)),
        ]
    ]
    if info.huge_total is not None and info.huge_free is not None:
        hfree = info.huge_free
        groups.append(
            [
                Row("TOTAL HUGE", info.huge_total),
                Row("HUGE FREE", hfree, "TOTAL HUGE", pct(hfree, info.huge_total) if hfree else 0),
            ]
        )
    if info.swap_total is not None and info.swap_used is not None:
        st, su = info.swap_total, info.swap_used
        groups.append(
            [
                Row("TOTAL SWAP", st),
                Row("SWAP USED", su, "TOTAL SWAP", pct(su, st)),
                Row("SWAP FREE", st - su, "TOTAL SWAP", pct(st - su, st)),
            ]
        )
    else:
        groups.append([])
    if info.commit_limit is not None and info.committed is not None:
        limit, used = info.commit_limit, info.committed
        if limit:
            groups.append(
                [Row("COMMIT LIMIT", limit), Row("COMMITTED", used, "TOTAL LIMIT", pct(used, limit))]
            )
        else:
            groups.append([Row("COMMIT LIMIT", limit), Row("COMMITTED", used)])
    return groups


def show_meminfo(session: Session) -> None:
    info = meminfo.meminfo(session.prog)
    lines = [HEADER]
    for k, group in enumerate(meminfo_groups(info)):
        if k:
            lines.append("")
        for row in group:
            if row.name == "CACHED" and info.cached_raw < 0:
                lines.append(f"kmem: page_cache_size went negative ({info.cached_raw}), setting to 0")
            lines.append(row.text(info.page_size))
    session.println("\n".join(lines))


def parse(argv: list[str]) -> Options:
    return getopt(["-S" if a.startswith("-S=") else a for a in argv], OPTSTRING)


def kmem_document(session: Session, argv: list[str]) -> dict[str, Any]:
    """`kmem --json -i`: the rows of the memory summary (pages, bytes, percentage and its base); with
    -p, -f, -F or -g the page options' rows (kmem_pages.document); -v, -V, -n, -z, -o and -h: the rows
    of kmem_zones.py's tables; -s: kmem -s's cache rows."""
    parsed = parse(argv)
    if parsed.opts and all(opt in "pfFgP" for opt, _ in parsed.opts):  # the page options' rows
        from crashpy.commands import kmem_pages

        values = [htoll(a) for a in parsed.args]
        if any(v is None for v in values):
            raise CommandError(f"invalid address: {' '.join(parsed.args)}")
        return kmem_pages.document(session, flags_given(parsed), [v for v in values if v is not None])
    reject_options(parsed, "ivVnzohsI")
    no_arguments(parsed.args)
    if parsed.has("s"):
        if parsed.has("i") or any(parsed.has(f) for f in "vVnzoh"):
            raise CommandError("only one flag allowed!")
        from crashpy.commands import kmem_slab

        return kmem_slab.slab_document(session, next((v for o, v in parsed.opts if o == "I"), None))
    zone_flags = [opt for opt, _ in parsed.opts if opt in "vVnzoh"]
    if zone_flags and not parsed.has("i"):
        from crashpy.commands.kmem_zones import document

        return document(session, zone_flags[-1])
    if not parsed.has("i"):
        raise CommandError("only -i, -s, -v, -V, -n, -z, -o and -h are supported with --json")
    info = meminfo.meminfo(session.prog)
    return {
        "page_size": info.page_size,
        "rows": [row.json(info.page_size) for group in meminfo_groups(info) for row in group],
    }


# Options that clear each other (the last one given counts), as crash's cmd_kmem sets its flags.
EXCLUSIVE = {"s": "Sr", "S": "sr", "r": "sS", "c": "C", "C": "c", "f": "F", "F": "f", "l": "L", "L": "l"}
# The flags of which crash allows only one ("only one flag allowed!"); -m counts as -p.
ONE_OF = "sSpfFVovCcilLghr"


def flags_given(parsed: Options) -> set[str]:
    """The kmem flags left set after crash's option loop."""
    flags: set[str] = set()
    for opt, _ in parsed.opts:
        opt = "p" if opt == "m" else opt
        flags -= set(EXCLUSIVE.get(opt, ""))
        flags.add(opt)
    return flags


@command("kmem", summary="kernel memory", help=HELP, json=kmem_document)
def cmd_kmem(session: Session, argv: list[str]) -> None:
    from crashpy.commands import kmem_slab
    from crashpy.helpers.sysinfo import crash_cpu_count

    argv, cpus = kmem_slab.cpu_selection(argv, crash_cpu_count(session.prog))
    from crashpy.commands import kmem_pages

    parsed = parse(argv)
    errors = iter(parsed.errors)
    members = None
    lru: set[str] = set()
    argerrs = 0
    for opt, optarg in parsed.opts:  # crash reports each option's problem as its getopt loop meets it
        if opt == "?":
            session.println(f"kmem: {next(errors)}")
            argerrs += 1
        elif opt == "m":
            members = kmem_pages.page_members(session.prog, optarg or "")
        elif opt in "lL":
            if optarg in kmem_pages.LRU_LISTS:
                lru.add(optarg or "")
            else:
                argerrs += 1
    if argerrs:
        session.write(usage())
        return
    flags = flags_given(parsed)
    if len(flags & set(ONE_OF)) > 1:
        session.println("kmem: only one flag allowed!")
        session.write(usage())
        return
    addresses: list[str] = []
    names: list[str] = []
    for arg in parsed.args:
        if hexadecimal(arg):
            addresses.append(arg)
            continue
        if names:
            raise CommandError("only one kmem_cache reference is allowed")
        names.append(arg)
        if not flags & set("sSr"):
            session.write(usage())
            return
    if addresses and flags & NO_ADDRESS:
        session.println("kmem: no address arguments allowed with this option")
        session.write(usage())
        return
    if not flags - {"P", "I"} and not addresses:  # -P and -I only qualify the others
        session.write(usage())
        return
    values = []
    for arg in addresses:
        notes: list[str] = []
        value = htoll(arg, notes)
        if value is None:
            raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
        values.append(value)
    if flags & set("sSr"):
        kmem_slab.run(
            session, flags, names, values, next((v for o, v in reversed(parsed.opts) if o == "I"), None), cpus
        )
        return
    if values and not flags - {"P", "I"}:  # what each address is
        from crashpy.commands.kmem_search import kmem_search

        for i, value in enumerate(values):
            session.write(("\n" if i else "") + kmem_search(session, value, "P" in flags))
        return
    if flags & set(kmem_pages.OPTIONS):
        kmem_pages.run(session, flags, values, members, lru)
        return
    if values:  # -v address...: the areas holding each address, one header for all
        from crashpy.commands.kmem_zones import VmlistLookup

        lookup = VmlistLookup()
        for value in values:
            physical = "P" in flags or not session.prog.is_kvaddr(value)
            session.write(lookup.text(session.prog, value, physical))
    for flag in BUILT:  # in the order crash prints them
        if flag in flags and not (flag == "v" and values):
            if flag == "i":
                show_meminfo(session)
            else:
                session.write(BUILT[flag](session))


def _zones(name: str) -> Any:
    """A `kmem -<flag>` renderer of commands/kmem_zones.py (imported on first use)."""

    def run(session: Session) -> str:
        from crashpy.commands import kmem_zones

        fn = getattr(kmem_zones, name)
        return str(fn(session) if name in ("offsets_text", "hstates_text") else fn(session.prog))

    return run


# The options built so far, in the order crash's cmd_kmem prints them.
BUILT: dict[str, Any] = {
    "i": None,
    "h": _zones("hstates_text"),
    "v": _zones("vmlist_text"),
    "n": _zones("nodes_text"),
    "z": _zones("zones_text"),
    "V": _zones("vm_stat_text"),
    "o": _zones("offsets_text"),
}
