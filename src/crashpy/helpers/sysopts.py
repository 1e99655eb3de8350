"""Data behind `sys`'s options: the taint letters, the DMI strings and the system call table."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError
from crashpy.object import lookup_type, object_for_symbol, resolve
from crashpy.types.model import ArrayType, EnumType

if TYPE_CHECKING:
    from crashpy.program import Program


def _array_length(prog: Program, name: str) -> int:
    t = resolve(object_for_symbol(prog, name).type_)
    return t.length if isinstance(t, ArrayType) and t.length else 0


@dataclass
class Taints:
    mask: int
    letters: str
    old_style: bool  # the kernel has an int `tainted` instead of tainted_mask and taint_flags[]


def taints(prog: Program) -> Taints | None:
    """The taint mask and crash's letters for it: each taint_flags[] entry's letter when its bit is set,
    its "false" letter otherwise unless that is ' ', '-' or 'G'.  None when the kernel has neither."""
    if prog.has_symbol("tainted"):
        return Taints(prog.read_u32(prog.symbol_address("tainted")), "", True)
    if not (prog.has_symbol("taint_flags") and prog.has_symbol("tainted_mask")):
        return None
    mask = int.from_bytes(prog.read(prog.symbol_address("tainted_mask"), 8, what="tainted_mask"), "little")
    letters = []
    for i, (set_letter, clear_letter) in enumerate(taint_flag_letters(prog)):
        if mask >> i & 1:
            letters.append(set_letter)
        elif clear_letter not in " -G":
            letters.append(clear_letter)
    return Taints(mask, "".join(letters), False)


def taint_flag_letters(prog: Program) -> list[tuple[str, str]]:
    """taint_flags[]: each taint bit's letter when set and when clear (include/linux/panic.h);
    [] when the kernel has no such table."""
    if not prog.has_symbol("taint_flags"):
        return []
    return list(prog.cache("sysopts.taint_flag_letters", lambda: _read_taint_flags(prog)))


def _read_taint_flags(prog: Program) -> list[tuple[str, str]]:
    flags = object_for_symbol(prog, "taint_flags")
    true_member = "c_true" if prog.has_member("taint_flag", "c_true") else "true"
    false_member = "c_false" if prog.has_member("taint_flag", "c_false") else "false"
    result = []
    for i in range(_array_length(prog, "taint_flags")):
        entry = flags.index_(i)
        set_letter = int(entry.member_(true_member)) & 0xFF
        if not set_letter:
            break  # past the table (its length was bounded by the next symbol: no vmlinux)
        result.append((chr(set_letter), chr(int(entry.member_(false_member)) & 0xFF)))
    return result


def dmi_strings(prog: Program) -> tuple[int, list[tuple[str, str]]]:
    """The width of the longest field name, and (field name, string) of every dmi_ident[] entry that
    is set, names from enum dmi_field (`dmi_ident[N]` when the enum is unknown)."""
    if not prog.has_symbol("dmi_ident"):
        raise CommandError("dmi_ident does not exist in this kernel")
    base = prog.symbol_address("dmi_ident")
    count = _array_length(prog, "dmi_ident")
    try:
        enum = resolve(lookup_type(prog, "enum dmi_field"))
    except CrashpyError:
        enum = None
    names: list[tuple[int, str]] = []
    if isinstance(enum, EnumType):
        for name, value in enum.enumerators.items():
            if value >= count:
                break  # crash stops at the first enumerator past the array (DMI_STRING_MAX)
            names.append((value, name))
    else:
        names = [(i, f"dmi_ident[{i}]") for i in range(count)]
    out = []
    for index, name in names:
        ptr = int.from_bytes(prog.read(base + 8 * index, 8, what="dmi_ident"), "little")
        if ptr:
            out.append((name, prog.read_cstring(ptr).decode("latin-1")))
    return max((len(name) for _, name in names), default=0), out


@dataclass
class Syscall:
    number: int
    handler: int
    name: str | None  # the handler's symbol; None for an entry that is no symbol's address
    source: str  # "../path.c: line" as crash shows it, or ""


def _build_directory(prog: Program) -> str:
    from crashpy.dwarf.lines import source_line

    for name in ("schedule", "do_schedule"):
        if prog.has_symbol(name):
            text = source_line(prog, prog.symbol_address(name))
            for marker in ("/kernel/", "/./arch/"):
                k = text.find(marker)
                if k >= 0:
                    return text[:k]
            return ""
    return ""


def _syscall_source(prog: Program, addr: int, end: int, build: str) -> str:
    """The first line of the handler that is not a header's inline, with the build directory shown
    as `..`; "" when none is found before the next symbol."""
    from crashpy.dwarf.lines import source_line

    if not build:
        return ""
    for a in range(addr, end):
        text = source_line(prog, a)
        if ".h: " in text and "include/" in text:
            continue
        if build in text:
            return ".." + text[text.find(build) + len(build) :]
    return ""


def syscall_table(prog: Program) -> list[Syscall]:
    """sys_call_table[]: each entry's handler, its symbol and its source line."""
    from crashpy.symbols.crash_view import crash_symtab

    count = _array_length(prog, "sys_call_table")
    base = prog.symbol_address("sys_call_table")
    raw = prog.read(base, 8 * count, what="sys_call_table")
    if not prog.debuginfo:
        # without DWARF the table's length is bounded by the next symbol: the padding before it holds
        # zeros, which no real entry does (an unused number points at sys_ni_syscall)
        while count and not any(raw[8 * count - 8 : 8 * count]):
            count -= 1
    symtab = crash_symtab(prog)
    values = symtab.values
    ni = prog.symbol_address("sys_ni_syscall") if prog.has_symbol("sys_ni_syscall") else 0
    build = _build_directory(prog)
    out = []
    for i in range(count):
        handler = int.from_bytes(raw[8 * i : 8 * i + 8], "little")
        found = symtab.value_search(handler)
        if found is None or found[1]:
            out.append(Syscall(i, handler, None, ""))
            continue
        name = "sys_ni_syscall" if ni and handler == ni else found[0].name
        k = bisect.bisect_right(values, handler)
        end = values[k] if k < len(values) else handler + 1
        out.append(Syscall(i, handler, name, _syscall_source(prog, handler, end, build)))
    return out


def kernel_config(prog: Program) -> list[str]:
    """The kernel's own .config (CONFIG_IKCONFIG): the gzip data after "IKCFG_ST" up to "IKCFG_ED",
    inflated, as crash prints it (blank lines and leading blanks dropped)."""
    import zlib

    if not prog.has_symbol("kernel_config_data"):
        raise CommandError("kernel_config_data does not exist in this kernel")
    start = prog.symbol_address("kernel_config_data")
    if prog.has_symbol("kernel_config_data_end"):
        data = prog.read(start, prog.symbol_address("kernel_config_data_end") - start, what="kernel_config_data")
    else:
        data = prog.read(start, 1 << 20, what="kernel_config_data")
    if data.startswith(b"IKCFG_ST"):
        data = data[8:]
    end = data.find(b"IKCFG_ED")
    if end >= 0:
        data = data[:end]
    try:
        text = zlib.decompress(data, 16 + zlib.MAX_WBITS).decode("latin-1")
    except zlib.error as e:
        raise CommandError(f"cannot uncompress kernel_config_data: {e}") from None
    return [line.lstrip() for line in text.splitlines() if line.strip()]
