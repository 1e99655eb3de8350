"""irq: interrupt descriptors and their actions, affinity, per-CPU counts, softirq vectors, the IDT.

Laid out as crash 8.0.6's cmd_irq (kernel.c generic_dump_irq's second format, generic_get_irq_affinity,
generic_show_interrupts, display_bh_4; x86_64.c x86_64_display_idt_table); the kernel knowledge is in
helpers/irq.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import irq as irqs
from crashpy.helpers.numbers import dtoi, getopt, make_cpumask
from crashpy.helpers.sysinfo import cpu_count

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16

HELP = """\
NAME
  irq - IRQ data

SYNOPSIS
  irq [[[index ...] | -u ] | -d | -b | -a | -s [-c cpu]]

DESCRIPTION
  Without options, lists every interrupt number the kernel can hand out:
  the address of its struct irq_desc, the address of each struct irqaction
  registered on it and that action's name.  Numbers with no descriptor, or
  no action, say "(unused)".

    index  only these interrupt numbers (decimal).
       -u  only the interrupt numbers that have a descriptor.
       -d  the x86_64 interrupt descriptor table: each of its 256 gates and
           the symbol of the handler it points to.
       -b  the softirq vectors and the function each one runs.
       -a  the CPUs each interrupt with an action may be delivered to.
       -s  the interrupt counts of each CPU, as /proc/interrupts shows
           them, with the chip's name and the action names.
   -c cpu  with -s: only these CPUs ("1", "0,2", "1-3", "a" or "all").

EXAMPLES
  How often the first CPU of a two-cpu guest took each interrupt:

    crash> irq -s -c 0
               CPU0
      0:        147  IO-APIC-edge     timer
      1:          0  IO-APIC-edge     i8042
"""


def _desc_line(row: irqs.IrqDesc) -> str:
    """One interrupt in crash's IRQ / IRQ_DESC/_DATA / IRQACTION / NAME layout (every action a line)."""
    width = max(VADDR_PRLEN, len("IRQ_DESC/_DATA"))
    head = mkstring(str(row.irq), 4, "cr") + "  "
    head += (mkstring(f"{row.desc:x}", width, "c") if row.desc else mkstring("(unused)", width, "c")) + "  "
    if not row.actions:
        return head + mkstring("(unused)", max(VADDR_PRLEN, len("IRQACTION")), "c") + "  \n"
    lines = []
    for k, (action, name) in enumerate(row.actions):
        text = (
            (head if k == 0 else " " * (4 + 2 + width + 2)) + mkstring(f"{action:x}", VADDR_PRLEN, "c") + "  "
        )
        if name is not None:
            text += f'"{name}"'
        lines.append(text)
    return "\n".join(lines) + "\n"


def _header() -> str:
    return f" IRQ  {mkstring('IRQ_DESC/_DATA', VADDR_PRLEN, 'c')}  {mkstring('IRQACTION', VADDR_PRLEN, 'c')}  NAME\n"


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "irq")


def _symname(prog: Program, value: int) -> str:
    from crashpy.symbols.crash_view import crash_symtab

    found = crash_symtab(prog).value_search(value)
    return found[0].name if found else ""


def _softirq_text(prog: Program) -> str:
    from crashpy.symbols.crash_view import crash_symtab

    out = [f"SOFTIRQ_VEC {mkstring('ACTION', VADDR_PRLEN, 'cr')}\n"]
    table = crash_symtab(prog)
    for i, fn in irqs.softirq_vectors(prog):
        line = f"    [{i}]{' ' * (4 if i < 10 else 3)} {mkstring(f'{fn:x}', VADDR_PRLEN, 'cr')}  <{_symname(prog, fn)}>"
        lm = table.modules.module_of(fn)
        if lm is not None:
            line += f"  [{lm.name}]"
        out.append(line + "\n")
    return "".join(out)


def _idt_text(prog: Program) -> str:
    from crashpy.symbols.crash_view import crash_symtab

    table = crash_symtab(prog)
    out = []
    for i, addr in enumerate(irqs.idt_entries(prog)):
        name = table.value_to_symstr(addr)
        if not name:
            name = f"{addr:016x}"
        out.append(f"{'  ' if i < 10 else ' ' if i < 100 else ''}[{i}] {name}\n")
    return "".join(out)


def _affinity_text(prog: Program, ncpus: int) -> str:
    out = ["IRQ NAME                 AFFINITY\n"]
    for irq in range(irqs.nr_irqs(prog)):
        row = irqs.irq_desc(prog, irq)
        if not row.actions:
            continue
        cpus = irqs.irq_affinity(prog, row.desc, ncpus)
        out.append(f"{irq:3d} {irqs.action_names(row):<20s} {irqs.cpu_ranges(cpus)}\n")
    return "".join(out)


def _interrupts_text(prog: Program, cpus: list[int], ncpus: int) -> str:
    out = ["     " + "".join(f"{'CPU' + str(c):>10s} " for c in range(ncpus) if c in cpus) + "\n"]
    for irq in range(irqs.nr_irqs(prog)):
        row = irqs.irq_desc(prog, irq)
        if not row.actions:
            continue
        counts = irqs.irq_counts(prog, row.desc, cpus)
        line = f"{irq:3d}: " + "".join(f"{counts[c]:10d} " for c in range(ncpus) if c in cpus)
        chip, flow = irqs.chip_names(prog, row.desc)
        if chip is not None:
            line += f"{chip:>8s}"
        if flow is not None:
            line += f"-{flow:<8s}"
        out.append(line + f" {irqs.action_names(row)}\n")
    return "".join(out)


def irq_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`irq --json`: every interrupt with a descriptor, its actions and names."""
    prog = session.prog
    rows = []
    for irq in range(irqs.nr_irqs(prog)):
        try:
            row = irqs.irq_desc(prog, irq)
        except CrashpyError:
            continue
        if row.desc:
            rows.append(
                {
                    "irq": irq,
                    "irq_desc": hex_address(row.desc),
                    "actions": [{"irqaction": hex_address(a), "name": n} for a, n in row.actions],
                }
            )
    return {"irqs": rows}


@command("irq", summary="IRQ data", help=HELP, json=irq_document)
def cmd_irq(session: Session, args: list[str]) -> None:
    prog = session.prog
    parsed = getopt(args, "dbuasc:")
    argerrs = 0
    for err in parsed.errors:
        session.println(f"irq: {err}")
        argerrs += 1
    in_use = show = False
    cpu_arg: str | None = None
    for c, optarg in parsed.opts:
        if c == "d":
            session.write(_idt_text(prog))
            return
        if c == "b":
            session.write(_softirq_text(prog))
            return
        if c == "a":
            session.write(_affinity_text(prog, cpu_count(prog)))
            return
        if c == "u":
            in_use = True
        elif c == "s":
            show = True
        elif c == "c":
            if cpu_arg is not None:
                session.println("irq: only one -c option allowed")
                argerrs += 1
            else:
                cpu_arg = optarg or ""
    if argerrs:
        _usage(session)
        return
    count = irqs.nr_irqs(prog)
    if not count:
        raise CommandError("cannot determine number of IRQs")
    if show:
        ncpus = cpu_count(prog)
        cpus = make_cpumask(cpu_arg, ncpus) if cpu_arg is not None else list(range(ncpus))
        session.write(_interrupts_text(prog, cpus, ncpus))
        return
    if not parsed.args:
        session.write(_header())
        for irq in range(count):
            row = irqs.irq_desc(prog, irq)
            if in_use and not row.desc:
                continue
            session.write(_desc_line(row))
        return
    header = False
    for arg in parsed.args:
        irq = dtoi(arg)
        if irq >= count:
            raise CommandError(f"invalid IRQ value: {irq}  ({count - 1} max)")
        if not header:
            session.write(_header())
            header = True
        session.write(_desc_line(irqs.irq_desc(prog, irq)))
