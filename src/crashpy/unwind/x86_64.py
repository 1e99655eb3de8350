"""crash's x86_64 back tracer, rebuilt: the stack is scanned word by word for kernel text addresses,
and each accepted return address is followed by its frame size (from ORC, or from the function's
pushes and stack adjustments), with exception frames (pt_regs) verified and printed where the entry
code left them, across the IRQ stack and the IST exception stacks.

The result is the text crash's `bt` prints plus the frames as data (`Backtrace.frames`).  Where crash
gives up, this one goes on: an exception stack crash sizes as 0 (an IST slot it cannot name) is
skipped instead of failing the whole task, so a CPU stopped by the panic's IPI or NMI is unwound.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.dumpfile.notes import X86_64_USER_REGS
from crashpy.errors import FaultError
from crashpy.unwind.orc import ORC_REG_BP, ORC_REG_PREV_SP, ORC_REG_SP, ORC_REG_UNDEFINED, orc_tables
from crashpy.unwind.stacks import THREAD_SIZE, stack_info

if TYPE_CHECKING:
    from crashpy.helpers.tasks import TaskContext, TaskTable
    from crashpy.program import Program

# print_stack_entry() results
COMPLETE, IGNORED, DISPLAYED, EFRAME_DISPLAYED = 1, 2, 3, 4

EXCEPTION_FUNCTIONS = frozenset(
    (
        "asm_exc_invalid_tss",
        "asm_exc_segment_not_present",
        "asm_exc_alignment_check",
        "asm_exc_general_protection",
        "asm_exc_page_fault",
        "asm_exc_divide_error",
        "asm_exc_overflow",
        "asm_exc_bounds",
        "asm_exc_invalid_op",
        "asm_exc_device_not_available",
        "asm_exc_coproc_segment_overrun",
        "asm_exc_spurious_interrupt_bug",
        "asm_exc_coprocessor_error",
        "asm_exc_simd_coprocessor_error",
        "asm_exc_debug",
        "xen_asm_exc_stack_segment",
        "xen_asm_exc_xen_hypervisor_callback",
        "xen_asm_exc_int3",
    )
)
RAZ_MASK = 0xFFFFFFFFFFC08028
TEXT_FLOOR = 0xFFFFFFFF80000000  # x86_64 kernel and module text lie above this
# struct pt_regs, in order: user_regs_struct's first 21 words
PT_REGS = X86_64_USER_REGS[:21]
DUMP_SEARCH_NAMES = frozenset(
    (
        "netconsole_netdump",
        "netpoll_start_netdump",
        "start_disk_dump",
        "disk_dump",
        "crash_kexec",
        "machine_kexec",
        "try_crashdump",
    )
)


class BtFatal(Exception):
    """crash's error(FATAL, ...) inside bt: this task's trace ends with the message."""


@dataclass
class BtOptions:
    full: bool = False  # -f
    full_sym_slab: int = 0  # -F (1) / -FF (2): words as symbols and slab caches
    line_numbers: bool = False  # -l
    symbol_offset: bool = False  # -s
    radix: int = 0  # -x / -d (0: the session's)
    text_symbols: bool = False  # -t
    text_symbols_all: bool = False  # -T
    old: bool = False  # -o (or `bt -O`): no frame sizes
    eframe_search: bool = False  # -e
    raw: bool = False  # -r
    ref: str | None = None  # -R
    hook_ip: int = 0  # -I: start at this text address
    hook_sp: int = 0  # -S: start at this stack address


@dataclass
class Frame:
    level: int
    sp: int  # the stack slot of the return address (crash's [address])
    pc: int
    function: str
    module: str | None = None


@dataclass
class Backtrace:
    lines: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    error: str | None = None
    ref_found: bool = False


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


@dataclass
class _Stack:
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
        sa = self._symval
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
        except Exception:
            return default

    def _offset(self, struct_name: str, member: str, default: int) -> int:
        try:
            return self.prog.offsetof(struct_name, member)
        except Exception:
            return default

    def _symval(self, name: str) -> int:
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

    def _thread_return(self) -> int:
        """Where a switched-out task resumes: after __schedule's call of __switch_to_asm (crash's
        thread_return)."""
        v = self._symval("thread_return")
        if v:
            return v
        from crashpy.disasm.x86 import instruction_bounds

        target = self._symval("__switch_to_asm") or self._symval("__switch_to")
        for name in ("schedule", "__schedule"):
            start = self._symval(name)
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
        return self._symval("schedule")

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


class Tracer:
    """One bt run over one task (crash's struct bt_info plus x86_64_low_budget_back_trace_cmd)."""

    def __init__(self, prog: Program, table: TaskTable, tc: TaskContext, opts: BtOptions, radix: int) -> None:
        self.prog = prog
        self.uw = unwinder(prog)
        self.table = table
        self.tc = tc
        self.task = tc.task
        self.opts = opts
        self.out_radix = radix
        self.result = Backtrace()
        # bt_info state
        self.stack: _Stack = _Stack(0, 0, ())
        self.instptr = 0
        self.stkptr = 0
        self.bptr = 0
        self.eframe_ip = 0
        self.frameptr = 0
        self.call_target: str | None = None
        self.f_exception_stack = False
        self.f_irqstack = False
        self.f_exception_frame = False
        self.f_start = False
        self.f_save_eframe_ip = False
        self.f_framesize_disable = False
        self.f_eframe_target = False
        self.f_eframe_search = False
        self.f_kernel_space = False
        self.f_user_space = False
        self.f_dumpfile_search = False
        self.f_kdump_elf_regs = False
        self.machdep: dict[str, int] | None = None
        self.process_stack: _Stack | None = None

    # ---- output --------------------------------------------------------------------------------------

    def emit(self, line: str) -> None:
        self.result.lines.append(line)

    def ref_check(self, text: int | None, name: str | None) -> None:
        ref = self.opts.ref
        if ref is None:
            return
        if name is not None and name == ref:
            self.result.ref_found = True
            return
        try:
            value = int(ref, 16)
        except ValueError:
            value = None
        if value is not None and text is not None and text == value:
            self.result.ref_found = True

    # ---- stacks --------------------------------------------------------------------------------------

    def read_stack(self, base: int, top: int, what: str) -> _Stack:
        data = self.prog.read(base, top - base, what=what)
        return _Stack(base, top, struct.unpack(f"<{(top - base) // 8}Q", data), data)

    def instack(self, addr: int) -> bool:
        return self.stack.contains(addr)

    def process_stack_range(self) -> tuple[int, int]:
        base = self.uw.read_u64(self.task + self.uw.stack_off) or 0
        return base, base + THREAD_SIZE

    def in_exception_stack(self) -> tuple[int, int]:
        return self.uw.stacks.in_exception_stack(self.stkptr)

    def in_irqstack(self) -> int:
        return self.uw.stacks.in_irq_stack(self.stkptr)

    def is_kernel_thread(self) -> bool:
        return self.tc.pid == 0 or self.tc.is_kernel_thread

    def in_user_stack(self, addr: int) -> bool:
        return self.tc.mm != 0 and addr < 0x0000800000000000

    # ---- registers -----------------------------------------------------------------------------------

    def start_registers(self) -> tuple[int, int]:
        """back_trace()'s get_*_regs + x86_64_get_stack_frame: the starting (rip, rsp)."""
        from crashpy.dumpfile.elf import ElfDump

        active = self.table.is_active(self.task)
        rip = rsp = 0
        if active:
            self.f_dumpfile_search = True
        regs = prstatus_regs(self.prog, self.tc.cpu)
        is_elf = isinstance(self.prog.dump, ElfDump)
        qemu = is_elf and any(n.name == "QEMU" for n in self.prog.dump.info.notes)
        if regs is not None:
            if (
                is_elf
                and (self.task == self.table.panic_task or qemu)
                or (not is_elf and self.f_dumpfile_search)
            ):
                r_rsp, r_rip = regs["sp"], regs["ip"]
                if self.stack.contains(r_rsp) or self.uw.stacks.in_alternate_stack(self.tc.cpu, r_rsp):
                    rsp, rip = r_rsp, r_rip
                    if rip and rsp:
                        self.f_kdump_elf_regs = True
                    self.machdep = regs
        if active and self.f_dumpfile_search:
            return self.dumpfile_stack_frame()
        return self.saved_frame()

    def saved_frame(self) -> tuple[int, int]:
        """A switched-out task's resume point: thread_return and thread.sp (plus inactive_task_frame.bp)."""
        sp = self.uw.read_u64(self.task + self.uw.thread_sp_off)
        if sp is None:
            raise BtFatal(
                f"invalid kernel virtual address: {self.task + self.uw.thread_sp_off:x}  "
                'type: "thread_struct rsp"'
            )
        bp = self.uw.read_u64(sp + self.uw.bp_off)
        if bp is None:
            raise BtFatal(
                f'invalid kernel virtual address: {sp + self.uw.bp_off:x}  type: "inactive_task_frame.bp"'
            )
        self.bptr = bp
        return self.uw.thread_return, sp

    def dumpfile_stack_frame(self) -> tuple[int, int]:
        """x86_64_get_dumpfile_stack_frame: look for the kernel's crash path on the active task's stacks."""
        uw = self.uw
        panic_task = self.table.panic_task == self.task
        ur_rip = ur_rsp = 0
        crash_kexec = call_function = halt = sysrq_c = notify_die = None
        panic_at: tuple[int, int] | None = None
        regs = self.machdep
        stages: list[tuple[int, int, bool]] = []
        skip_process = False
        if panic_task and regs is not None:
            if self.eframe_verify(0, regs["cs"], regs["ss"], regs["ip"], regs["sp"], regs["flags"]):
                self.stkptr = regs["sp"]
                if self.in_irqstack():
                    ur_rip, ur_rsp = regs["ip"], regs["sp"]
                    skip_process = True
        elif regs is not None:
            ur_rip, ur_rsp = regs["ip"], regs["sp"]
        cpu = self.tc.cpu
        if not skip_process:
            stages.append((self.stack.base, self.stack.top, False))
        si = uw.stacks
        if cpu < len(si.irq_base) and si.irq_base[cpu]:
            stages.append((si.irq_base[cpu], si.irq_base[cpu] + si.irq_size, False))
        if cpu < len(si.estacks):
            for es in si.estacks[cpu]:
                # crash also tries IST slots it could not size (0 bytes) and fails there
                if es.base and es.available and es.size:
                    stages.append((es.base, es.base + es.size, es.name == "NMI"))
        for stage, (base, top, in_nmi) in enumerate(stages):
            if stage == 0 and not skip_process:
                scanned = self.stack
            else:
                try:
                    scanned = self.read_stack(base, top, "stack contents")
                except FaultError:
                    continue
            words = scanned.words
            estack = stage >= 2 or (skip_process and stage >= 1)
            past_process = stage > 0 or skip_process
            n = len(words)
            cands = scanned.candidates()  # only text names are sought
            for i in cands:
                value = words[i]
                addr = base + i * 8
                sym = uw.closest_symbol(value)
                if sym is None:
                    continue
                if sym in DUMP_SEARCH_NAMES:
                    if sym == "crash_kexec":
                        if uw.function_called_by(value - 5) == "machine_kexec":
                            return value, addr
                        if not self.opts.text_symbols and crash_kexec is None:
                            crash_kexec = (value, addr)
                            continue
                    return value, addr
                if estack and sym in ("nmi_watchdog_tick", "default_do_nmi"):
                    if uw.function_called_by(value - 5) == "die_nmi":
                        self.f_start = True
                        return uw._symval("die_nmi"), addr - 7 * 8
                    continue
                if sym == "panic":
                    panic_at = (value, addr)
                    continue
                j = -1
                if sym == "die":
                    found_sysrq = False
                    for j in range(i + 1, n):
                        if uw.closest_symbol(words[j]) == "sysrq_handle_crash":
                            found_sysrq = True
                            break
                    if not found_sysrq:
                        return value, addr
                if sym == "sysrq_handle_crash" or j >= 0:
                    k = i if j < 0 else j
                    while True:
                        sysrq_c = (words[k], base + k * 8)
                        nxt = -1
                        for m in range(k + 1, n):
                            if uw.closest_symbol(words[m]) == "sysrq_handle_crash":
                                nxt = m
                                break
                        if nxt < 0:
                            break
                        k = nxt
                if (
                    not panic_task
                    and past_process
                    and sym in ("smp_call_function_interrupt", "stop_this_cpu")
                ):
                    call_function = (value, addr)
                if not panic_task and sym == "crash_nmi_callback":
                    return value, addr
                if not panic_task and in_nmi and sym == "notify_die":
                    notify_die = (value, addr)
                if (
                    not panic_task
                    and self.tc.pid == 0
                    and halt is None
                    and not past_process
                    and sym == "cpu_idle"
                ):
                    halt = (value, addr)
            if panic_at is not None:
                return panic_at
            if stage == 0 and not skip_process and crash_kexec is not None:
                return crash_kexec
        if sysrq_c is not None:
            return sysrq_c
        if notify_die is not None:
            return notify_die
        if ur_rip and ur_rsp:
            if uw.is_kernel_text(ur_rip) and (
                self.stack.contains(ur_rsp) or uw.stacks.in_alternate_stack(cpu, ur_rsp)
            ):
                self.f_kernel_space = True
            if not uw.is_kernel_text(ur_rip) and self.in_user_stack(ur_rsp):
                self.f_user_space = True
            return ur_rip, ur_rsp
        if call_function is not None:
            return call_function
        if halt is not None:
            return halt
        if self.f_kdump_elf_regs and regs is not None:
            r_rip, r_rsp = regs["ip"], regs["sp"]
            if uw.stacks.in_alternate_stack(cpu, r_rsp) or self.stack.contains(r_rsp):
                if uw.is_kernel_text(r_rip):
                    self.f_kernel_space = True
                if not uw.is_kernel_text(r_rip) and self.in_user_stack(r_rsp):
                    self.f_user_space = True
                return r_rip, r_rsp
        self.f_dumpfile_search = False
        return self.saved_frame()

    # ---- exception frames ----------------------------------------------------------------------------

    def pt_regs_at(self, addr: int) -> dict[str, int] | None:
        size = self.uw.pt_regs_size
        if self.stack.contains(addr) and self.stack.contains(addr + size - 8):
            i = (addr - self.stack.base) // 8
            vals = self.stack.words[i : i + 21]
        else:
            try:
                vals = struct.unpack("<21Q", self.prog.read(addr, 168, what="pt_regs"))
            except FaultError:
                return None
        return dict(zip(PT_REGS, vals, strict=True))

    def eframe_verify(self, kvaddr: int, cs: int, ss: int, rip: int, rsp: int, rflags: int) -> bool:
        uw = self.uw
        size = uw.pt_regs_size
        is_kv = self.prog.is_kvaddr
        if (rflags & RAZ_MASK) or not (rflags & 0x2):
            return False
        if cs == 0x10 and ss == 0x18:
            text = uw.is_kernel_text(rip)
            if text and is_kv(rsp):
                return True
            if uw.module_name(rip) is not None and is_kv(rsp) and rsp == kvaddr + size:
                return True
            if text and self.f_exception_stack and self.in_user_stack(rsp):
                return True
            if text and not is_kv(rsp) and self.f_eframe_search and self.in_exception_stack()[0]:
                return True
            base, idx = self.in_exception_stack()
            if text and base and idx <= 1:
                return True
            if uw.closest_symbol(rip) == "ia32_sysenter_target":
                return True
            if rip == 0 and self.instack(rsp) and self.call_target == "ret_from_fork":
                return True
            exc = uw.read_u64(kvaddr - 8) if kvaddr else None
            if exc is not None:
                found = uw.value_search(exc)
                if found and found[0] == "page_fault":
                    return True
            if kvaddr + size == rsp:
                return True
        if cs == 0x10 and kvaddr:
            text = uw.is_kernel_text(rip)
            if text and is_kv(rsp) and rsp in (kvaddr + size + 8, kvaddr + size):
                return True
            if text and is_kv(rsp) and self.in_exception_stack()[0]:
                return True
            if is_kv(rsp) and self._is_vmalloc(rip):
                return True
        if cs in (0x33, 0x23) and ss == 0x2B:
            if rip < 0x0000800000000000 and rsp < 0x0000800000000000:
                return True
        return False

    def _is_vmalloc(self, addr: int) -> bool:
        if (
            not (0xFFFFC90000000000 <= addr < 0xFFFFFFFFFF000000)
            or 0xFFFFFFFF80000000 <= addr < 0xFFFFFFFFA0000000
        ):
            return False
        try:
            self.prog.read(addr, 1)
        except FaultError:
            return False
        return True

    def exception_frame(
        self, addr: int, *, print_: bool, verify: bool, search: bool = False
    ) -> tuple[int, bool]:
        """x86_64_exception_frame at `addr`: (cs, verified); prints crash's block when asked."""
        size = self.uw.pt_regs_size
        if verify:
            try:
                self.prog.read(addr, 8)
                self.prog.read(addr + size - 8, 8)
            except FaultError:
                return 0, False
        regs = self.pt_regs_at(addr)
        if regs is None:
            return 0, False
        rip, rsp, cs, ss, rflags = regs["ip"], regs["sp"], regs["cs"], regs["ss"], regs["flags"]
        verified = self.eframe_verify(addr, cs, ss, rip, rsp, rflags)
        if not verified and verify and print_:
            print_ = False
        if print_:
            found = self.uw.value_search(rip)
            if search:
                self.emit("")
                self.emit(f"  {'USER' if cs & 3 else 'KERNEL'}-MODE EXCEPTION FRAME AT: {addr:x}")
                if not cs & 3:
                    self.emit(f"    [exception RIP: {self._rip_text(rip, found)}]")
            elif not cs & 3:
                self.emit(f"    [exception RIP: {self._rip_text(rip, found)}]")
                if found:
                    self.eframe_ip = rip
            self.emit_regs(regs, orig_ax=True)
            if not cs & 3 and found and self.opts.line_numbers:
                line = self._line(rip)
                if line:
                    self.emit(f"    {line}")
            if self.opts.ref is not None:
                for k in (
                    "ip",
                    "sp",
                    "cs",
                    "ss",
                    "flags",
                    "orig_ax",
                    "bp",
                    "ax",
                    "bx",
                    "cx",
                    "dx",
                    "si",
                    "di",
                    "r8",
                    "r9",
                    "r10",
                    "r11",
                    "r12",
                    "r13",
                    "r14",
                    "r15",
                ):
                    self.ref_check(regs[k], None)
                if found:
                    self.ref_check(None, found[0])
        self.bptr = regs["bp"]
        return cs, verified

    def _rip_text(self, rip: int, found: tuple[str, int] | None) -> str:
        if found is None:
            return "no symbolic reference" if self._is_vmalloc(rip) else "unknown or invalid address"
        name, offset = found
        if not offset:
            return name
        return f"{name}+0x{offset:x}" if self.out_radix == 16 else f"{name}+{offset}"

    def emit_regs(self, r: dict[str, int], orig_ax: bool) -> None:
        self.emit(f"    RIP: {r['ip']:016x}  RSP: {r['sp']:016x}  RFLAGS: {r['flags']:08x}")
        self.emit(f"    RAX: {r['ax']:016x}  RBX: {r['bx']:016x}  RCX: {r['cx']:016x}")
        self.emit(f"    RDX: {r['dx']:016x}  RSI: {r['si']:016x}  RDI: {r['di']:016x}")
        self.emit(f"    RBP: {r['bp']:016x}   R8: {r['r8']:016x}   R9: {r['r9']:016x}")
        self.emit(f"    R10: {r['r10']:016x}  R11: {r['r11']:016x}  R12: {r['r12']:016x}")
        self.emit(f"    R13: {r['r13']:016x}  R14: {r['r14']:016x}  R15: {r['r15']:016x}")
        if orig_ax:
            self.emit(f"    ORIG_RAX: {r['orig_ax']:016x}  CS: {r['cs']:04x}  SS: {r['ss']:04x}")
        else:
            self.emit(f"    CS: {r['cs'] & 0xFFFF:04x}  SS: {r['ss'] & 0xFFFF:04x}")

    def _line(self, addr: int) -> str:
        from crashpy.dwarf.lines import source_line

        if self.uw.module_name(addr) is not None:
            return ""
        return source_line(self.prog, addr)

    # ---- one frame -----------------------------------------------------------------------------------

    def print_stack_entry(self, level: int, stkindex: int, text: int, schedule: bool = False) -> int:
        uw = self.uw
        eframe_check = -1
        if not self.f_save_eframe_ip:
            self.eframe_ip = 0
        found = uw.value_search(text)
        if found is None:
            return IGNORED
        name, offset = found
        radix = self.opts.radix or self.out_radix
        name_plus_offset = None
        if offset and self.opts.symbol_offset:
            name_plus_offset = uw.symtab.value_to_symstr(text, radix if radix in (10, 16) else 16)
        shown = name_plus_offset or name
        if self.opts.text_symbols:
            rsp = self.stkptr if self.f_exception_frame else self.stack.base + stkindex * 8
            mod = uw.module_name(text)
            self.emit(f"  [{rsp:16x}] {shown} at {text:x}" + (f" [{mod}]" if mod else ""))
            self.result.frames.append(Frame(level, rsp, text, name, mod))
            self.ref_check(text, name)
            return DISPLAYED
        if not offset and not self.f_exception_frame and not self.f_start:
            if name == "child_rip":
                pass
            elif not schedule:
                if name == "error_exit":
                    eframe_check = 8
                else:
                    return IGNORED
        if eframe_check == -1 and offset and not (self.f_exception_frame or self.f_start or schedule):
            if name in EXCEPTION_FUNCTIONS:
                eframe_check = 8
            if self.in_irqstack() and "_interrupt" in name:
                eframe_check = 0
        if schedule:
            name = "schedule"
            shown = name_plus_offset or name
        result = COMPLETE if name in ("cpu_idle", "system_call_fastpath", "child_rip") else DISPLAYED
        if self.f_exception_frame or self.f_start:
            rsp = self.stkptr
        else:
            rsp = self.stack.base + stkindex * 8
        if self.opts.full:
            if self.frameptr:
                self.display_full_frame(rsp)
            self.frameptr = rsp + 8
        mod = uw.module_name(text)
        line = f"{' ' if level < 10 else ''}#{level} [{rsp:8x}] {shown} at {text:x}"
        if mod:
            line += f" [{mod}]"
        if self.f_framesize_disable:
            line += " *"
        self.emit(line)
        self.result.frames.append(Frame(level, rsp, text, name, mod))
        if self.opts.line_numbers:
            src = self._line(text)
            if src:
                self.emit(f"    {src}")
        if eframe_check >= 0:
            _cs, ok = self.exception_frame(
                self.stack.base + stkindex * 8 + eframe_check, print_=True, verify=True
            )
            if ok:
                result = EFRAME_DISPLAYED
        self.ref_check(text, name)
        self.call_target = name
        return result

    def display_full_frame(self, rsp: int) -> None:
        if rsp < self.frameptr or not self.instack(rsp) or not self.instack(self.frameptr):
            return
        words = (rsp - self.frameptr) // 8 + 1
        addr = self.frameptr
        parts: list[str] = []
        line = ""
        for i in range(words):
            if not i & 1:
                if i:
                    parts.append(line)
                line = f"    {addr:x}: "
            line += f"{self.format_stack_entry(self.stack.word(addr))} "
            addr += 8
        parts.append(line)
        for p in parts:
            self.emit(p)

    def format_stack_entry(self, value: int) -> str:
        """One stack word of `bt -f` (hex), or with -F its symbol or `[slab cache]` when it has one."""
        if not self.opts.full_sym_slab or not self._accessible(value):
            return f"{value:016x}"
        symtab = self.uw.symtab
        if symtab.in_ksymbol_range(value) or symtab.module_name_of(value) is not None:
            text = symtab.value_to_symstr(value, self.out_radix)
            if text:
                return f"{text:<16}"
        from crashpy.helpers.slab import vaddr_to_kmem_cache

        cache = vaddr_to_kmem_cache(self.prog, value)
        if cache is not None:
            text = f"[{value:x}:{cache}]" if self.opts.full_sym_slab > 1 else f"[{cache}]"
            return f"{text:<16}"
        return f"{value:016x}"

    def get_framesize(self, textaddr: int, rsp: int, stack_slot: int | None) -> int:
        uw = self.uw
        if (
            self.opts.old
            or self.opts.text_symbols
            or self.opts.text_symbols_all
            or self.f_framesize_disable
            or uw.use_old_bt
        ):
            return 0
        found = uw.symtab.value_search(textaddr)
        if found is None:
            self.f_framesize_disable = True
            return 0
        sym = found[0]
        exception = self.eframe_ip == textaddr
        if self.f_eframe_target:
            fs = self.search_for_eframe_target_caller(rsp)
            if fs is not None:
                return fs
        cached = uw.framesize_cache.get(textaddr)
        if cached is not None and cached[1] == exception:
            if cached[0] == -1:
                self.f_framesize_disable = True
            return cached[0]
        if uw.init_begin <= sym.value < uw.init_end:
            return 0
        orc = uw.orc.find(textaddr)
        if orc is not None and orc.is_call:
            framesize = -1
            prev_sp = 0
            if orc.sp_reg == ORC_REG_SP:
                framesize = orc.sp_offset - 8
                prev_sp = rsp + 8 + orc.sp_offset
            elif orc.sp_reg == ORC_REG_BP and self.bptr and self.instack(self.bptr):
                prev_sp = self.bptr + orc.sp_offset
                framesize = prev_sp - (rsp + 8) - 8
            if orc.bp_reg == ORC_REG_PREV_SP and prev_sp:
                prev_bp = prev_sp + orc.bp_offset
                if stack_slot is not None and self.instack(prev_bp):
                    self.bptr = self.stack.word(prev_bp)
                else:
                    self.bptr = 0
            elif orc.bp_reg != ORC_REG_UNDEFINED:
                self.bptr = 0
            if framesize >= 0:
                return framesize
        framesize = uw.scan_framesize(sym.value, textaddr, exception)
        uw.framesize_cache[textaddr] = (framesize, exception)
        return framesize

    def search_for_eframe_target_caller(self, stkptr: int) -> int | None:
        uw = self.uw
        found = uw.value_search(self.eframe_ip)
        if found is None:
            return None
        called = found[0]
        rsp = stkptr
        while rsp < self.stack.top:
            value = self.stack.word(rsp)
            if uw.is_kernel_text(value):
                hit = uw.value_search(value)
                if hit is not None and (hit[1] or self.f_framesize_disable):
                    if uw.function_called_by(value - 5) == called:
                        return rsp - stkptr
            rsp += 8
        return None

    # ---- the walk ------------------------------------------------------------------------------------

    def walk(
        self, level: int, rsp: int, stacktop: int, process: bool, last_eframe: list[int] | None = None
    ) -> tuple[int, int, bool]:
        """Scan [rsp, stacktop) of the current stack; returns (level, rsp, done)."""
        uw = self.uw
        stack = self.stack
        done = False
        i = (rsp - stack.base) // 8
        cands = stack.candidates()
        while not done and rsp < stacktop:
            # skip to the next word that can be text: the words between are never frames
            j = bisect.bisect_left(cands, i)
            step = (cands[j] - i) if j < len(cands) else (stacktop - rsp + 7) // 8
            if step:
                if rsp + step * 8 >= stacktop:
                    rsp += (stacktop - rsp + 7) // 8 * 8
                    break
                i += step
                rsp += step * 8
            value = stack.words[i]
            if uw.is_kernel_text(value):
                res = self.print_stack_entry(level, i, value)
                if res == EFRAME_DISPLAYED:
                    if last_eframe is not None:
                        last_eframe[0] = rsp + 8
                    rsp += uw.pt_regs_size
                    i += uw.pt_regs_size // 8
                    if not self.eframe_ip:
                        level += 1
                        res = -1
                    else:
                        res = DISPLAYED
                if res == DISPLAYED:
                    level += 1
                    fs = self.get_framesize(self.eframe_ip or value, rsp, i if process else None)
                    if fs >= 0:
                        rsp += fs
                        i += fs // 8
                elif res == COMPLETE:
                    done = True
            i += 1
            rsp += 8
        return level, rsp, done

    def run(self) -> Backtrace:
        try:
            self._run()
        except BtFatal as e:
            self.result.error = str(e)
        return self.result

    def _run(self) -> None:
        uw = self.uw
        base, top = self.process_stack_range()
        if base == 0:
            self.emit("(no stack)")
            return
        try:
            self.stack = self.read_stack(base, top, "stack contents")
        except FaultError as e:
            self.emit(f"bt: {e.message()}")
            raise BtFatal(f"read of stack at {base:x} failed") from None
        self.process_stack = self.stack
        if self.opts.eframe_search:
            self.f_eframe_search = True
            self.eframe_search()
            return
        if self.opts.hook_ip or self.opts.hook_sp:
            sp = self.opts.hook_sp
            if sp and not self.stack.contains(sp) and not uw.stacks.in_alternate_stack(self.tc.cpu, sp):
                raise BtFatal(
                    f"non-process stack address for this task: {sp:x}\n"
                    f"    (valid range: {self.stack.base:x} - {self.stack.top:x})"
                )
            rip, rsp = self.saved_frame()
            rip = self.opts.hook_ip or rip
            rsp = sp or rsp
        else:
            rip, rsp = self.start_registers()
        if self.opts.text_symbols_all:
            rsp = self.stack.base + uw.thread_info_size
            rip = 0
        self.instptr, self.stkptr = rip, rsp
        self.low_budget()

    def eframe_search(self) -> None:
        size = self.uw.pt_regs_size
        limit = (self.stack.top - self.stack.base - size) // 8
        for i in range(0, limit + 1):
            self.exception_frame(self.stack.base + i * 8, print_=True, verify=True, search=True)

    def low_budget(self) -> None:  # noqa: C901 - crash's one long procedure, kept in its order
        uw = self.uw
        level = 0
        done = False
        irq_eframe = 0
        last_eframe = [0]
        self.call_target = None
        rsp = self.stkptr
        if not self.f_user_space and (not rsp or not self._accessible(rsp)):
            self.emit("bt: cannot determine starting stack pointer")
            return
        if self.opts.text_symbols:
            if self.f_user_space and not self.opts.text_symbols_all:
                return
            if not self.opts.text_symbols_all:
                name = uw.closest_symbol(self.instptr) or ""
                extra = " (schedule)" if name == "thread_return" else ""
                self.emit(f"{' ' * 14}START: {name}{extra} at {self.instptr:x}")
        elif self.f_user_space:
            self.emit("    [exception RIP: user space]")
            if self.machdep:
                self.emit_regs(self.machdep, orig_ax=False)
            return
        elif self.f_kernel_space and self.machdep is not None:
            found = uw.value_search(self.instptr)
            self.emit(f"    [exception RIP: {self._rip_text(self.instptr, found)}]")
            self.emit_regs(self.machdep, orig_ax=False)
        elif self.f_start:
            self.print_stack_entry(level, 0, self.instptr)
            self.f_start = False
            level += 1

        estack, eidx = self.in_exception_stack()
        while True:
            if estack:
                level, rsp, done = self._exception_stack(level, rsp, estack, eidx, irq_eframe)
                irq_eframe = 0
                if done is None:  # type: ignore[comparison-overlap]
                    return
            irqstack = self.in_irqstack() if not done else 0
            if not done and irqstack:
                level, rsp, done, irq_eframe = self._irq_stack(level, rsp, irqstack)
            else:
                irq_eframe = 0
            estack, eidx = self.in_exception_stack() if not done else (0, -1)
            if not done and estack:
                continue
            break

        if not done and (self.f_exception_stack or self.f_irqstack):
            base, top = self.process_stack_range()
            if not (base <= rsp < top):
                if self.f_exception_stack and self.f_irqstack:
                    raise BtFatal(
                        "cannot transition from exception stack to IRQ stack to current process stack"
                    )
                if self.f_exception_stack:
                    if self.in_user_stack(rsp):
                        done = True
                    else:
                        raise BtFatal(
                            "cannot transition from exception stack to current process stack:\n"
                            f"    exception stack pointer: {self.stkptr:x}\n      process stack pointer: {rsp:x}\n"
                            f"         current stack base: {base:x}"
                        )
                else:
                    raise BtFatal(
                        "cannot transition from IRQ stack to current process stack:\n"
                        f"        IRQ stack pointer: {self.stkptr:x}\n    process stack pointer: {rsp:x}\n"
                        f"       current stack base: {base:x}"
                    )
            assert self.process_stack is not None
            self.stack = self.process_stack

        if (
            not done
            and not (self.opts.text_symbols or self.f_exception_stack or self.f_irqstack)
            and uw.closest_symbol(self.instptr) in ("thread_return", "schedule", "__schedule")
        ):
            rsp += uw.ret_addr_off

        if irq_eframe:
            self.f_exception_frame = True
            i = (irq_eframe - self.stack.base) // 8
            if self.asm_common():
                i -= 1
                self.instptr = self.stack.words[i]
            self.print_stack_entry(level, i, self.instptr)
            self.f_exception_frame = False
            cs, _ = self.exception_frame(irq_eframe, print_=True, verify=False)
            if cs & 3:
                done = True
            else:
                rsp += uw.pt_regs_size
                irq_eframe = 0
                self.f_eframe_target = True
                if self.eframe_ip:
                    fs = self.get_framesize(self.eframe_ip, rsp, None)
                    if fs >= 0:
                        rsp += fs
                self.f_eframe_target = False
            level += 1

        self.f_framesize_disable = False
        if not done:
            level, rsp, done = self.walk(level, rsp, self.stack.top, True, last_eframe)

        if (
            not irq_eframe
            and not self.is_kernel_thread()
            and self.process_stack is not None
            and self.stack.base == self.process_stack.base
        ):
            user_eframe = self.stack.top - uw.pt_regs_size
            if last_eframe[0] < user_eframe:
                self.exception_frame(user_eframe, print_=True, verify=False)

    def asm_common(self) -> bool:
        return self.uw.asm_common_interrupt

    def _accessible(self, addr: int) -> bool:
        """crash's accessible(): whether one byte at `addr` reads.  crash reads the pages makedumpfile
        excluded from an ELF dump (p_filesz < p_memsz) as zeros, so they count as accessible there,
        though crashpy never hands their zeros out as data."""
        try:
            self.prog.read(addr, 1)
        except FaultError as e:
            return self.prog.crash_reads_zeros(e)
        return True

    def _exception_stack(
        self, level: int, rsp: int, estack: int, eidx: int, irq_eframe: int
    ) -> tuple[int, int, bool]:
        uw = self.uw
        self.f_exception_stack = True
        cpu_row = next((row for row in uw.stacks.estacks for es in row if es.base == estack), [])
        es = next(e for e in cpu_row if e.base == estack)
        try:
            self.stack = self.read_stack(estack, estack + es.size, "irqstack contents")
        except FaultError as e:
            self.emit(f"bt: {e.message()}")
            raise BtFatal(f"read of exception stack at {estack:x} failed") from None
        if irq_eframe:
            self.f_exception_frame = True
            i = (irq_eframe - self.stack.base) // 8
            self.print_stack_entry(level, i, self.instptr)
            self.f_exception_frame = False
            self.exception_frame(irq_eframe, print_=True, verify=False)
            rsp += uw.pt_regs_size
            if self.eframe_ip:
                fs = self.get_framesize(self.eframe_ip, rsp, None)
                if fs >= 0:
                    rsp += fs
            level += 1
        stacktop = self.stack.top - uw.pt_regs_size
        if es.name == "NMI" and uw.nested_nmi:
            stacktop -= 12 * 8
        self.f_framesize_disable = False
        level, rsp, done = self.walk(level, rsp, stacktop, False)
        cs, _ = self.exception_frame(stacktop, print_=True, verify=False)
        self.emit(f"--- <{es.name} exception stack> ---")
        up = (self.stack.top - self.stack.base) // 8 - 5
        if es.name == "NMI" and uw.nested_nmi and self.stkptr <= self.stack.top - 17 * 8:
            up -= 12
            if self.stack.words[up] == uw._symval("repeat_nmi"):
                up += 5
        words = self.stack.words
        rsp = self.stkptr = words[up + 3]
        self.instptr = words[up]
        done = bool(cs & 3)
        self.frameptr = 0
        if not done:
            self.f_start = True
            self.f_save_eframe_ip = True
            self.print_stack_entry(level, 0, self.instptr)
            self.f_start = False
            self.f_save_eframe_ip = False
            self.f_framesize_disable = False
            if self.in_exception_stack()[0] == estack:
                self.emit(f"    [ {es.name} exception stack recursion: prior stack location overwritten ]")
                raise _Stop
            level += 1
            fs = self.get_framesize(self.instptr, rsp, None)
            if fs >= 0:
                rsp += fs
        return level, rsp, done

    def _irq_stack(self, level: int, rsp: int, irqstack: int) -> tuple[int, int, bool, int]:
        uw = self.uw
        self.f_irqstack = True
        top = irqstack + uw.stacks.irq_size
        try:
            self.stack = self.read_stack(irqstack, top, "irqstack contents")
        except FaultError as e:
            self.emit(f"bt: {e.message()}")
            raise BtFatal(f"read of IRQ stack at {irqstack:x} failed") from None
        stacktop = top
        self.f_framesize_disable = False
        level, rsp, done = self.walk(level, rsp, stacktop, False)
        self.emit("--- <IRQ stack> ---")
        link = self.stack.words[(stacktop - irqstack) // 8 - 1]
        irq_eframe = rsp = self.stkptr = self.irq_eframe_link(link)
        self.instptr = self.stack.words[(stacktop - irqstack) // 8 - 2]
        found = uw.value_search(self.instptr)
        if found and found[0] in ("do_softirq", "do_softirq_own_stack", "call_softirq"):
            irq_eframe = 0
        self.frameptr = 0
        return level, rsp, False, irq_eframe

    def irq_eframe_link(self, stkref: int) -> int:
        if self.exception_frame(stkref, print_=False, verify=True)[1]:
            return stkref
        irq_eframe = stkref - self.uw.irq_eframe_link
        if self.exception_frame(irq_eframe, print_=False, verify=True)[1]:
            return irq_eframe
        for d in (8, -8, 16, -16):
            if self.exception_frame(irq_eframe + d, print_=False, verify=True)[1]:
                return irq_eframe + d
        return irq_eframe


class _Stop(BtFatal):
    pass
