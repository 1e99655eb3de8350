"""vm: a task's address space: its mm_struct summary and memory areas, each area's pages (-p, -P),
the structures themselves (-v, -m), the areas and pages that refer to something (-R), and the names
of a vm_flags value (-f).

The rows come from helpers/mm.py and helpers/vma.py (the kernel's side: mm_struct, the maple tree of
areas, the page walk through the memory layer); this module lays them out as crash's cmd_vm() and
vm_area_dump() do (memory.c), and writes the same rows as JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crashpy.commands.ps import task_header
from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address
from crashpy.commands.vm_text import (
    RefSearch,
    mm_struct_text,
    page_header,
    page_line,
    summary_text,
    vma_header,
    vma_line,
    vma_struct_text,
)
from crashpy.commands.vtop import paddr_width
from crashpy.errors import CommandError
from crashpy.helpers.mm import MmSummary, PageState, mm_check, mm_summary, page_states, vm_flag_names
from crashpy.helpers.numbers import getopt, htol, htoll, radix_option
from crashpy.helpers.tasks import TaskContext, str_to_context
from crashpy.helpers.vma import Vma, iter_vmas, mm_vmas

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  vm - virtual memory

SYNOPSIS
  vm [-p | -P vma | -M mm | -v | -m | -x | -d | [-R reference] [pid | task]]
     [-f vm_flags]

DESCRIPTION
  Shows a task's user address space: the address of its mm_struct, its top
  page table, how much of it is resident and how large it is, then one line
  per memory area (vm_area_struct) with its bounds, its vm_flags and the file
  it maps.  Without a pid or task, the current context's task is shown; a
  kernel thread has no address space and gets a line of zeros.

        -p  after each area, every page in it: the physical address it is
            mapped to, or else its swap slot, its offset in the mapped file,
            or that nothing is there.
    -P vma  only the area whose vm_area_struct is at this address, with its
            pages as -p lists them.
     -M mm  for a task without an mm_struct of its own (a kernel thread
            that borrowed one, a task that is exiting), use the mm_struct at
            this address.
        -v  print each area's whole vm_area_struct.
        -m  print the task's whole mm_struct.
  -x | -d  with -v or -m, print the structures' numbers in hexadecimal or
            in decimal, whatever the current radix.
    -R ref  show only what matches the reference, with the task's summary
            line above it: a string is looked for in the areas' file names
            (and swap device names); a number is compared with the mm_struct
            and page table addresses, each area's vm_area_struct address and
            vm_flags, and each page's virtual and physical address, file
            offset and (as decimal) swap slot.
      pid  a process id.
     task  a task_struct address, in hexadecimal.
  -f flags  name the bits of this vm_flags value (hexadecimal) and stop.

EXAMPLES
  The address space of the current task:

    crash> vm
    PID: 1        TASK: ffff888003df8000  CPU: 1    COMMAND: "init"
           MM               PGD          RSS    TOTAL_VM
    ffff888003c56d00  ffff8880053d6000  1792k    2260k
          VMA           START       END     FLAGS FILE
    ffff8880053d5130     400000     401000 8000071 /bin/busybox
    ffff8880053d5720     401000     585000 8000075 /bin/busybox
    ffff8880053d5260   2bb53000   2bb75000 8100073
    ffff8880053d57b8 7ffd3f7e7000 7ffd3f808000 100173

  The pages of one area:

    crash> vm -P ffff8880053d5558
    PID: 1        TASK: ffff888003df8000  CPU: 1    COMMAND: "init"
          VMA           START       END     FLAGS FILE
    ffff8880053d5558 7ffd3f8f6000 7ffd3f8f8000 8040075
    VIRTUAL     PHYSICAL
    7ffd3f8f6000   2399000
    7ffd3f8f7000  (not mapped)

  What a vm_flags value means:

    crash> vm -f 8100073
    8100073: (READ|WRITE|MAYREAD|MAYWRITE|MAYEXEC|ACCOUNT|CAN_NONLINEAR)
"""


@dataclass
class VmRequest:
    """What one `vm` command asks for."""

    flag: str | None = None  # "p" (-p or -R), "m", "v", "P"
    ref: str | None = None
    single_vma: int = 0
    radix: int = 0
    force_mm: int | None = None
    targets: list[str] = field(default_factory=list)
    flags_value: int | None = None  # -f: only decode this value


@dataclass
class VmTask:
    """One task's answer, as data: the summary line and its areas."""

    tc: TaskContext
    summary: MmSummary
    mm: int  # the mm_struct whose areas are listed (-M's for a task without one), 0 for none
    vmas: list[Vma] = field(default_factory=list)


def flags_line(session: Session, value: int) -> str:
    """crash's do_vm_flags() line for a vm_flags value."""
    return f"{value:x}: ({'|'.join(vm_flag_names(session.prog, value))})\n"


def _number(arg: str, long: bool = True) -> int:
    notes: list[str] = []
    value = htoll(arg, notes) if long else htol(arg, notes)
    if value is None:
        raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
    return value


def parse(session: Session, args: list[str]) -> VmRequest | None:
    """crash's cmd_vm() option loop, in its order: -M, -x/-d and -f act (or fail) as they are met;
    any other misuse prints the usage (None)."""
    parsed = getopt(args, "f:pmvR:P:xdM:")
    errors = iter(parsed.errors)
    req = VmRequest(targets=parsed.args)
    argerrs = 0
    for c, optarg in parsed.opts:
        if c == "M":
            value = _number(optarg or "")
            if not session.prog.layout.is_kvaddr(value):
                raise CommandError(f"invalid mm_struct address: {optarg}")
            req.force_mm = value
        elif c == "f":
            if req.flag:
                argerrs += 1
            else:
                req.flags_value = _number(optarg or "")
                return req
        elif c in "pmv":
            if req.flag:
                argerrs += 1
            else:
                req.flag = c
        elif c == "R":
            if req.ref is not None:
                session.println("vm: only one -R option allowed")
                argerrs += 1
            elif req.flag and req.flag != "p":
                argerrs += 1
            else:
                req.ref = optarg or ""
                req.flag = "p"
        elif c == "P":
            if req.flag:
                argerrs += 1
            else:
                req.flag = "P"
                req.single_vma = _number(optarg or "", long=False)
        elif c in "xd":
            req.radix = radix_option(req.radix, 16 if c == "x" else 10)
        else:
            session.println(f"vm: {next(errors, 'invalid option')}")
            argerrs += 1
    if argerrs:
        from crashpy.commands.help import print_usage

        print_usage(session, "vm")
        return None
    return req


def vm_task(session: Session, tc: TaskContext, req: VmRequest, areas: bool = True) -> VmTask:
    """The rows of one task (its areas only with `areas`)."""
    prog = session.prog
    summary = mm_summary(prog, session.task_table(), tc)
    row = VmTask(tc, summary, summary.mm)
    if not row.mm and req.force_mm is not None:
        why = mm_check(prog, req.force_mm)
        if why is not None:
            raise CommandError(why)
        row.mm = req.force_mm
    if not row.mm or req.flag == "m" or not areas:
        return row
    row.vmas = mm_vmas(prog, row.mm)
    return row


def _pgd(session: Session, mm: int) -> int:
    from crashpy.object import Object

    return int(Object(session.prog, "struct mm_struct", mm).pgd)


def _init_mm(session: Session) -> int:
    prog = session.prog
    return prog.symbol_address("init_mm") if prog.has_symbol("init_mm") else 0


def task_text(session: Session, tc: TaskContext, req: VmRequest) -> Iterator[str]:
    """The text crash's vm_area_dump() writes for one task (after the task line, which cmd_vm prints)."""
    prog = session.prog
    summary = mm_summary(prog, session.task_table(), tc)
    if req.ref is not None:
        yield from RefSearch(session, tc, summary, req, _init_mm(session)).run()
        return
    if req.flag not in ("m", "v", "P"):
        yield summary_text(summary)
    row = vm_task(session, tc, req, areas=False)
    if not row.mm:
        return
    if req.flag == "m":
        yield mm_struct_text(session, row.mm, req.radix)
        return
    if req.flag is None:
        yield vma_header()
    pgd = _pgd(session, row.mm) if req.flag in ("p", "P") else 0
    found = False
    init_mm = _init_mm(session)
    for vma in iter_vmas(prog, row.mm):
        if req.flag == "P" and vma.address != req.single_vma:
            continue
        if req.flag == "v":
            yield vma_struct_text(session, vma.address, req.radix)
            continue
        if req.flag in ("p", "P"):
            found = True
            yield vma_header()
        yield vma_line(vma)
        if req.flag in ("p", "P") and vma.mm != init_mm:
            yield page_header(prog)
            width = paddr_width(prog)
            for state in page_states(prog, pgd, vma):
                yield page_line(prog, state, width)
    if req.flag == "P" and not found:
        yield "(not found)\n"


def _contexts(session: Session, req: VmRequest) -> Iterator[TaskContext | str]:
    """The tasks named (each context of a pid), or an argument that names none."""
    if not req.targets:
        yield session.current_context()
        return
    table = session.task_table()
    for arg in req.targets:
        kind, value, tc = str_to_context(table, arg)
        if kind == "pid":
            yield from table.by_pid(value)
        elif kind == "task" and tc is not None:
            yield tc
        else:
            yield arg


def vm_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`vm --json`: the rows the text is made of (the summary, the areas, with -p / -P their pages)."""
    from crashpy.commands.rows import reject_options

    argv = [a for a in args if a != "--json"]
    parsed = getopt(argv, "f:pmvR:P:xdM:")
    reject_options(parsed, "fpPM")
    req = parse(session, argv)
    if req is None:
        raise CommandError("usage: vm [-p | -P vma | -M mm] [pid | task] | vm -f vm_flags")
    if req.flags_value is not None:
        v = req.flags_value
        return {"vm_flags": hex_address(v), "names": vm_flag_names(session.prog, v)}
    tasks: list[dict[str, Any]] = []
    for tc in _contexts(session, req):
        if isinstance(tc, str):
            raise CommandError(f"invalid task or pid value: {tc}")
        tasks.append(_task_json(session, vm_task(session, tc, req), req))
    return {"tasks": tasks}


def _task_json(session: Session, row: VmTask, req: VmRequest) -> dict[str, Any]:
    prog = session.prog
    s = row.summary
    pgd = _pgd(session, row.mm) if row.mm and req.flag in ("p", "P") else 0
    vmas: list[dict[str, Any]] = []
    for vma in row.vmas:
        if req.flag == "P" and vma.address != req.single_vma:
            continue
        doc: dict[str, Any] = {
            "address": hex_address(vma.address),
            "start": hex_address(vma.start),
            "end": hex_address(vma.end),
            "flags": hex_address(vma.flags),
            "flag_names": vm_flag_names(prog, vma.flags),
            "file": vma.file or None,
        }
        if req.flag in ("p", "P"):
            doc["pages"] = [_page_json(p) for p in page_states(prog, pgd, vma)]
        vmas.append(doc)
    return {
        "pid": row.tc.pid,
        "task": hex_address(row.tc.task),
        "cpu": row.tc.cpu,
        "comm": row.tc.comm,
        "mm": hex_address(s.mm),
        "pgd": hex_address(s.pgd),
        "rss_kb": s.rss * 4,
        "total_vm_kb": s.total_vm * 4,
        "vmas": None if not row.mm else vmas,
    }


def _page_json(p: PageState) -> dict[str, Any]:
    doc: dict[str, Any] = {"vaddr": hex_address(p.vaddr), "kind": p.kind}
    if p.kind == "mapped":
        doc["paddr"] = hex_address(p.paddr)
    elif p.kind == "swap":
        doc["swap_device"] = p.swap_device
        doc["swap_offset"] = p.swap_offset
    elif p.kind == "file":
        doc["file"] = p.file
        doc["file_offset"] = hex_address(p.file_offset)
    return doc


@command("vm", summary="virtual memory", help=HELP, json=vm_document)
def cmd_vm(session: Session, args: list[str]) -> None:
    req = parse(session, args)
    if req is None:
        return
    if req.flags_value is not None:
        session.write(flags_line(session, req.flags_value))
        return
    subsequent = 0
    for tc in _contexts(session, req):
        if isinstance(tc, str):
            session.println(f"{chr(10) if subsequent else ''}vm: invalid task or pid value: {tc}")
            session.errors += 1
            subsequent += 1
            continue
        if req.ref is None:
            session.println(("\n" if subsequent and req.targets else "") + task_header(tc))
        subsequent += 1
        for chunk in task_text(session, tc, req):
            session.write(chunk)
