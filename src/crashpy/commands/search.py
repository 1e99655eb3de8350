"""search: find values (64-, 32- or 16-bit, under a mask) or strings in kernel virtual, user virtual or
physical memory, or in the tasks' kernel stacks.

The places searched and the order they are visited follow crash's cmd_search (memory.c): the kernel's
ranges (direct map, vmalloc areas, memmap, kernel image) one after the other, a page that cannot be
translated, has no struct page or cannot be read skipped without a word.  The memory comes in large
pieces from memory/scan.py and is matched with bytes.find, never a word at a time in Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crashpy.arch.x86_64 import PAGE_SIZE, START_KERNEL_MAP
from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address
from crashpy.errors import CommandError, FaultError
from crashpy.helpers.numbers import can_eval, dtoi, eval_expression, getopt, htol, htoll, stol
from crashpy.helpers.pages import max_pfn
from crashpy.helpers.tasks import TaskContext
from crashpy.memory.scan import mapped_runs, readable_chunks

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  search - search memory

SYNOPSIS
  search [-s start] [ -[kKV] | -u | -p | -t | -T ] [-e end | -l length] [-m mask]
         [-x count] -[cwh] [value | (expression) | symbol | string] ...

DESCRIPTION
  Looks through a stretch of memory for each value given and shows where it
  is found, as "address: value".  A value may be a hexadecimal number, a
  symbol (its address is looked for) or an expression in parentheses; with
  -c it is a string.  Pages that are not mapped, not in the dump or cut off
  are passed over.

    -s start   begin at this address or symbol; the default is the start of
               the space searched.
    -e end     stop before this address or symbol.
    -l length  search this many bytes from the start.
    -k         kernel virtual memory: the direct map, the vmalloc areas (the
               modules among them), the page array and the kernel image, in
               that order (the default).
    -K         like -k, but only the direct map and the kernel image.
    -V         like -k, but without the direct map and the kernel image.
    -u         the user memory of the current context.
    -p         physical memory.
    -t         the kernel stack of every task, each task named before its
               first hit.
    -T         like -t, for the tasks active on a cpu only.
    -m mask    bits set in the mask are not compared.
    -x count   show count values of the memory before and after each hit.
    -c         the values are strings; each hit shows the text from there on.
    -w         compare 32-bit values.
    -h         compare 16-bit values.

EXAMPLES
  Where the address of init_task is kept, within one page:

    crash> search -s ffff888002a03000 -l 0x1000 init_task
    ffff888002a03de0: ffffffff82a1aa40 (init_task)
    ffff888002a03e20: ffffffff82a1aa40 (init_task)

  A string in the kernel image:

    crash> search -c -s linux_banner -l 0x40 "Linux version"
    ffffffff8211ffe0: Linux version 6.1.0-56-cloud-amd
"""

SEARCH_ULONG, SEARCH_UINT, SEARCH_USHORT, SEARCH_CHARS = 8, 4, 2, 0
CHARS_CTX = 56
VADDR_PRLEN = 16
_OR_TABLES: dict[int, bytes] = {}
_PRINTABLE = bytes(b if 0x20 <= b < 0x7F else 0x2E for b in range(256))


@dataclass
class Hit:
    """One match: where, what was there (a number, or the text shown for a string), which value it
    answers and, for -t/-T, the task whose stack holds it."""

    address: int
    value: int | None
    text: str | None
    name: str  # crash's "(symbol)" note, "" without one
    task: TaskContext | None = None
    first_of_task: bool = False
    task_index: int = 0


@dataclass
class Request:
    mode: int = SEARCH_ULONG
    space: str = "kernel"  # kernel, user, physical, stacks
    start: int = 0
    end: int = 0
    mask: int = 0
    context: int = 0
    values: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    strings: list[bytes] = field(default_factory=list)
    skip_unity: bool = False  # -V
    skip_mapped: bool = False  # -K
    active_only: bool = False  # -T
    notes: list[str] = field(default_factory=list)  # crash's INFO lines, printed before the hits


class _Usage(Exception):
    """Bad arguments: crash's INFO line (if any), then the usage."""

    def __init__(self, line: str = "") -> None:
        super().__init__(line)
        self.line = line


# ---- arguments ---------------------------------------------------------------------------------------


def _address(prog: Program, arg: str) -> int:
    from crashpy.symbols.crash_view import crash_symtab

    value = crash_symtab(prog).value_of(arg)
    if value is not None:
        return value
    notes: list[str] = []
    found = htoll(arg, notes)
    if found is None:
        raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
    return found


def _value(prog: Program, arg: str) -> tuple[int, bool]:
    """A value argument and whether crash keeps its spelling as the hit's note."""
    from crashpy.symbols.crash_view import crash_symtab

    table = crash_symtab(prog)
    if can_eval(arg):
        notes: list[str] = []
        value = eval_expression(arg, table.value_of, notes)
        if value is None:
            raise CommandError(notes[-1] if notes else f"invalid expression: {arg}")
        return value, True
    sym = table.value_of(arg)
    if sym is not None:
        return sym, True
    notes = []
    found = htol(arg, notes)
    if found is None:
        raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
    return found, False


def _note(arg: str) -> str:
    return arg if arg.startswith("(") else f"({arg})"


def parse(session: Session, args: list[str]) -> Request:
    """crash's argument checks, in its order; CommandError for its fatal lines, _Usage for the rest."""
    prog = session.prog
    parsed = getopt(args, "Ttl:ukKVps:e:v:m:hwcx:")
    req = Request()
    memtype = ""
    start = end = length = 0
    sflag = tflag = 0
    argerrs = len(parsed.errors)
    for err in parsed.errors:
        session.println(f"search: {err}")
    for opt, val in parsed.opts:
        if opt == "u":
            tc = session.current_context()
            if tc.is_kernel_thread or not tc.mm:
                raise CommandError("current context has no user address space")
            if not sflag:
                start = _user_start(prog, tc)
            memtype = "user"
            sflag += 1
        elif opt == "p":
            memtype = "physical"
            if not sflag:
                start = 0
            sflag += 1
        elif opt in "kKV":
            if not sflag:
                start = prog.layout.page_offset
            memtype = "kernel"
            sflag += 1
            req.skip_mapped = req.skip_mapped or opt == "K"
            req.skip_unity = req.skip_unity or opt == "V"
        elif opt == "s":
            start = _address(prog, val or "")
            sflag += 1
        elif opt == "e":
            end = _address(prog, val or "")
            if not end:
                raise CommandError("invalid ending address: 0")
        elif opt == "l":
            notes: list[str] = []
            got = stol(val or "", notes)
            if got is None:
                raise CommandError(notes[-1] if notes else f"not a valid number: {val}")
            length = got
        elif opt == "m":
            notes = []
            got = htol(val or "", notes)
            if got is None:
                raise CommandError(notes[-1] if notes else f'invalid input: "{val}"')
            req.mask = got
        elif opt in "hwc":
            if req.mode != SEARCH_ULONG:
                kind = "type" if opt == "c" else "mode"
                session.println(f'search: WARNING: overriding previously set search {kind} with "{opt}"')
            req.mode = {"h": SEARCH_USHORT, "w": SEARCH_UINT, "c": SEARCH_CHARS}[opt]
        elif opt == "x":
            req.context = dtoi(val or "")
        elif opt in "tT":
            if opt == "T":
                req.active_only = True
            else:
                tflag += 1
            if tflag and req.active_only:
                raise CommandError("-t and -T options are mutually exclusive")
            tflag = max(tflag, 1)
        else:
            argerrs += 1
    stacks = tflag > 0
    if stacks and (memtype or start or end or length):
        raise CommandError(
            f"-{'T' if req.active_only else 't'} option cannot be used with other memory-selection options"
        )
    if not memtype:
        memtype = "kernel"
        if not stacks and not sflag:
            start = prog.layout.page_offset
            sflag += 1
    if argerrs or (not sflag and not stacks) or not parsed.args or (length and end):
        raise _Usage()
    lay = prog.layout
    if memtype == "user" and not lay.is_uvaddr(start):
        raise _Usage(f"invalid user virtual address: {start:x}")
    if memtype == "kernel" and not stacks and not lay.is_kvaddr(start):
        raise _Usage(f"invalid kernel virtual address: {start:x}")
    if not end and not length and not stacks:
        end = {"user": lay.page_offset, "physical": _phys_end(prog), "kernel": (1 << 64) - 1}[memtype]
        if memtype == "kernel":
            end = max(e for _, e, _ in kernel_ranges(prog))
    elif length:
        end = start + length
    if memtype == "user":
        if end > lay.page_offset:  # crash's user space ends where the direct map begins
            raise _Usage(f"ending address {end:x} is in kernel space")
        if end < start:
            raise _Usage(f"ending address {end:x} is below starting address {start:x}")
    elif not stacks and end < start:
        raise _Usage(f"ending address {end:x} is below starting address {start:x}")
    if req.mask and req.mode == SEARCH_CHARS:
        session.println("search: mask ignored on string search")
    if req.context:
        if req.mode == SEARCH_CHARS:
            raise CommandError("-x option is not allowed with -c")
        most = PAGE_SIZE // req.mode
        if req.context > most:
            raise CommandError(f"context value {req.context} is too large: maximum is {most}")
    for arg in parsed.args:
        if req.mode == SEARCH_CHARS:
            if arg:
                req.strings.append(arg.encode("latin-1", "replace"))
            continue
        value, named = _value(prog, arg)
        note = _note(arg) if named and not req.mask else ""
        if req.mode == SEARCH_UINT and value > 0xFFFFFFFF:
            raise CommandError(f"value too large for -w option: {value:x} {note}")
        if req.mode == SEARCH_USHORT and value > 0xFFFF:
            raise CommandError(f"value too large for -h option: {value:x} {note}")
        req.values.append(value)
        req.names.append(note)
    if not req.values and not req.strings:
        raise _Usage()
    req.space = "stacks" if stacks else memtype
    req.start, req.end = start, end
    return req


def _user_start(prog: Program, tc: TaskContext) -> int:
    from crashpy.helpers.vma import vma_addresses
    from crashpy.object import Object

    try:
        vmas = vma_addresses(prog, tc.mm)
        return int(Object(prog, "struct vm_area_struct", vmas[0]).vm_start) if vmas else 0
    except (FaultError, CommandError):
        return 0


def _phys_end(prog: Program) -> int:
    """One past the last page the kernel knows (max_pfn); where max_pfn cannot be read (a dump cut
    short), one past the last page the dump describes."""
    try:
        pfns = max_pfn(prog)
    except FaultError:
        pfns = 0
    if pfns:
        return pfns * PAGE_SIZE
    return max((end for _, end in prog.physical.dump.ranges()), default=0)


def _pfn_limit(prog: Program) -> int:
    """crash's phys_to_page() test, as an end address: pages of the memory sections up to max_pfn."""
    section = 1 << prog.vmcoreinfo.sparsemem(prog.layout.five_level)[0]
    return -(-_phys_end(prog) // section) * section


# ---- where to look ---------------------------------------------------------------------------------


def kernel_ranges(prog: Program) -> list[tuple[int, int, str]]:
    """crash's kernel virtual ranges (x86_64_get_kvaddr_ranges), sorted by start: the direct map up to
    high_memory, the kernel image up to _end, vmalloc up to the end of its last area, the memmap."""
    from crashpy.helpers.vmalloc import area_ranges

    lay = prog.layout
    out: list[tuple[int, int, str]] = []
    try:
        high = prog.read_u64(prog.symbol_address("high_memory"))
    except FaultError:
        high = lay.page_offset + _phys_end(prog)
    out.append((lay.page_offset, high, "unity"))
    out.append((START_KERNEL_MAP, prog.symbol_address("_end"), "image"))
    areas = area_ranges(prog)
    last = max((e for _, e in areas), default=lay.vmalloc_start)
    out.append((lay.vmalloc_start, last, "vmalloc"))
    mods = _module_areas(prog)
    if mods and not any(a <= mods[0][0] < b for a, b in areas):  # modules outside the vmap areas
        out.append((mods[0][0], (max(e for _, e in mods) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), "modules"))
    if not any(a <= lay.vmemmap_start < b for a, b in areas):
        memmap = _phys_end(prog) // PAGE_SIZE * prog.sizeof("page")
        out.append((lay.vmemmap_start, lay.vmemmap_start + memmap, "vmemmap"))
    out.sort()
    return out


def _module_areas(prog: Program) -> list[tuple[int, int]]:
    """(start, end) of each loaded module's core layout, by start ([] when they cannot be read)."""
    from crashpy.helpers.modules import module_symtab

    try:
        return sorted((m.base, m.base + m.size) for m in module_symtab(prog).modules if m.size)
    except (FaultError, CommandError):
        return []


def _direct_chunks(prog: Program, vstart: int, vend: int, delta: int) -> Iterator[tuple[int, bytes]]:
    """Arithmetic mappings (direct map, kernel image): paddr = vaddr - delta."""
    limit = _pfn_limit(prog)
    for paddr, data in readable_chunks(prog.physical, vstart - delta, min(vend - delta, limit)):
        yield paddr + delta, data


def _table_chunks(
    prog: Program, root: int, vstart: int, vend: int, low_present: int | None = None
) -> Iterator[tuple[int, bytes]]:
    """Through page tables: the mapped, readable parts of [vstart, vend)."""
    limit = _pfn_limit(prog)
    levels = prog.layout.levels
    read = prog.physical.read
    runs = (
        mapped_runs(read, root, levels, vstart, vend)
        if low_present is None
        else (mapped_runs(read, root, levels, vstart, vend, low_present))
    )
    for v, p, n in runs:
        for paddr, data in readable_chunks(prog.physical, p, min(p + n, limit)):
            yield v + (paddr - p), data


def _vmalloc_spans(
    prog: Program,
    start: int,
    end: int,
    others: list[tuple[int, int]],
    areas: list[tuple[int, int]] | None = None,
) -> Iterator[tuple[int, int]]:
    """The parts of [start, end) crash's vmalloc walk reads: mapped pages on from the walk's start or
    a vmap area, the walk jumping from an unmapped page to the next page inside an area; the ranges
    searched on their own (memmap, kernel image) are left to their turn."""
    import bisect

    from crashpy.helpers.vmalloc import area_ranges

    areas = sorted(area_ranges(prog) if areas is None else areas)
    ends = [e for _, e in areas]
    spans: list[list[int]] = []
    for v, _p, n in mapped_runs(prog.physical.read, prog.kernel_pgd, prog.layout.levels, start, end):
        if spans and spans[-1][1] == v:
            spans[-1][1] = v + n
        else:
            spans.append([v, v + n])
    starts = [a for a, _ in spans]

    def span_at(x: int) -> int:
        """The index of the first span ending after x."""
        i = bisect.bisect_right(starts, x) - 1
        return i if i >= 0 and spans[i][1] > x else i + 1

    pp = start
    while pp < end:
        i = span_at(pp)
        if i < len(spans) and spans[i][0] <= pp:
            hi = min(spans[i][1], end)
            yield from _minus(pp, hi, others)
            pp = spans[i][1]
            continue
        x = (pp & ~(PAGE_SIZE - 1)) + PAGE_SIZE
        while True:
            k = bisect.bisect_right(ends, x)
            if k >= len(areas):
                return
            s, e = areas[k]
            x = max(x, s)
            j = span_at(x)
            if j < len(spans) and spans[j][0] < e:
                pp = max(x, spans[j][0])
                break
            x = e
        if pp >= end:
            return


def _minus(lo: int, hi: int, others: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    cur = lo
    for a, b in sorted(others):
        if b <= cur or a >= hi:
            continue
        if a > cur:
            yield cur, a
        cur = max(cur, b)
    if cur < hi:
        yield cur, hi


def kernel_chunks(prog: Program, req: Request, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """The readable kernel memory of [start, end), range by range as crash visits them."""
    ranges = kernel_ranges(prog)
    phys_base = prog.phys_base
    for lo, hi, kind in ranges:
        if start >= hi or end <= lo:
            continue
        if kind in ("unity", "image") and req.skip_unity:
            continue
        if kind in ("vmalloc", "modules", "vmemmap") and req.skip_mapped:
            continue
        a, b = max(start, lo), min(end, hi)
        if kind == "unity":
            yield from _direct_chunks(prog, a, b, prog.layout.page_offset)
        elif kind == "image":
            yield from _direct_chunks(prog, a, b, START_KERNEL_MAP - phys_base)
        elif kind == "vmemmap":
            yield from _table_chunks(prog, prog.kernel_pgd, a, b)
        else:
            others = [(x, y) for x, y, k in ranges if k not in (kind, "unity", "vmalloc")]
            areas = _module_areas(prog) if kind == "modules" else None
            for s, e in _vmalloc_spans(prog, a, b, others, areas):
                yield from _table_chunks(prog, prog.kernel_pgd, s, e)


def _stack_chunks(prog: Program, lo: int, hi: int) -> Iterator[tuple[int, bytes]]:
    direct = prog.layout.unity_paddr(lo, prog.phys_base)
    if direct is not None:
        yield from _direct_chunks(prog, lo, hi, lo - direct)
    else:
        yield from _table_chunks(prog, prog.kernel_pgd, lo, hi)


# ---- matching ----------------------------------------------------------------------------------------


def _or_table(byte: int) -> bytes:
    table = _OR_TABLES.get(byte)
    if table is None:
        table = _OR_TABLES[byte] = bytes(b | byte for b in range(256))
    return table


def _masked(data: bytes, mask: int, width: int) -> bytes:
    """`data` with the mask's bits set in every `width`-byte word (each byte lane translated at once)."""
    out = bytearray(data)
    for k in range(width):
        m = (mask >> (8 * k)) & 0xFF
        if m:
            out[k::width] = data[k::width].translate(_or_table(m))
    return bytes(out)


def find_words(data: bytes, base: int, req: Request) -> list[tuple[int, int, int]]:
    """(address, value index, word) of each aligned word of `data` (read at `base`, aligned) equal to
    one of the values, ignoring the mask's bits; in address order, then value order."""
    width = req.mode
    wmask = (1 << (8 * width)) - 1
    mask = req.mask & wmask
    hay = _masked(data, mask, width) if mask else data
    found: list[tuple[int, int, int]] = []
    for idx, value in enumerate(req.values):
        needle = ((value | mask) & wmask).to_bytes(width, "little")
        pos = hay.find(needle)
        while pos >= 0:
            if pos % width == 0:
                found.append((pos, idx, int.from_bytes(data[pos : pos + width], "little")))
                pos = hay.find(needle, pos + width)
            else:
                pos = hay.find(needle, pos + width - pos % width)
    if len(req.values) > 1:
        found.sort()
    return [(base + pos, idx, word) for pos, idx, word in found]


class CharScanner:
    """crash's string search, a page at a time: a hit shows up to 56 characters from its start, cut
    at the end of the page searched; a string split across two pages read one after the other is found
    when the second is searched, and shown with what follows it there."""

    def __init__(self, targets: list[bytes]) -> None:
        self.targets = targets
        self.next_addr = -1
        self.cross: list[tuple[int, list[int]]] = [(0, []) for _ in targets]

    def page(self, addr: int, full: bytes, count: int) -> list[tuple[int, str]]:
        """The hits of one page read at `addr` (`full`: the page from there to its end), `count` bytes
        of it searched (the last page of a search may have fewer, even none)."""
        out: list[tuple[int, str]] = []
        if addr == self.next_addr:
            for j, target in enumerate(self.targets):
                zone, hits = self.cross[j]
                n = len(target)
                for h in hits:
                    if full.startswith(target[n - 1 - h :]):
                        out.append((zone + h, _shown(target + full[h + 1 : h + 1 + CHARS_CTX - n])))
        data = full[:count]
        self.next_addr = addr + count
        found: list[tuple[int, int]] = []
        for j, target in enumerate(self.targets):
            n = len(target)
            pos = data.find(target)
            while pos >= 0:
                found.append((pos, j))
                pos = data.find(target, pos + 1)
            hits = [n - k - 1 for k in range(1, n) if k <= count and data.endswith(target[:k])]
            self.cross[j] = (addr + count - (n - 1), sorted(hits))
        found.sort()
        for pos, _j in found:
            out.append((addr + pos, _shown(data[pos : pos + min(CHARS_CTX, count - pos)])))
        return out


def _shown(raw: bytes) -> str:
    return raw.translate(_PRINTABLE).decode("latin-1")


# ---- the hits ----------------------------------------------------------------------------------------


def _chunks(session: Session, req: Request, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    prog = session.prog
    if req.space == "physical":
        yield from readable_chunks(prog.physical, start, min(end, _pfn_limit(prog)))
    elif req.space == "user":
        from crashpy.arch.x86_64 import PTE_PRESENT, PTE_PROTNONE

        tc = session.current_context()
        pgd = prog.user_memory(prog.read_u64(tc.mm + prog.offsetof("mm_struct", "pgd"))).root
        top = prog.layout.userspace_top  # past it the user tables hold the kernel's entries
        yield from _table_chunks(prog, pgd, start, min(end, top), PTE_PRESENT | PTE_PROTNONE)
    elif req.space == "stacks":
        yield from _stack_chunks(prog, start, end)
    else:
        yield from kernel_chunks(prog, req, start, end)


def _search_range(
    session: Session, req: Request, start: int, end: int, scanner: CharScanner | None
) -> Iterator[tuple[int, int | None, str | None, str]]:
    """(address, word, text, note) for each hit of [start, end)."""
    if scanner is not None:
        # a page is searched up to the last whole word before `end`, but read (and checked for the
        # end of a string the page before began) whole
        page_end = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
        for base, data in _chunks(session, req, start, page_end):
            off = 0
            while off < len(data) and base + off < end:
                n = min(len(data), off + PAGE_SIZE - ((base + off) & (PAGE_SIZE - 1))) - off
                count = max(0, min(n, ((end - base - off) & ~7)))
                for addr, text in scanner.page(base + off, data[off : off + n], count):
                    yield addr, None, text, ""
                off += n
        return
    end = end & ~7
    for base, data in _chunks(session, req, start, end):
        stop = min(len(data), end - base)
        if stop <= 0:
            continue
        if stop & 7:
            stop &= ~7
        if stop < len(data):
            data = data[:stop]
        for addr, idx, word in find_words(data, base, req):
            yield addr, word, None, req.names[idx]


def hits(session: Session, req: Request) -> Iterator[Hit]:
    """Every hit of the request, in crash's order (the stacks task by task, in task-table order)."""
    scanner = CharScanner(req.strings) if req.mode == SEARCH_CHARS else None
    start = req.start
    if req.space != "stacks" and start & 7:
        start &= ~7
        session.println(f"search: rounding down start address to: {start:x}")
    if req.space != "stacks":
        for addr, word, text, note in _search_range(session, req, start, req.end, scanner):
            yield Hit(addr, word, text, note)
        return
    from crashpy.object import Object
    from crashpy.unwind.stacks import THREAD_SIZE

    prog = session.prog
    table = session.task_table()
    found = 0
    for tc in table.contexts:
        if req.active_only and not table.is_active(tc.task):
            continue
        try:
            base = int(Object(prog, "struct task_struct", tc.task).stack)
        except FaultError:
            continue
        first = True
        for addr, word, text, note in _search_range(session, req, base, base + THREAD_SIZE, scanner):
            yield Hit(addr, word, text, note, tc, first, found)
            if first:
                found += 1
                first = False


def task_header(tc: TaskContext) -> str:
    return f'PID: {tc.pid:<7}  TASK: {tc.task:<16x}  CPU: {tc.cpu!s:<3}  COMMAND: "{tc.comm}"'


def _context_lines(session: Session, req: Request, addr: int, before: bool) -> str:
    from crashpy.commands.rd import (
        ASCII_ENDLINE,
        DISPLAY_16,
        DISPLAY_32,
        DISPLAY_64,
        HEXADECIMAL,
        format_memory,
    )

    width = req.mode
    flag = HEXADECIMAL | ASCII_ENDLINE | {8: DISPLAY_64, 4: DISPLAY_32, 2: DISPLAY_16}[width]
    count = req.context
    at = addr - count * width if before else addr + width
    prog = session.prog
    read: Callable[[int, int], bytes]
    if req.space == "physical":
        read = prog.physical.read
    elif req.space == "user":
        tc = session.current_context()
        read = prog.user_memory(prog.read_u64(tc.mm + prog.offsetof("mm_struct", "pgd"))).read
    else:
        read = prog.kernel.read
    try:
        return format_memory(read(at, count * width), at, flag)
    except FaultError:
        pass
    # as display_memory() with NO_ERROR: an item that cannot be read is left out, the lines filled
    # with the items that can
    got: list[tuple[int, bytes]] = []
    for k in range(count):
        try:
            got.append((at + k * width, read(at + k * width, width)))
        except FaultError:
            continue
    per_line = 16 // width
    out = []
    for g in range(0, len(got), per_line):
        group = got[g : g + per_line]
        out.append(format_memory(b"".join(d for _, d in group), group[0][0], flag))
    return "".join(out)


def render_hit(session: Session, req: Request, hit: Hit) -> str:
    """A hit as crash prints it (the task's header first for a -t/-T task's first hit)."""
    head = ""
    if hit.task is not None and hit.first_of_task:
        head = ("\n" if hit.task_index else "") + task_header(hit.task) + "\n"
    if hit.text is not None:
        return f"{head}{hit.address:x}: {hit.text}\n"
    value = hit.value or 0
    if not req.context:
        return f"{head}{hit.address:x}: {value:x} {hit.name}\n"
    return (
        head
        + _context_lines(session, req, hit.address, True)
        + f"{hit.address:>{VADDR_PRLEN}x}:  {value:x} {hit.name}\n"
        + _context_lines(session, req, hit.address, False)
        + "\n"
    )


def _run(session: Session, args: list[str]) -> Request | None:
    try:
        return parse(session, args)
    except _Usage as e:
        from crashpy.commands.help import print_usage

        if e.line:
            session.println(f"search: {e.line}")
        print_usage(session, "search")
        return None


def search_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`search --json`: the hits the text is made of."""
    try:
        req = parse(session, [a for a in args if a != "--json"])
    except _Usage as e:  # one line, no usage text in the document's stream
        raise CommandError(
            e.line or "usage: search [-s start] [-e end | -l length] [-kKVupTt] [-m mask] [-cwh] value ..."
        ) from None
    rows: list[dict[str, Any]] = []
    for hit in hits(session, req):
        row: dict[str, Any] = {"address": hex_address(hit.address)}
        if hit.text is not None:
            row["text"] = hit.text
        else:
            row["value"] = hex_address(hit.value or 0)
            row["name"] = hit.name[1:-1] if hit.name.startswith("(") and hit.name.endswith(")") else hit.name
        if hit.task is not None:
            row["task"] = {
                "pid": hit.task.pid,
                "task": hex_address(hit.task.task),
                "cpu": hit.task.cpu,
                "command": hit.task.comm,
            }
        rows.append(row)
    space = {"kernel": "kernel", "user": "user", "physical": "physical", "stacks": "stacks"}[req.space]
    return {
        "space": space,
        "width": req.mode or None,
        "mask": hex_address(req.mask) if req.mask else None,
        "hits": rows,
    }


@command("search", summary="search memory", help=HELP, json=search_document)
def cmd_search(session: Session, args: list[str]) -> None:
    req = _run(session, args)
    if req is None:
        return
    out: list[str] = []
    size = 0
    for hit in hits(session, req):
        line = render_hit(session, req, hit)
        out.append(line)
        size += 1
        if size >= 256:
            session.write("".join(out))
            out.clear()
            size = 0
    if out:
        session.write("".join(out))
