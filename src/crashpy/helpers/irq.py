"""Interrupt descriptors, their actions, per-CPU counts, softirq vectors and the x86_64 IDT.

Kernel knowledge behind `irq`: where a kernel keeps its struct irq_desc (a static irq_desc[] array, the
sparse_irqs maple tree of 6.x, or the irq_desc_tree radix tree / XArray before it), the irqaction chain
of a descriptor, the affinity mask, the kstat_irqs per-CPU counters and the chip's name.  Everything is
returned as rows; commands/irq.py lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.crash_reads import read_cstring_as_crash

if TYPE_CHECKING:
    from crashpy.program import Program

MASK64 = (1 << 64) - 1


@dataclass
class IrqDesc:
    """One interrupt: its number, descriptor address (0: none) and its actions' addresses and names."""

    irq: int
    desc: int
    actions: list[tuple[int, str | None]] = field(default_factory=list)


def nr_irqs(prog: Program) -> int:
    """How many IRQ numbers crash walks: irq_desc[]'s length, else the kernel's nr_irqs, else 224."""
    if prog.has_symbol("irq_desc"):
        return _array_length(prog, "irq_desc")
    if prog.has_symbol("nr_irqs"):
        return prog.read_u32(prog.symbol_address("nr_irqs"))
    return 224


def _irq_of_desc(prog: Program, desc: int) -> int:
    off = prog.offsetof("irq_desc", "irq_data") + prog.offsetof("irq_data", "irq")
    return prog.read_u32(desc + off)


def desc_table(prog: Program) -> dict[int, int]:
    """IRQ number -> struct irq_desc address of every descriptor the kernel allocated."""

    def build() -> dict[int, int]:
        if prog.has_symbol("irq_desc"):
            base = prog.symbol_address("irq_desc")
            size = prog.sizeof("irq_desc")
            return {i: base + i * size for i in range(nr_irqs(prog))}
        if prog.has_symbol("sparse_irqs"):
            from crashpy.helpers.maple_tree import mt_entries

            table: dict[int, int] = {}
            entries = [entry for _, _, entry in mt_entries(prog, prog.symbol_address("sparse_irqs"))]
            if not entries:
                return table
            highest = _irq_of_desc(prog, entries[-1])  # crash looks no further than the last one's number
            for entry in entries:
                irq = _irq_of_desc(prog, entry)
                if irq <= highest:
                    table.setdefault(irq, entry)
            return table
        if prog.has_symbol("irq_desc_tree"):
            from crashpy.helpers.xarray import xa_walk

            return {
                slot.index: slot.slot
                for slot in xa_walk(prog, prog.symbol_address("irq_desc_tree"))
                if slot.slot
            }
        raise CommandError(
            "neither irq_desc, _irq_desc, irq_desc_ptrs, irq_desc_tree or sparse_irqs symbols exist"
        )

    return prog.cache("irq.desc_table", build)  # type: ignore[no-any-return]


def _string(prog: Program, addr: int) -> str | None:
    """crash's read_string(): the text at `addr`, or None when it cannot be read or is empty."""
    if not addr:
        return None
    try:
        text = read_cstring_as_crash(prog, addr, 1499).decode("latin-1")
    except CrashpyError:
        return None
    return text or None


def irq_actions(prog: Program, desc: int) -> list[tuple[int, str | None]]:
    """The irqaction chain of descriptor `desc`: (address, name) of each action."""
    out: list[tuple[int, str | None]] = []
    action = prog.read_u64(desc + prog.offsetof("irq_desc", "action"))
    name_off = prog.offsetof("irqaction", "name")
    next_off = prog.offsetof("irqaction", "next")
    seen: set[int] = set()
    while action and action not in seen:
        seen.add(action)
        out.append((action, _string(prog, prog.read_u64(action + name_off))))
        action = prog.read_u64(action + next_off)
    return out


def irq_desc(prog: Program, irq: int) -> IrqDesc:
    desc = desc_table(prog).get(irq, 0)
    return IrqDesc(irq, desc, irq_actions(prog, desc) if desc else [])


def action_names(row: IrqDesc) -> str:
    """The action names joined with commas, as /proc/interrupts shows them."""
    return ",".join(name for _, name in row.actions if name)


def irq_affinity(prog: Program, desc: int, ncpus: int) -> list[int]:
    """The CPUs in the affinity mask of descriptor `desc` (the first `ncpus` of them)."""
    if prog.has_member("irq_common_data", "affinity"):
        addr = (
            desc + prog.offsetof("irq_desc", "irq_common_data") + prog.offsetof("irq_common_data", "affinity")
        )
    elif prog.has_member("irq_data", "affinity"):
        addr = desc + prog.offsetof("irq_data", "affinity")
    else:
        addr = desc + prog.offsetof("irq_desc", "affinity")
    if prog.has_symbol("alloc_cpumask_var_node") or prog.has_symbol("alloc_cpumask_var"):
        addr = prog.read_u64(addr)
    nbytes = min((ncpus + 63) // 64 * 8, prog.sizeof("cpumask"))
    mask = int.from_bytes(prog.read(addr, nbytes), "little")
    return [cpu for cpu in range(ncpus) if mask >> cpu & 1]


def cpu_ranges(cpus: list[int]) -> str:
    """`0-1,3`: runs of consecutive CPUs."""
    parts: list[str] = []
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        parts.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(parts)


def irq_counts(prog: Program, desc: int, cpus: list[int]) -> dict[int, int]:
    """The kstat_irqs count of each of `cpus` for descriptor `desc`."""
    ptr = prog.read_u64(desc + prog.offsetof("irq_desc", "kstat_irqs"))
    offsets = prog.percpu_offsets
    return {cpu: prog.read_u32((ptr + offsets[cpu]) & MASK64) for cpu in cpus}


def chip_names(prog: Program, desc: int) -> tuple[str | None, str | None]:
    """(the chip's name, the descriptor's flow-handler name) for the /proc/interrupts type column."""
    if prog.has_member("irq_desc", "irq_data"):
        chip_addr = desc + prog.offsetof("irq_desc", "irq_data") + prog.offsetof("irq_data", "chip")
    else:
        chip_addr = desc + prog.offsetof("irq_desc", "chip")
    chip = prog.read_u64(chip_addr)
    chip_name = _string(prog, prog.read_u64(chip + prog.offsetof("irq_chip", "name"))) if chip else None
    flow = None
    if prog.has_member("irq_desc", "name"):
        flow = _string(prog, prog.read_u64(desc + prog.offsetof("irq_desc", "name")))
    return chip_name, flow


def softirq_vectors(prog: Program) -> list[tuple[int, int]]:
    """(vector number, action function) of each softirq_vec[] slot that holds a function."""
    if not prog.has_symbol("softirq_vec"):
        raise CommandError("bottom-half option not supported")
    base = prog.symbol_address("softirq_vec")
    size = prog.sizeof("softirq_action")
    count = prog.cache("irq.nr_softirqs", lambda: _array_length(prog, "softirq_vec"))
    if not count:
        raise CommandError("cannot determine softirq_vec array length")
    out = []
    for i in range(count):
        fn = prog.read_u64(base + i * size)
        if fn:
            out.append((i, fn))
    return out


def _array_length(prog: Program, name: str) -> int:
    """The declared length of array variable `name` (0: not an array)."""
    from crashpy.object import object_for_symbol, resolve
    from crashpy.types.model import ArrayType

    t = resolve(object_for_symbol(prog, name).type_)
    return t.length if isinstance(t, ArrayType) and t.length else 0


def idt_entries(prog: Program) -> list[int]:
    """The handler address of each of the 256 gates of the x86_64 idt_table."""
    size = prog.sizeof("gate_struct")
    raw = prog.read(prog.symbol_address("idt_table"), size * 256)
    out = []
    for i in range(256):
        lo = int.from_bytes(raw[i * size : i * size + 8], "little")
        hi = int.from_bytes(raw[i * size + 8 : i * size + 16], "little")
        out.append(((hi << 32) & 0xFFFFFFFF00000000) | (lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000))
    return out
