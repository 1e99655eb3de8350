"""Where each CPU's alternate stacks are: the hard-IRQ stack (per-cpu `hardirq_stack_ptr`, or
`pcpu_hot.hardirq_stack_ptr` since v6.2) and the IST exception stacks of the cpu_entry_area (the
TSS's `ist[]` tops, named from the IDT gates that use them, sized by `struct cea_exception_stacks`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError

if TYPE_CHECKING:
    from crashpy.program import Program

MAX_EXCEPTION_STACKS = 7
THREAD_SIZE = 16384

# IDT handler name fragment -> crash's stack name (crash: x86_64_exception_stacks_init)
_IST_NAMES = (
    ("nmi", "NMI"),
    ("debug", "DEBUG"),
    ("stack", "STACKFAULT"),
    ("double", "DOUBLEFAULT"),
    ("machine", "MCE"),
    ("vmm", "VC"),
)
_CEA_MEMBER = {
    "DEBUG": "DB_stack",
    "NMI": "NMI_stack",
    "DOUBLEFAULT": "DF_stack",
    "MCE": "MCE_stack",
    "VC": "VC_stack",
}


@dataclass
class ExceptionStack:
    name: str
    base: int
    size: int
    available: bool


@dataclass
class StackInfo:
    irq_size: int = 16384
    irq_base: list[int] = field(default_factory=list)  # per cpu; 0 when unknown
    names: list[str] = field(default_factory=list)  # per IST slot
    estacks: list[list[ExceptionStack]] = field(default_factory=list)  # per cpu, per IST slot

    def in_irq_stack(self, addr: int) -> int:
        """The base of the IRQ stack holding `addr` (any cpu), or 0."""
        for base in self.irq_base:
            if base == 0:
                break
            if base <= addr < base + self.irq_size:
                return base
        return 0

    def in_exception_stack(self, addr: int) -> tuple[int, int]:
        """(base, IST slot) of the exception stack holding `addr` (any cpu), or (0, -1)."""
        for per_cpu in self.estacks:
            for i, es in enumerate(per_cpu):
                if es.base == 0 or not es.available:
                    break
                if es.base <= addr < es.base + es.size:
                    return es.base, i
        return 0, -1

    def in_alternate_stack(self, cpu: int, addr: int) -> bool:
        if cpu < len(self.irq_base):
            base = self.irq_base[cpu]
            if base and base <= addr < base + self.irq_size:
                return True
        if cpu < len(self.estacks):
            for es in self.estacks[cpu]:
                if es.base and es.base <= addr < es.base + es.size:
                    return True
        return False


def _member_size(prog: Program, struct_name: str, member: str) -> int:
    try:
        return int(prog.btf.member(struct_name, member).type.size)
    except CrashpyError:
        return 0


def _ist_names(prog: Program) -> list[str]:
    from crashpy.symbols.crash_view import crash_symtab

    names = ["(unknown)"] * MAX_EXCEPTION_STACKS
    if not prog.has_symbol("idt_table"):
        return names
    try:
        idt = prog.read(prog.symbol_address("idt_table"), 16 * 256, what="idt_table")
    except FaultError:
        return names
    symtab = crash_symtab(prog)
    for i in range(256):
        lo, _seg, bits, mid, hi, _ = struct.unpack_from("<HHHHII", idt, i * 16)
        ist = bits & 0x7
        if not ist:
            continue
        handler = lo | (mid << 16) | (hi << 32)
        found = symtab.value_search(handler)
        fn = found[0].name if found else ""
        for frag, name in _IST_NAMES:
            if frag in fn:
                names[ist - 1] = name
    return names


def _build(prog: Program) -> StackInfo:
    info = StackInfo()
    ncpus = len(prog.percpu_offsets)
    # IRQ stacks
    try:
        info.irq_size = _member_size(prog, "irq_stack", "stack") or 16384
        if prog.has_symbol("pcpu_hot"):
            addr = prog.symbol_address("pcpu_hot") + prog.offsetof("pcpu_hot", "hardirq_stack_ptr")
        elif prog.has_symbol("hardirq_stack_ptr"):
            addr = prog.symbol_address("hardirq_stack_ptr")
        else:
            addr = 0
        for cpu in range(ncpus):
            if not addr:
                info.irq_base.append(0)
                continue
            try:
                ptr = prog.read_u64(prog.percpu_address(addr, cpu))
            except FaultError:
                info.irq_base.append(0)
                continue
            if ptr != ptr & ~0xFFF:
                ptr += 8
            info.irq_base.append(ptr - info.irq_size if ptr else 0)
    except CrashpyError:
        info.irq_base = [0] * ncpus
    # exception stacks
    info.names = _ist_names(prog)
    sizes = [
        _member_size(prog, "cea_exception_stacks", _CEA_MEMBER.get(n, "")) if n in _CEA_MEMBER else 0
        for n in info.names
    ]
    try:
        tss = prog.symbol_address("cpu_tss_rw")
        ist_off = prog.offsetof("tss_struct", "x86_tss") + prog.offsetof("x86_hw_tss", "ist")
    except CrashpyError:
        tss = 0
        ist_off = 0
    for cpu in range(ncpus):
        row: list[ExceptionStack] = []
        tops = [0] * MAX_EXCEPTION_STACKS
        if tss:
            try:
                tops = list(
                    struct.unpack(
                        "<7Q",
                        prog.read(prog.percpu_address(tss, cpu) + ist_off, 56, what="tss_struct ist array"),
                    )
                )
            except FaultError:
                pass
        for i in range(MAX_EXCEPTION_STACKS):
            base = tops[i] - sizes[i] if tops[i] else 0
            available = True
            if info.names[i] == "VC" and base:
                try:
                    prog.read(base, 8, what="VC stack")
                except FaultError:
                    available = False
            row.append(ExceptionStack(info.names[i], base, sizes[i], available))
        info.estacks.append(row)
    return info


def stack_info(prog: Program) -> StackInfo:
    """Every CPU's IRQ and exception stacks (built once per Program)."""
    result: StackInfo = prog.cache("unwind.stacks", lambda: _build(prog))
    return result
