"""kmem: kernel memory. The summary (-i) is here; the page options (-p, -m, -g, -f, -F, -c, -C, -l, -L and
the page part of `kmem <address>`) are in kmem_pages.py; the other options answer one line."""

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
  -I only qualify the others.  Options not listed here are not built yet in
  crashpy and answer so in one line.

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
        to decode.  Alone, what crashpy knows of the address: the free block
        holding its page, then that page's memory-map line.

EXAMPLES
  The memory summary (its first lines, after the column header):

    crash> kmem -i
    ...
        TOTAL MEM   120263     469.8 MB         ----
             FREE   112589     439.8 MB   93% of TOTAL MEM
             USED     7674        30 MB    6% of TOTAL MEM
    ...

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
    """`kmem --json -i`: the rows of the memory summary (pages, bytes, percentage and its base); with\n    -p, -f, -F or -g the page options' rows (kmem_pages.document)."""
    parsed = parse(argv)
    if parsed.opts and all(opt in "pfFgP" for opt, _ in parsed.opts):  # the page options' rows
        from crashpy.commands import kmem_pages

        values = [htoll(a) for a in parsed.args]
        if any(v is None for v in values):
            raise CommandError(f"invalid address: {' '.join(parsed.args)}")
        return kmem_pages.document(session, flags_given(parsed), [v for v in values if v is not None])
    reject_options(parsed, "i")
    no_arguments(parsed.args)
    if not parsed.has("i"):
        raise CommandError("only -i is supported with --json")
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
    others = sorted(flags - {"i", "P", "I"} - set(kmem_pages.OPTIONS))
    if others:
        raise CommandError(f"-{others[0]} is not available in crashpy yet")
    if flags & set(kmem_pages.OPTIONS) or addresses:
        values = []
        for arg in addresses:
            notes: list[str] = []
            value = htoll(arg, notes)
            if value is None:
                raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
            values.append(value)
        kmem_pages.run(session, flags, values, members, lru)
        return
    show_meminfo(session)
