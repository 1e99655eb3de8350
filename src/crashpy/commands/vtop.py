"""vtop: a virtual address's whole page-table walk; pte: what a page-table entry holds.

The walk comes from the memory layers (Program.kernel / Program.user_memory: translate()); this
module only lays it out as crash's x86_64 vtop does (memory.c do_vtop, x86_64.c x86_64_kvtop,
x86_64_uvtop_level4, x86_64_translate_pte) and renders the same rows as JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring
from crashpy.errors import CommandError, FaultError
from crashpy.helpers.numbers import getopt, htoll
from crashpy.helpers.pages import (
    InvalidSection,
    PageInfo,
    flags_text,
    max_pfn,
    page_flag_list,
    page_info,
    phys_to_page,
)
from crashpy.helpers.swap import swap_location
from crashpy.helpers.tasks import TaskContext, str_to_context
from crashpy.helpers.vma import Vma, find_vma
from crashpy.memory import TableEntry, Translation
from crashpy.object import Object

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16
UVADDR_PRLEN = 10
PHYS_MASK = 0x000FFFFFFFFFF000  # PHYSICAL_PAGE_MASK
PAGE_OFFSET_MASK = 0xFFF

# x86_64 page-table entry bits, in the order crash names them
PRESENT, RW, USER, PWT, PCD, ACCESSED, DIRTY, PSE = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80
GLOBAL = PROTNONE = 0x100
NX = 1 << 63
_FLAG_NAMES = (
    (PRESENT, "PRESENT"),
    (RW, "RW"),
    (USER, "USER"),
    (PWT, "PWT"),
    (PCD, "PCD"),
    (ACCESSED, "ACCESSED"),
    (DIRTY, "DIRTY"),
)

HELP = """\
NAME
  vtop - virtual to physical

SYNOPSIS
  vtop [-c [pid | taskp]] [-u|-k] address ...

DESCRIPTION
  Follows each address through the page tables to the physical page and
  shows every step of the way: the table entry read at each level (PGD,
  P4D with 5-level paging, PUD, PMD, PTE), the size of the page reached,
  the bits of the last entry by name, the memory area a user address lies
  in, and the struct page of the physical page with its flags.  An address
  below the kernel's half is a user address of the current context, unless
  -c names another task.

    -u               take the address as a user address.
    -k               take the address as a kernel address.
    -c [pid | taskp] walk the page tables of this task (a pid, or a task_struct
                     address in hexadecimal) instead of the current context's.
    address          a virtual address in hexadecimal.

EXAMPLES
  A page of the direct map, reached through a 2 MB page:

    crash> vtop ffff888003df8000
    VIRTUAL           PHYSICAL
    ffff888003df8000  3df8000

    PGD DIRECTORY: ffffffff82a10000
    PAGE DIRECTORY: 3801067
       PUD: 3801000 => 3802067
       PMD: 38020f0 => 8000000003c001e3
      PAGE: 3c00000  (2MB)

          PTE         PHYSICAL  FLAGS
    8000000003c001e3   3c00000  (PRESENT|RW|ACCESSED|DIRTY|PSE|GLOBAL|NX)

          PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS
    ffffea00000f7e00  3df8000 ffff888003db6400        0  1 fffffc0010200 slab,head
"""

PTE_HELP = """\
NAME
  pte - translate a page table entry

SYNOPSIS
  pte contents ...

DESCRIPTION
  Decodes each hexadecimal page-table entry value: the physical page it
  points to and the names of its bits.  An entry that is not present but
  not zero holds a swap location instead.

EXAMPLES
    crash> pte 8000000003df8063
          PTE         PHYSICAL  FLAGS
    8000000003df8063   3df8000  (PRESENT|RW|ACCESSED|DIRTY|NX)
"""


class SwapLocationError(CommandError):
    """A not-present entry whose swap location crashpy cannot name (crash's words)."""

    def __init__(self, printed: str) -> None:
        super().__init__("cannot determine swap location")
        self.printed = printed  # what crash printed before the error line


def pte_present(pte: int) -> bool:
    return bool(pte & (PRESENT | PROTNONE))


def pte_flag_names(pte: int) -> list[str]:
    """The names crash gives the bits of entry `pte`, in its order."""
    names = [name for bit, name in _FLAG_NAMES if pte & bit]
    if pte & PSE and pte & PRESENT:
        names.append("PSE")
    if pte & PROTNONE and not pte & PRESENT:
        names.append("PROTNONE")
    if pte & GLOBAL:
        names.append("GLOBAL")
    if pte & NX:
        names.append("NX")
    return names


def pte_text(pte: int, swap: str | None = None, phys_mask: int = PHYS_MASK) -> str:
    """crash's x86_64_translate_pte() table for entry `pte`; a not-present entry that is not zero
    shows its swap location `swap` ("<device>  OFFSET: <n>", helpers/swap.py), and one crash cannot
    split into those three words raises SwapLocationError. `phys_mask`: pte_phys_mask()."""
    ptebuf = f"{pte:x}"
    len1 = max(len(ptebuf), 3)
    head = mkstring("PTE", len1, "cl") + "  "
    if not pte_present(pte) and pte:
        words = swap.split() if swap else []
        if len(words) != 3:
            raise SwapLocationError(head)
        device, offset = words[0], words[2]
        len2, len3 = max(len(device), 4), max(len(offset), 6)
        return (
            f"{head}{mkstring('SWAP', len2, 'cl')}  {mkstring('OFFSET', len3, 'cl')}\n"
            f"{mkstring(ptebuf, len1, 'cr')}  {mkstring(device, len2, 'cr')}  {mkstring(offset, len3, 'cr')}\n"
        )
    physbuf = f"{pte & phys_mask:x}"
    len2 = max(len(physbuf), 8)
    flags = "|".join(pte_flag_names(pte)) if pte else "no mapping"
    return (
        f"{head}{mkstring('PHYSICAL', len2, 'cl')}  FLAGS\n"
        f"{mkstring(ptebuf, len1, 'cr')}  {mkstring(physbuf, len2, 'cr')}  ({flags})\n"
    )


def pte_phys_mask(prog: Program) -> int:
    """The physical-address bits crash takes from an entry it prints: the kernel's MAX_PHYSMEM_BITS,
    46 with 4-level paging and 52 with 5-level."""
    return ((1 << (52 if prog.layout.five_level else 46)) - 1) & ~PAGE_OFFSET_MASK


@dataclass
class VtopRow:
    """One address's answer: what vtop prints about it, as data."""

    vaddr: int
    space: str  # "kernel" or "user"
    status: str  # "mapped", "not mapped", "not accessible", "not a kernel virtual address"
    paddr: int | None = None
    pgd_directory: int | None = None  # the kernel walk names its top table by its virtual address
    entries: list[TableEntry] = field(default_factory=list)
    page_base: int | None = None
    page_size: int | None = None
    zero_page: bool = False
    pte: int | None = None  # the last entry read, decoded in the PTE table
    vma: Vma | None = None
    file_offset: int | None = None  # for an unmapped page of a mapped file
    swap: str | None = None  # a swap entry's "<device>  OFFSET: <n>" (helpers/swap.py)
    page: PageInfo | None = None
    warning: str | None = None  # crash's WARNING line where it looks for the page struct


def _zero_paddr(prog: Program) -> int | None:
    def build() -> int | None:
        if not prog.has_symbol("zero_pfn"):
            return None
        return prog.read_u64(prog.symbol_address("zero_pfn")) << 12

    value: int | None = prog.cache("vtop.zero_paddr", build)
    return value


def _walk_rows(prog: Program, row: VtopRow, walk: Translation) -> None:
    """Fill the walk's part of `row` from the memory layer's translation: every entry read, then the
    page reached (its base and size) or the not-present entry that ends the walk."""
    row.entries = list(walk.entries)
    if not walk.entries:
        return
    last = walk.entries[-1]
    if walk.paddr is not None:
        row.page_base = last.value & PHYS_MASK if walk.page_size > 4096 else walk.paddr & PHYS_MASK
        row.page_size = walk.page_size
        row.pte = last.value
    elif last.level.name == "PTE" and last.value:
        row.pte = last.value
        row.swap = swap_location(prog, last.value)


def _page(prog: Program, row: VtopRow) -> None:
    if row.paddr is None:
        return
    try:
        page = phys_to_page(prog, row.paddr)
    except InvalidSection as e:
        row.warning = str(e)
        return
    if page is not None:
        row.page = page_info(prog, page, row.paddr)


def kernel_row(prog: Program, vaddr: int) -> VtopRow:
    """vtop of a kernel address: the kernel's page tables (init_top_pgt)."""
    lay = prog.layout
    if not lay.is_kvaddr(vaddr):
        return VtopRow(vaddr, "kernel", "not a kernel virtual address")
    row = VtopRow(vaddr, "kernel", "not mapped")
    walk = prog.kernel.translate(vaddr)
    if lay.is_mapped_region(vaddr):
        row.paddr = walk.paddr
    else:
        row.paddr = lay.unity_paddr(vaddr, prog.phys_base)
    if row.paddr is not None:
        row.status = "mapped"
    row.pgd_directory = prog.symbol_address("init_top_pgt")
    _walk_rows(prog, row, walk)
    return row


def user_row(prog: Program, tc: TaskContext, vaddr: int) -> VtopRow:
    """vtop of a user address of task `tc`: its mm's page tables, and the memory area it lies in."""
    row = VtopRow(vaddr, "user", "not accessible")
    vma = find_vma(prog, tc.mm, vaddr) if tc.mm else None
    if vma is None:
        return row
    row.vma = vma
    pgd = int(Object(prog, "struct mm_struct", tc.mm).pgd)
    walk = prog.user_memory(pgd).translate(vaddr)
    _walk_rows(prog, row, walk)
    if walk.paddr is not None:
        row.paddr = walk.paddr
        row.status = "mapped"
        row.zero_page = row.page_base == _zero_paddr(prog)
    else:
        row.status = "not mapped"
        if row.pte is None and vma.file:
            vm_pgoff = int(Object(prog, "struct vm_area_struct", vma.address).vm_pgoff)
            row.file_offset = (((vaddr - vma.start) >> 12) + vm_pgoff) << 12
    return row


def _walk_text(prog: Program, row: VtopRow) -> str:
    out: list[str] = []
    entries = row.entries
    if row.space == "kernel" and row.pgd_directory is not None:
        out.append(f"PGD DIRECTORY: {row.pgd_directory:x}\n")
        if entries:
            out.append(f"PAGE DIRECTORY: {entries[0].value:x}\n")
        entries = entries[1:]
    for e in entries:
        out.append(f"   {e.level.name}: {e.address:x} => {e.value:x}\n")
    if row.page_base is not None and row.pte is not None:
        size = row.page_size or 4096
        if size == 1 << 30:
            out.append(f"  PAGE: {row.page_base:x}  (1GB)\n\n")
        elif size == 1 << 21:
            zero = ", ZERO PAGE" if row.space == "user" and row.zero_page else ""
            out.append(f"  PAGE: {row.page_base:x}  (2MB{zero})\n\n")
        elif row.space == "user":
            out.append(f"  PAGE: {row.page_base:x}  {'(ZERO PAGE)' if row.zero_page else ''}\n\n")
        else:
            out.append(f"  PAGE: {row.page_base:x}\n\n")
        out.append(pte_text(row.pte, None, pte_phys_mask(prog)))
    elif row.pte:
        out.append("\n")
        try:
            out.append(pte_text(row.pte, row.swap, pte_phys_mask(prog)))
        except SwapLocationError as e:
            e.printed = "".join(out) + e.printed
            raise
    return "".join(out)


def paddr_width(prog: Program) -> int:
    """The width of the PHYSICAL column: the digits of the top of physical memory (crash's
    PADDR_PRLEN), at least as wide as its title."""
    return max(len(f"{max_pfn(prog) << 12:x}"), len("PHYSICAL"))


PAGE_HEADER = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS\n"


def page_text(prog: Program, info: PageInfo, header: bool = True) -> str:
    """crash's memory-map line for one page (dump_mem_map, one address); crash prints the header once
    per command, above the first page line."""
    count = info.count - (1 << 32) if info.count >> 31 else info.count
    width = paddr_width(prog)
    head = PAGE_HEADER.replace(" PHYSICAL ", f" {'PHYSICAL':>{width}} ")
    return (
        (head if header else "")
        + f"{info.page:<16x} {info.paddr:>{width}x} {info.mapping:>16x} {info.index:>8x} {count:>2d} "
        + flags_text(prog, info.flags)
        + "\n"
    )


def row_text(prog: Program, row: VtopRow, page_header: bool = True) -> str:
    """The text crash prints for one address (without the blank line between addresses); the page
    line's header only with `page_header`."""
    width = UVADDR_PRLEN if row.space == "user" else VADDR_PRLEN
    out = [mkstring("VIRTUAL", width, "l") + "  " + mkstring("PHYSICAL", VADDR_PRLEN, "l") + "\n"]
    if row.status == "not a kernel virtual address":
        out.append(f"{row.vaddr:<8x}  (not a kernel virtual address)\n\n")
        return "".join(out)
    first = mkstring(f"{row.vaddr:x}", UVADDR_PRLEN if row.space == "user" else VADDR_PRLEN, "l")
    if row.status == "not accessible":
        out.append(f"{first}  (not accessible)\n\n")
        return "".join(out)
    if row.paddr is None:
        out.append(f"{first}  (not mapped)\n\n")
    else:
        out.append(f"{first}  {mkstring(f'{row.paddr:x}', VADDR_PRLEN, 'l')}\n\n")
    try:
        out.append(_walk_text(prog, row))
    except SwapLocationError as e:
        e.printed = "".join(out) + e.printed
        raise
    if row.space == "user" and row.vma is not None:
        v = row.vma
        out.append("\n      VMA           START       END     FLAGS FILE\n")
        out.append(f"{v.address:<16x} {v.start:>10x} {v.end:>10x} {v.flags:x} {v.file}\n")
        if row.swap is not None and row.paddr is None:
            out.append(f"\nSWAP: {row.swap}\n")
        elif row.file_offset is not None:
            out.append(f"\nFILE: {v.file}  OFFSET: {row.file_offset:x}\n")
    out.append("\n")
    if row.warning is not None:
        out.append(f"WARNING: {row.warning}\n")
    if row.page is not None:
        out.append(page_text(prog, row.page, page_header))
    return "".join(out)


@dataclass
class VtopRequest:
    tc: TaskContext  # the -c task, else the current context: its mm translates user addresses
    force: str | None  # "user" (-u), "kernel" (-k) or None
    addresses: list[str]


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "vtop")


def _parse(session: Session, args: list[str]) -> VtopRequest | None:
    parsed = getopt(args, "ukc:")
    argerrs = 0
    for err in parsed.errors:
        session.println(f"vtop: {err}")
        argerrs += 1
    tc: TaskContext | None = None
    flags: set[str] = set()
    for c, optarg in parsed.opts:
        if c == "c":
            kind, _, found = str_to_context(session.task_table(), optarg or "")
            if kind == "invalid" or found is None:
                raise CommandError(f"invalid task or pid value: {optarg}")
            tc = found
        elif c == "u":
            flags.add("user")
        elif c == "k":
            flags.add("kernel")
        else:
            argerrs += 1
    if argerrs or not parsed.args:
        _usage(session)
        return None
    if tc is None:
        tc = session.current_context()
    if len(flags) == 2:
        raise CommandError("-u and -k options are mutually exclusive")
    return VtopRequest(tc, flags.pop() if flags else None, parsed.args)


def _rows(session: Session, req: VtopRequest) -> Iterator[VtopRow]:
    """Each address's row, in order (a generator: a bad address stops the command where crash does)."""
    prog = session.prog
    lay = prog.layout
    for arg in req.addresses:
        notes: list[str] = []
        vaddr = htoll(arg, notes)
        if vaddr is None:
            raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
        space = req.force
        if space is None:
            user, kernel = lay.is_uvaddr(vaddr), lay.is_kvaddr(vaddr)
            if user == kernel:
                raise CommandError(f"ambiguous address: {vaddr:x}  (requires -u or -k)")
            space = "user" if user else "kernel"
        row = user_row(prog, req.tc, vaddr) if space == "user" else kernel_row(prog, vaddr)
        _fill_page(prog, row)
        yield row


@command("pte", summary="translate a page table entry", help=PTE_HELP)
def cmd_pte(session: Session, args: list[str]) -> None:
    parsed = getopt(args, "")
    if parsed.errors:
        for err in parsed.errors:
            session.println(f"pte: {err}")
        from crashpy.commands.help import print_usage

        print_usage(session, "pte")
        return
    for arg in parsed.args:
        notes: list[str] = []
        value = htoll(arg, notes)
        if value is None:
            raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
        try:
            prog = session.prog
            session.write(pte_text(value, swap_location(prog, value), pte_phys_mask(prog)))
        except SwapLocationError as e:
            session.write(e.printed)
            raise


def vtop_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`vtop --json`: the rows the text is made of."""
    req = _parse(session, [a for a in args if a != "--json"])
    if req is None:
        raise CommandError("usage: vtop [-c [pid | taskp]] [-u|-k] address ...")
    return {"translations": [_row_json(session.prog, row) for row in _rows(session, req)]}


def _row_json(prog: Program, row: VtopRow) -> dict[str, Any]:
    def h(value: int | None) -> str | None:
        return None if value is None else hex_address(value)

    doc: dict[str, Any] = {
        "vaddr": h(row.vaddr),
        "space": row.space,
        "status": row.status,
        "paddr": h(row.paddr),
        "pgd_directory": h(row.pgd_directory),
        "entries": [{"level": e.level.name, "address": h(e.address), "value": h(e.value)} for e in row.entries],
        "page": None
        if row.page_base is None
        else {"base": h(row.page_base), "size": row.page_size, "zero_page": row.zero_page},
        "pte": None if row.pte is None else {"value": h(row.pte), "flags": pte_flag_names(row.pte)},
        "vma": None
        if row.vma is None
        else {
            "address": h(row.vma.address),
            "start": h(row.vma.start),
            "end": h(row.vma.end),
            "flags": h(row.vma.flags),
            "file": row.vma.file or None,
        },
        "file_offset": h(row.file_offset),
        "swap": row.swap,
        "warning": row.warning,
        "struct_page": None,
    }
    if row.page is not None:
        p = row.page
        doc["struct_page"] = {
            "address": h(p.page),
            "physical": h(p.paddr),
            "mapping": h(p.mapping),
            "index": h(p.index),
            "count": p.count - (1 << 32) if p.count >> 31 else p.count,
            "flags": h(p.flags),
            "flag_names": page_flag_list(prog, p.flags),
        }
    return doc


@command("vtop", summary="virtual to physical", help=HELP, json=vtop_document)
def cmd_vtop(session: Session, args: list[str]) -> None:
    req = _parse(session, args)
    if req is None:
        return
    prog = session.prog
    header = True
    for i, row in enumerate(_rows(session, req)):
        if i:
            session.write("\n")
        try:
            session.write(row_text(prog, row, header))
            header = header and row.page is None
        except SwapLocationError as e:
            session.write(e.printed)
            raise


def foreach_vtop(
    session: Session, tc: TaskContext, args: list[str], flags: set[str], page_header: bool
) -> bool | None:
    """`foreach ... vtop [-u|-k] address...` for task `tc`: crash's do_vtop() per address, with no blank
    line between addresses and the page header once for the whole foreach run.  Returns whether the
    page header is still to be printed; None after an error, which (as crash's) ends the foreach run."""
    force = "user" if "u" in flags else "kernel" if "k" in flags else None
    req = VtopRequest(tc, force, args)
    try:
        for row in _rows(session, req):
            try:
                session.write(row_text(session.prog, row, page_header))
            except SwapLocationError as e:
                session.write(e.printed)
                raise
            page_header = page_header and row.page is None
    except CommandError as e:
        session.println(f"vtop: {e}")
        session.errors += 1
        return None
    return page_header


def _fill_page(prog: Program, row: VtopRow) -> None:
    if row.status == "mapped":
        try:
            _page(prog, row)
        except FaultError:
            row.page = None
