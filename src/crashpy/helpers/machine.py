"""What `mach` reports on x86_64: the firmware memory map (e820), each CPU's cpuinfo_x86, the
hypervisor the kernel found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError
from crashpy.object import Object, object_for_symbol, per_cpu, resolve, sizeof
from crashpy.types.model import TypeKind

if TYPE_CHECKING:
    from crashpy.program import Program


@dataclass(frozen=True)
class E820Entry:
    """One range of the firmware memory map: [start, end) and its enum e820_type value."""

    start: int
    end: int
    type: int


def e820_table(prog: Program) -> Object:
    """The kernel's e820 map (struct e820_table, or struct e820map on kernels before 4.12)."""
    if prog.has_symbol("e820"):
        obj = object_for_symbol(prog, "e820")
        return obj.deref_() if resolve(obj.type_).kind is TypeKind.POINTER else obj
    if prog.has_symbol("e820_table"):
        return object_for_symbol(prog, "e820_table").deref_()
    raise CommandError("neither e820 or e820_table symbols exist")


def e820_entries(prog: Program) -> list[E820Entry]:
    """The entries of the e820 map, in the kernel's order. The whole table is read at once, as crash
    does: a page of it missing from the dump fails the read (FaultError, "e820map")."""
    where = e820_table(prog)
    raw = prog.read(where.address_ or 0, sizeof(where.type_), what="e820map")
    table = Object(prog, where.type_, where.address_, raw)
    nr_member, entries_member = (
        ("nr_entries", "entries") if table.has_member_("nr_entries") else ("nr_map", "map")
    )
    entries = table.member_(entries_member)
    out = []
    for i in range(int(table.member_(nr_member))):
        e = entries.index_(i)
        start = int(e.member_("addr"))
        out.append(E820Entry(start, start + int(e.member_("size")), int(e.member_("type"))))
    return out


def cpu_info(prog: Program, cpu: int) -> int:
    """The address of `cpu`'s struct cpuinfo_x86: per-CPU cpu_info, else boot_cpu_data."""
    if prog.has_symbol("cpu_info"):
        return per_cpu(prog, "cpu_info", cpu).address_ or 0
    return prog.symbol_address("boot_cpu_data")


def hypervisor(prog: Program) -> str:
    """The hypervisor's name as crash finds it: pv_info.name, else x86_hyper->name ("bare hardware"
    when unset), else "(undetermined)"."""
    try:
        if prog.has_symbol("pv_info"):
            name = object_for_symbol(prog, "pv_info").member_("name")
            text = name.string_() if int(name) else b""
            if text:
                return text.decode("utf-8", "replace")
        if prog.has_symbol("x86_hyper"):
            hyper = object_for_symbol(prog, "x86_hyper")
            if not int(hyper):
                return "bare hardware"
            return hyper.deref_().member_("name").string_().decode("utf-8", "replace")
    except CrashpyError:
        pass
    return "(undetermined)"
