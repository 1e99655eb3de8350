"""vm's text: crash's columns for the summary, area and page lines, the structure dumps of -v and -m,
and -R's search, which prints only what refers to the reference (crash's memory.c: PRINT_VM_DATA,
PRINT_VMA_DATA, vm_area_page_dump() and the reference checks of handle_each_vm_area())."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crashpy.commands.ps import task_header
from crashpy.commands.vtop import mkstring, paddr_width
from crashpy.errors import CommandError
from crashpy.helpers.mm import MmSummary, PageState, mm_check, page_states
from crashpy.helpers.numbers import decimal, dtol, htol, is_a_number
from crashpy.helpers.vma import Vma, iter_vmas

if TYPE_CHECKING:
    from crashpy.commands.vm import VmRequest
    from crashpy.helpers.tasks import TaskContext
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16
UVADDR_PRLEN = 10
PAGE_KB = 4


def summary_text(s: MmSummary) -> str:
    """The MM / PGD / RSS / TOTAL_VM title and values, each centred in its column."""
    return (
        f"{mkstring('MM', VADDR_PRLEN, 'cl')}  {mkstring('PGD', VADDR_PRLEN, 'cl')}  "
        f"{mkstring('RSS', 6, 'cl')}  {mkstring('TOTAL_VM', 8, 'cl')}\n"
        f"{mkstring(f'{s.mm:x}', VADDR_PRLEN, 'cl')}  {mkstring(f'{s.pgd:x}', VADDR_PRLEN, 'cl')}  "
        f"{mkstring(f'{s.rss * PAGE_KB}k', 6, 'cl')}  {mkstring(f'{s.total_vm * PAGE_KB}k', 8, 'cl')}\n"
    )


def vma_header() -> str:
    return (
        f"{mkstring('VMA', VADDR_PRLEN, 'cl')} {mkstring('START', UVADDR_PRLEN, 'cr')} "
        f"{mkstring('END', UVADDR_PRLEN, 'cr')}  FLAGS FILE\n"
    )


def vma_line(v: Vma) -> str:
    return (
        f"{mkstring(f'{v.address:x}', VADDR_PRLEN, 'cl')} {v.start:>{UVADDR_PRLEN}x} {v.end:>{UVADDR_PRLEN}x}"
        f" {v.flags:6x} {v.file}\n"
    )


def page_header(prog: Program) -> str:
    return f"{'VIRTUAL':<{UVADDR_PRLEN}}  {'PHYSICAL':<{paddr_width(prog)}}\n"


def page_line(prog: Program, p: PageState, width: int = 0) -> str:
    """One page's line; `width` is the PHYSICAL column's (paddr_width(), found when 0)."""
    vaddr = f"{p.vaddr:<{UVADDR_PRLEN}x}"
    if p.kind == "mapped":
        return f"{vaddr}  {p.paddr:>{width or paddr_width(prog)}x}\n"
    if p.kind == "swap":
        return f"{vaddr}  SWAP: {p.swap_device}  OFFSET: {p.swap_offset}\n"
    if p.kind == "file":
        return f"{vaddr}  FILE: {p.file}  OFFSET: {p.file_offset:x}\n"
    return f"{vaddr}  (not mapped)\n"


def _struct(session: Session, name: str, addr: int, radix: int) -> str:
    """What `struct <name> <addr>` prints in `radix` (0: the session's), as crash's dump_struct()."""
    from crashpy.commands.struct import struct_text
    from crashpy.commands.whatis import STRUCT_REQUEST, arg_to_datatype
    from crashpy.expr.gdb import render_errors

    code, dm = arg_to_datatype(session, name)
    if code != 1 or dm is None:
        raise CommandError(f"invalid data structure reference: {name}")
    text = struct_text(session, dm, STRUCT_REQUEST, addr, radix or session.radix)
    return render_errors(text, inline=True)[1]


def mm_struct_text(session: Session, mm: int, radix: int) -> str:
    return _struct(session, "mm_struct", mm, radix)


def vma_struct_text(session: Session, vma: int, radix: int) -> str:
    return _struct(session, "vm_area_struct", vma, radix)


class RefSearch:
    """One task's `vm -R ref`: the task and summary lines once something matches, then each area that
    matches (its address, vm_flags or file name), and each area with a page that matches, followed by
    the matching pages from the first one on."""

    def __init__(self, session: Session, tc: TaskContext, summary: MmSummary, req: VmRequest, init_mm: int):
        self.session = session
        self.tc = tc
        self.summary = summary
        self.req = req
        self.init_mm = init_mm
        ref = req.ref or ""
        self.ref = ref
        self.number = is_a_number(ref)
        self.hexval = (htol(ref) or 0) if self.number else 0
        self.decval = (dtol(ref) or 0) if self.number and decimal(ref) else 0
        self.header = False  # the task and summary lines are out
        self.vma_shown = False
        self.after_page = False  # the last thing shown was a page of an area
        self.ref1 = 0  # the area last shown

    def hex(self, value: int) -> bool:
        return self.number and self.hexval == value

    def string(self, s: str) -> bool:
        if s == "/" and self.ref == "/":
            return True
        return self.ref != "/" and self.ref in s

    def page_matches(self, p: PageState) -> bool:
        if self.hex(p.vaddr):
            return True
        if p.kind == "mapped":
            return self.hex(p.paddr)
        if p.kind == "swap":
            return (self.number and self.decval == p.swap_offset) or self.string(p.swap_device)
        if p.kind == "file":
            return self.hex(p.file_offset)
        return False

    def _head(self) -> Iterator[str]:
        if not self.header:
            self.header = True
            yield task_header(self.tc) + "\n" + summary_text(self.summary)

    def run(self) -> Iterator[str]:
        prog = self.session.prog
        s = self.summary
        if self.hex(s.mm) or self.hex(s.pgd):
            yield task_header(self.tc) + "\n" + summary_text(s) + "\n"
            return
        mm = s.mm
        if not mm and self.req.force_mm is not None:
            why = mm_check(prog, self.req.force_mm)
            if why is not None:
                raise CommandError(why)
            mm = self.req.force_mm
            # crash has put the borrowed mm_struct in the summary by the time it prints it
            self.summary = MmSummary(mm, s.pgd, s.rss, s.total_vm)
        if not mm:
            return
        from crashpy.object import Object

        pgd = int(Object(prog, "struct mm_struct", mm).pgd)
        for vma in iter_vmas(prog, mm):
            if self.hex(vma.address) or self.hex(vma.flags) or self.string(vma.file):
                yield from self._head()
                if not self.vma_shown or self.after_page:
                    yield vma_header()
                    self.vma_shown = True
                    self.after_page = False
                    self.ref1 = vma.address
                yield vma_line(vma)
            if vma.mm == self.init_mm:
                continue
            pages = page_states(prog, pgd, vma)
            first = next((p for p in pages if self.page_matches(p)), None)
            if first is None:
                continue
            self.after_page = True
            yield from self._head()
            if not self.vma_shown or self.ref1 != vma.address:
                yield vma_header() + vma_line(vma)
                self.vma_shown = True
                self.ref1 = vma.address
            width = paddr_width(prog)
            yield page_header(prog) + page_line(prog, first, width)
            for p in pages:
                if self.page_matches(p):
                    yield page_line(prog, p, width)
        if self.header:
            yield "\n"
