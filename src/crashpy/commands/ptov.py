"""ptov, btop, ptob: physical to kernel virtual (and per-cpu offsets to their addresses), bytes to page
frame numbers and back (memory.c cmd_ptov, cmd_btop, cmd_ptob)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import getopt, htoll, make_cpumask, stol

if TYPE_CHECKING:
    from crashpy.session import Session

VADDR_PRLEN = 16
PAGE_SHIFT = 12

PTOV_HELP = """\
NAME
  ptov - physical to virtual
         per-cpu to virtual

SYNOPSIS
  ptov [address | offset:cpuspec]

DESCRIPTION
  Gives the kernel virtual address of each physical address, where the
  direct map has it.  An argument of the form offset:cpuspec is a per-cpu
  offset instead: its address in each CPU's per-cpu area is shown.

         address  a physical address in hexadecimal.
  offset:cpuspec  a per-cpu offset in hexadecimal and the CPUs to show:
                    :             the CPU of the current context.
                    :a[ll]        every CPU.
                    :#[-#][,...]  a list of CPUs and ranges, as "0,2-3".

EXAMPLES
    crash> ptov 3df8000
    VIRTUAL           PHYSICAL
    ffff888003df8000  3df8000

    crash> ptov 100:a
    PER-CPU OFFSET: 100
      CPU    VIRTUAL
      [0]  ffff88801f400100
      [1]  ffff88801f500100
"""

BTOP_HELP = """\
NAME
  btop - bytes to page

SYNOPSIS
  btop address ...

DESCRIPTION
  Gives the page frame number of each hexadecimal address.

EXAMPLES
    crash> btop 3df8123
    3df8123: 3df8
"""

PTOB_HELP = """\
NAME
  ptob - page to bytes

SYNOPSIS
  ptob page_number ...

DESCRIPTION
  Gives the address where each page frame number's page starts.

EXAMPLES
    crash> ptob 3df8
    3df8: 3df8000
"""


def _usage(session: Session, name: str) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, name)


def _hex(arg: str) -> int:
    notes: list[str] = []
    value = htoll(arg, notes)
    if value is None:
        raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
    return value


@command("ptov", summary="physical to virtual", help=PTOV_HELP)
def cmd_ptov(session: Session, args: list[str]) -> None:
    parsed = getopt(args, "")
    for err in parsed.errors:
        session.println(f"ptov: {err}")
    if parsed.errors or not parsed.args:
        _usage(session, "ptov")
        return
    prog = session.prog
    others = 0
    for arg in parsed.args:
        value_text, colon, spec = arg.partition(":")
        cpus: list[int] = []
        if colon:
            ncpus = prog.nr_cpus
            cpus = [session.current_context().cpu] if spec == "" else make_cpumask(spec, ncpus)
        value = _hex(value_text)
        if colon:
            ncpus = prog.nr_cpus
            width = len(f"[{ncpus - 1}]") + 2
            lines = [f"{chr(10) if others else ''}PER-CPU OFFSET: {value:x}\n"]
            lines.append(f"  {'CPU':<{width}}  {'VIRTUAL':<{VADDR_PRLEN}}\n")
            offsets = prog.percpu_offsets
            for cpu in cpus:
                lines.append(f"  {f'[{cpu}]':<{width}}{(value + offsets[cpu]) & MASK64:x}\n")
            session.write("".join(lines))
        else:
            vaddr = (value + prog.layout.page_offset) & MASK64
            session.write(
                f"{chr(10) if others else ''}{'VIRTUAL':<{VADDR_PRLEN}}  {'PHYSICAL':<{VADDR_PRLEN}}\n"
                f"{vaddr:<{VADDR_PRLEN}x}  {value:<{VADDR_PRLEN}x}\n"
            )
        others += 1


@command("btop", summary="bytes to page", help=BTOP_HELP)
def cmd_btop(session: Session, args: list[str]) -> None:
    if not args:
        _usage(session, "btop")
        return
    for arg in args:
        value = _hex(arg)
        session.println(f"{value:x}: {value >> PAGE_SHIFT:x}")


@command("ptob", summary="page to bytes", help=PTOB_HELP)
def cmd_ptob(session: Session, args: list[str]) -> None:
    if not args:
        _usage(session, "ptob")
        return
    for arg in args:
        notes: list[str] = []
        value = stol(arg, notes)
        if value is None:
            raise CommandError(notes[-1] if notes else f"not a valid number: {arg}")
        session.println(f"{value:x}: {(value << PAGE_SHIFT) & MASK64:x}")
