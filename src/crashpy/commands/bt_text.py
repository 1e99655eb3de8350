"""bt's text, written from the unwinder's records (crashpy.unwind.records) as crash 8.0.6 prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.unwind import (
    Backtrace,
    ExceptionFrame,
    Frame,
    StackChange,
    StackWords,
    UnwindOptions,
)

if TYPE_CHECKING:
    from crashpy.program import Program

# pt_regs' members in the order `bt -R` looks at them
PT_REGS_ORDER = (
    "ip", "sp", "cs", "ss", "flags", "orig_ax", "bp", "ax", "bx", "cx", "dx",
    "si", "di", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
)  # fmt: skip


@dataclass(eq=False)
class BtOptions:
    """bt's options: what the unwinder is asked for, and how its records are written."""

    unwind: UnwindOptions = field(default_factory=UnwindOptions)
    full_sym_slab: int = 0  # -F (1) / -FF (2): stack words as symbols and slab caches
    symbol_offset: bool = False  # -s
    radix: int = 0  # -x / -d (0: the session's)
    raw: bool = False  # -r
    ref: str | None = None  # -R


def backtrace_lines(prog: Program, bt: Backtrace, opts: BtOptions, radix: int) -> list[str]:
    """crash's lines for one task's trace (without the task header), in the session's `radix`."""
    out: list[str] = []
    if bt.no_stack:
        out.append("(no stack)")
    if bt.no_start:
        out.append("bt: cannot determine starting stack pointer")
    text_scan = opts.unwind.text_scan
    if bt.start is not None:
        function, pc = bt.start
        extra = " (schedule)" if function == "thread_return" else ""
        out.append(f"{' ' * 14}START: {function}{extra} at {pc:x}")
    for entry in bt.entries:
        if isinstance(entry, Frame):
            out.append(_frame_line(entry, opts, radix, text_scan))
            if entry.source:
                out.append(f"    {entry.source}")
        elif isinstance(entry, ExceptionFrame):
            out.extend(_eframe_lines(entry, radix))
        elif isinstance(entry, StackWords):
            out.extend(_words_lines(prog, entry, opts, radix))
        elif isinstance(entry, StackChange):
            out.append(f"--- <{entry.stack} exception stack> ---" if entry.exception else f"--- <{entry.stack} stack> ---")
    if bt.recursion is not None:
        out.append(f"    [ {bt.recursion} exception stack recursion: prior stack location overwritten ]")
    if bt.fault is not None:
        out.append(f"bt: {bt.fault.message()}")
    if bt.error:
        out.append(f"bt: {bt.error}")
    return out


def _symbol_offset(name: str, offset: int, radix: int) -> str:
    if not offset:
        return name
    return f"{name}+0x{offset:x}" if radix != 10 else f"{name}+{offset}"


def _frame_line(frame: Frame, opts: BtOptions, radix: int, text_scan: bool) -> str:
    shown = frame.function
    if opts.symbol_offset:
        shown = _symbol_offset(frame.function, frame.offset, opts.radix or radix)
    mod = f" [{frame.module}]" if frame.module else ""
    if text_scan:
        return f"  [{frame.sp:16x}] {shown} at {frame.pc:x}{mod}"
    level = f"{' ' if frame.level < 10 else ''}#{frame.level}"
    return f"{level} [{frame.sp:8x}] {shown} at {frame.pc:x}{mod}{' *' if frame.sizes_given_up else ''}"


def _rip_text(eframe: ExceptionFrame, radix: int) -> str:
    if eframe.function is None:
        return "no symbolic reference" if eframe.rip_in_vmalloc else "unknown or invalid address"
    return _symbol_offset(eframe.function, eframe.offset, 16 if radix == 16 else 10)


def _eframe_lines(eframe: ExceptionFrame, radix: int) -> list[str]:
    out: list[str] = []
    kernel = not eframe.user_mode
    if eframe.from_note:
        out.append(f"    [exception RIP: {_rip_text(eframe, radix) if kernel else 'user space'}]")
    elif eframe.searched:
        out.append("")
        out.append(f"  {'KERNEL' if kernel else 'USER'}-MODE EXCEPTION FRAME AT: {eframe.address:x}")
    if kernel and not eframe.from_note:
        out.append(f"    [exception RIP: {_rip_text(eframe, radix)}]")
    r = eframe.regs
    if not r:
        return out
    out.append(f"    RIP: {r['ip']:016x}  RSP: {r['sp']:016x}  RFLAGS: {r['flags']:08x}")
    out.append(f"    RAX: {r['ax']:016x}  RBX: {r['bx']:016x}  RCX: {r['cx']:016x}")
    out.append(f"    RDX: {r['dx']:016x}  RSI: {r['si']:016x}  RDI: {r['di']:016x}")
    out.append(f"    RBP: {r['bp']:016x}   R8: {r['r8']:016x}   R9: {r['r9']:016x}")
    out.append(f"    R10: {r['r10']:016x}  R11: {r['r11']:016x}  R12: {r['r12']:016x}")
    out.append(f"    R13: {r['r13']:016x}  R14: {r['r14']:016x}  R15: {r['r15']:016x}")
    if eframe.from_note:
        out.append(f"    CS: {r['cs'] & 0xFFFF:04x}  SS: {r['ss'] & 0xFFFF:04x}")
    else:
        out.append(f"    ORIG_RAX: {r['orig_ax']:016x}  CS: {r['cs']:04x}  SS: {r['ss']:04x}")
    if eframe.source:
        out.append(f"    {eframe.source}")
    return out


def _words_lines(prog: Program, words: StackWords, opts: BtOptions, radix: int) -> list[str]:
    """bt -f's words of one frame, two a line."""
    out: list[str] = []
    addr = words.address
    for i in range(0, len(words.words), 2):
        pair = words.words[i : i + 2]
        out.append(f"    {addr + i * 8:x}: " + "".join(f"{_word(prog, v, opts, radix)} " for v in pair))
    return out


def _word(prog: Program, value: int, opts: BtOptions, radix: int) -> str:
    """One stack word of `bt -f` (hex), or with -F its symbol or `[slab cache]` when it has one."""
    if not opts.full_sym_slab:
        return f"{value:016x}"
    from crashpy.helpers.crash_reads import accessible_as_crash

    if not accessible_as_crash(prog, value):
        return f"{value:016x}"
    from crashpy.symbols.crash_view import crash_symtab

    symtab = crash_symtab(prog)
    if symtab.in_ksymbol_range(value) or symtab.module_name_of(value) is not None:
        text = symtab.value_to_symstr(value, radix)
        if text:
            return f"{text:<16}"
    from crashpy.helpers.slab import vaddr_to_kmem_cache

    cache = vaddr_to_kmem_cache(prog, value)
    if cache is not None:
        text = f"[{value:x}:{cache}]" if opts.full_sym_slab > 1 else f"[{cache}]"
        return f"{text:<16}"
    return f"{value:016x}"


def mentions(bt: Backtrace, ref: str) -> bool:
    """bt -R: whether the trace names the symbol `ref` or holds the value `ref` (hexadecimal) in a
    frame's return address or an exception frame's registers."""
    try:
        value: int | None = int(ref, 16)
    except ValueError:
        value = None
    for entry in bt.entries:
        if isinstance(entry, Frame):
            if entry.function == ref or (value is not None and entry.pc == value):
                return True
        elif isinstance(entry, ExceptionFrame) and not entry.from_note:
            if value is not None and any(entry.regs[k] == value for k in PT_REGS_ORDER):
                return True
            if entry.function == ref:
                return True
    return False
