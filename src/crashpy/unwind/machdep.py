"""What crash keeps in its machdep for x86_64's bt, per Program: the symbols as crash sees them, the
ORC tables, the CPUs' alternate stacks, the frame sizes found by reading a function's code, and a
stack read whole (`Stack`) with its words that can be kernel text.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CrashpyError, FaultError
from crashpy.unwind.orc import orc_tables
from crashpy.unwind.stacks import stack_info

if TYPE_CHECKING:
    from crashpy.program import Program

TEXT_FLOOR = 0xFFFFFFFF80000000  # x86_64 kernel and module text lie above this

_FF4 = b"\xff\xff\xff\xff"


def text_candidates(raw: bytes) -> list[int]:
    """Indexes of the little-endian words of `raw` at or above TEXT_FLOOR: a word whose high half is
    ff ff ff ff with bit 31 set in its low half (found with bytes.find, as such words are few)."""
    out: list[int] = []
    find = raw.find
    n = len(raw)
    pos = find(_FF4)
    while pos != -1:
        a = pos + ((4 - pos) & 7)  # the first word's high half at or after pos
        if a + 4 <= n and raw[a : a + 4] == _FF4:
            if raw[a - 1] >= 0x80:
                out.append(a >> 3)
            pos = find(_FF4, a + 8)
        else:
            pos = find(_FF4, pos + 1)
    return out


@dataclass(eq=False, repr=False)
class Stack:
    """A stack read whole: [base, top) and its words."""

    base: int
    top: int
    words: tuple[int, ...]
    raw: bytes = b""
    _candidates: list[int] | None = None

    def candidates(self) -> list[int]:
        """Indexes of the words that can be kernel or module text (the top 2 GB), ascending."""
        if self._candidates is None:
            self._candidates = text_candidates(self.raw) if self.raw else [
                k for k, v in enumerate(self.words) if v >= TEXT_FLOOR
            ]
        return self._candidates

    def word(self, addr: int) -> int:
        return self.words[(addr - self.base) // 8]

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.top


class Unwinder:
    """What crash keeps in its machdep for bt: symbols, ORC, stacks, the frame-size cache."""

    def __init__(self, prog: Program) -> None:
        from crashpy.symbols.crash_view import crash_symtab

        self.prog = prog
        self.symtab = crash_symtab(prog)
        self.orc = orc_tables(prog)
        self.stacks = stack_info(prog)
        self.framesize_cache: dict[int, tuple[int, bool]] = {}
        self._code_cache: dict[int, tuple[int, list[tuple[int, str, str]]]] = {}  # start -> (end, insns)
        self._text_cache: dict[int, bool] = {}
        self._module_cache: dict[int, str | None] = {}
        self.use_old_bt = False
        self.pt_regs_size = self._sizeof("pt_regs", 168)
        self.thread_info_size = self._sizeof("thread_info", 24)
        self.ret_addr_off = self._offset("inactive_task_frame", "ret_addr", 0x30)
        self.bp_off = self._offset("inactive_task_frame", "bp", 0x28)
        self.thread_sp_off = self._offset("task_struct", "thread.sp", -1)
        self.stack_off = self._offset("task_struct", "stack", -1)
        sa = self.symbol_value
        self.init_begin = sa("__init_begin")
        self.init_end = sa("__init_end")
        self.thread_return = self._thread_return()
        self.asm_common_interrupt = self.symtab.exists("asm_common_interrupt")
        # v3.3 (commit 3f3c8b8c4b2a): NMIs nest, with a saved copy of the interrupted frame
        self.nested_nmi = self.symtab.exists("repeat_nmi")
        self.irq_eframe_link = (
            (-64 if self.symtab.exists("asm_call_on_stack") else -32) if self.asm_common_interrupt else 40
        )

    # ---- small look-ups ------------------------------------------------------------------------------

    def _sizeof(self, name: str, default: int) -> int:
        try:
            return self.prog.sizeof(name)
        except CrashpyError:
            return default

    def _offset(self, struct_name: str, member: str, default: int) -> int:
        try:
            return self.prog.offsetof(struct_name, member)
        except CrashpyError:
            return default

    def symbol_value(self, name: str) -> int:
        """A symbol's address, 0 when there is no such symbol."""
        v = self.symtab.value_of(name)
        return v if v is not None else 0

    def value_search(self, value: int) -> tuple[str, int] | None:
        found = self.symtab.value_search(value)
        if found is None:
            return None
        return found[0].name, found[1]

    def closest_symbol(self, value: int) -> str | None:
        found = self.symtab.value_search(value)
        return found[0].name if found else None

    def is_kernel_text(self, value: int) -> bool:
        # x86_64 keeps kernel and module text in the top 2 GB (the kernel image map and the module area)
        if value < 0xFFFFFFFF80000000:
            return False
        known = self._text_cache.get(value)
        if known is None:
            known = self._text_cache[value] = self.symtab.is_kernel_text(value)
        return known

    def module_name(self, value: int) -> str | None:
        if value in self._module_cache:
            return self._module_cache[value]
        name = self._module_cache[value] = self.symtab.module_name_of(value)
        return name

    def read_u64(self, addr: int) -> int | None:
        try:
            return self.prog.read_u64(addr)
        except FaultError:
            return None

    def stack_base(self, task: int) -> int | None:
        """task_struct.stack of `task` (struct task_struct *): the bottom of its kernel stack."""
        return self.read_u64(task + self.stack_off)

    def _thread_return(self) -> int:
        """Where a switched-out task resumes: after __schedule's call of __switch_to_asm (crash's
        thread_return)."""
        v = self.symbol_value("thread_return")
        if v:
            return v
        from crashpy.disasm.x86 import instruction_bounds

        target = self.symbol_value("__switch_to_asm") or self.symbol_value("__switch_to")
        for name in ("schedule", "__schedule"):
            start = self.symbol_value(name)
            if not start or not target:
                continue
            found = self.symtab.search(name)
            nxt = self.symtab.next_symbol(found) if found else None
            end = nxt.value if nxt else start + 0x1000
            try:
                code = self.prog.read(start, max(end - start, 1), what="gdb_readmem_callback")
            except FaultError:
                continue
            # instruction boundaries only: gdb's text of the whole function is not needed here
            bounds = list(instruction_bounds(code, start))
            for k, (addr, _size) in enumerate(bounds):
                if code[addr - start] == 0xE8 and self._code_at(addr) == target:
                    return bounds[k + 1][0] if k + 1 < len(bounds) else addr + 5
        return self.symbol_value("schedule")

    def _insns(self, start: int, end: int) -> list[tuple[int, str, str]]:
        """(address, mnemonic, operands) of the instructions in [start, end), gdb's spelling."""
        cached = self._code_cache.get(start)
        if cached is not None and cached[0] >= end:
            return cached[1]
        from crashpy.disasm.x86 import decode

        try:
            code = self.prog.read(start, max(end - start, 1), what="gdb_readmem_callback")
        except FaultError:
            return []
        out = []
        for insn in decode(code, start):
            parts = insn.text.split(None, 1)
            out.append((insn.address, parts[0] if parts else "", parts[1].strip() if len(parts) > 1 else ""))
        self._code_cache[start] = (end, out)
        return out

    def _code_at(self, addr: int) -> int | None:
        try:
            raw = self.prog.read(addr, 5, what="call byte")
        except FaultError:
            return None
        if raw[0] != 0xE8:
            return None
        return (addr + 5 + struct.unpack("<i", raw[1:5])[0]) & 0xFFFFFFFFFFFFFFFF

    def function_called_by(self, rip: int) -> str | None:
        """The function a direct call at `rip` calls (x86_64_function_called_by), or None."""
        target = self._code_at(rip)
        if target is None:
            return None
        name = self.closest_symbol(target)
        if name in ("schedule_timeout_interruptible", "schedule_timeout_uninterruptible"):
            return "schedule_timeout"
        if name == "__cond_resched":
            return "schedule"
        return name

    # ---- frame sizes ---------------------------------------------------------------------------------

    def scan_framesize(self, func: int, textaddr: int, exception: bool) -> int:
        """The frame size at `textaddr` from the function's pushes, pops and %rsp adjustments."""
        framesize = maxsize = 0
        for addr, mn, ops in self._insns(func, textaddr + 16):
            if addr > textaddr or (addr == textaddr and not exception):
                break
            if mn.startswith("push"):
                framesize += 8
                maxsize = framesize
            elif mn.startswith("pop") or mn.startswith("leaveq"):
                if framesize > 0:
                    framesize -= 8
            elif mn.startswith("add") and ",%rsp" in ops:
                value = _hex_operand(ops)
                if value is None:
                    continue
                if framesize > 0:
                    framesize -= value
            elif mn.startswith("sub") and ",%rsp" in ops:
                value = _hex_operand(ops)
                if value is None:
                    continue
                framesize += value
                maxsize = framesize
            elif mn.startswith("retq") or mn.startswith("ret"):
                if not exception:
                    framesize = maxsize
        return framesize


def _hex_operand(ops: str) -> int | None:
    text = ops.split(",%rsp", 1)[0]
    if not text.startswith("$"):
        return None
    text = text[1:]
    try:
        return int(text, 16)  # crash's htol: hexadecimal, with or without 0x
    except ValueError:
        return None


def unwinder(prog: Program) -> Unwinder:
    result: Unwinder = prog.cache("unwind.x86_64", lambda: Unwinder(prog))
    return result


def prstatus_regs(prog: Program, cpu: int) -> dict[str, int] | None:
    """The registers of `cpu`'s NT_PRSTATUS note (the only note, when there is one), or None."""
    from crashpy.dumpfile.notes import prstatus_registers

    regs: list[dict[str, int]] = prog.cache(
        "dump.prstatus_registers", lambda: prstatus_registers(prog.dump.info.notes)
    )
    if len(regs) == 1:
        return regs[0]
    return regs[cpu] if cpu < len(regs) else None

