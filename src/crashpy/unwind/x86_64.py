"""crash's x86_64 back tracer, rebuilt: the stack is scanned word by word for kernel text addresses,
and each accepted return address is followed by its frame size (from ORC, or from the function's
pushes and stack adjustments), with exception frames (pt_regs) verified where the entry code left
them, across the IRQ stack and the IST exception stacks.

The result is data (unwind/records.py): the frames, exception frames and stack changes in the order
crash's `bt` shows them; commands/bt.py writes crash's text from them.  Where crash gives up, this
one goes on: an exception stack crash sizes as 0 (an IST slot it cannot name) is skipped instead of
failing the whole task, so a CPU stopped by the panic's IPI or NMI is unwound.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import TYPE_CHECKING

from crashpy.errors import FaultError
from crashpy.helpers.tasks import task_table
from crashpy.unwind.orc import ORC_REG_BP, ORC_REG_PREV_SP, ORC_REG_SP, ORC_REG_UNDEFINED
from crashpy.unwind.records import (
    Backtrace,
    Frame,
    StackChange,
    StackWords,
    UnwindFatal,
    UnwindOptions,
)
from crashpy.unwind.start import StartFinder

if TYPE_CHECKING:
    from crashpy.helpers.tasks import TaskContext
    from crashpy.program import Program

# stack_entry() results (crash: print_stack_entry)
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


class _Stop(UnwindFatal):
    """The trace ends without an error (an exception stack that links back into itself)."""


class Tracer(StartFinder):
    """One trace over one task (crash's x86_64_low_budget_back_trace_cmd)."""

    def stack_entry(self, level: int, stkindex: int, text: int) -> int:
        """crash's print_stack_entry, as data: the Frame of the text address `text` in the stack slot
        `stkindex` (and the exception frame its function's entry code left), or IGNORED when crash
        does not take it for a frame."""
        uw = self.uw
        eframe_check = -1
        if not self.f_save_eframe_ip:
            self.eframe_ip = 0
        found = uw.value_search(text)
        if found is None:
            return IGNORED
        name, offset = found
        if self.opts.text_scan:
            rsp = self.stkptr if self.f_exception_frame else self.stack.base + stkindex * 8
            self.result.entries.append(Frame(level, rsp, text, name, uw.module_name(text), offset))
            return DISPLAYED
        if not offset and not self.f_exception_frame and not self.f_start:
            if name == "error_exit":
                eframe_check = 8
            elif name != "child_rip":
                return IGNORED
        if eframe_check == -1 and offset and not (self.f_exception_frame or self.f_start):
            if name in EXCEPTION_FUNCTIONS:
                eframe_check = 8
            if self.in_irqstack() and "_interrupt" in name:
                eframe_check = 0
        result = COMPLETE if name in ("cpu_idle", "system_call_fastpath", "child_rip") else DISPLAYED
        if self.f_exception_frame or self.f_start:
            rsp = self.stkptr
        else:
            rsp = self.stack.base + stkindex * 8
        if self.opts.stack_words:
            if self.frameptr:
                self.frame_words(rsp)
            self.frameptr = rsp + 8
        source = self.source_line(text) if self.opts.source_lines else None
        self.result.entries.append(
            Frame(level, rsp, text, name, uw.module_name(text), offset, source, self.f_framesize_disable)
        )
        if eframe_check >= 0:
            _cs, ok = self.exception_frame(
                self.stack.base + stkindex * 8 + eframe_check, record=True, verify=True
            )
            if ok:
                result = EFRAME_DISPLAYED
        self.call_target = name
        return result

    def frame_words(self, rsp: int) -> None:
        """The StackWords from the previous frame's slot up to `rsp` (bt -f)."""
        if rsp < self.frameptr or not self.instack(rsp) or not self.instack(self.frameptr):
            return
        i = (self.frameptr - self.stack.base) // 8
        n = (rsp - self.frameptr) // 8 + 1
        self.result.entries.append(StackWords(self.frameptr, tuple(self.stack.words[i : i + n])))

    def get_framesize(self, textaddr: int, rsp: int, stack_slot: int | None) -> int:
        uw = self.uw
        if (
            self.opts.no_frame_sizes
            or self.opts.text_scan
            or self.opts.text_scan_all
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
                res = self.stack_entry(level, i, value)
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
        """The trace: its entries, and the error it ended with, if one."""
        try:
            self._run()
        except _Stop:
            pass
        except UnwindFatal as e:
            self.result.error = str(e)
        except FaultError as e:  # a read the walk needed: crash's one line ends the trace
            self.result.error = e.message()
        return self.result

    def _run(self) -> None:
        uw = self.uw
        base, top = self.process_stack_range()
        if base == 0:
            self.result.no_stack = True
            return
        try:
            self.stack = self.read_stack(base, top, "stack contents")
        except FaultError as e:
            self.result.fault = e
            raise UnwindFatal(f"read of stack at {base:x} failed") from None
        self.process_stack = self.stack
        if self.opts.eframe_search:
            self.f_eframe_search = True
            self.eframe_search()
            return
        if self.opts.hook_ip or self.opts.hook_sp:
            sp = self.opts.hook_sp
            if sp and not self.stack.contains(sp) and not uw.stacks.in_alternate_stack(self.tc.cpu, sp):
                raise UnwindFatal(
                    f"non-process stack address for this task: {sp:x}\n"
                    f"    (valid range: {self.stack.base:x} - {self.stack.top:x})"
                )
            rip, rsp = self.saved_frame()
            rip = self.opts.hook_ip or rip
            rsp = sp or rsp
        else:
            rip, rsp = self.start_registers()
        if self.opts.text_scan_all:
            rsp = self.stack.base + uw.thread_info_size
            rip = 0
        self.instptr, self.stkptr = rip, rsp
        self.low_budget()

    def eframe_search(self) -> None:
        size = self.uw.pt_regs_size
        limit = (self.stack.top - self.stack.base - size) // 8
        for i in range(0, limit + 1):
            self.exception_frame(self.stack.base + i * 8, record=True, verify=True, search=True)

    def low_budget(self) -> None:  # noqa: C901 - crash's one long procedure, kept in its order
        uw = self.uw
        level = 0
        done = False
        irq_eframe = 0
        last_eframe = [0]
        self.call_target = None
        rsp = self.stkptr
        entries = self.result.entries
        if not self.f_user_space and (not rsp or not self.accessible(rsp)):
            self.result.no_start = True
            return
        if self.opts.text_scan:
            if self.f_user_space and not self.opts.text_scan_all:
                return
            if not self.opts.text_scan_all:
                self.result.start = (uw.closest_symbol(self.instptr) or "", self.instptr)
        elif self.f_user_space:
            entries.append(self.eframe_record(0, self.machdep or {}, user_mode=True, from_note=True))
            return
        elif self.f_kernel_space and self.machdep is not None:
            entries.append(self.eframe_record(0, self.machdep, user_mode=False, from_note=True))
        elif self.f_start:
            self.stack_entry(level, 0, self.instptr)
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
                    raise UnwindFatal(
                        "cannot transition from exception stack to IRQ stack to current process stack"
                    )
                if self.f_exception_stack:
                    if self.in_user_stack(rsp):
                        done = True
                    else:
                        raise UnwindFatal(
                            "cannot transition from exception stack to current process stack:\n"
                            f"    exception stack pointer: {self.stkptr:x}\n      process stack pointer: {rsp:x}\n"
                            f"         current stack base: {base:x}"
                        )
                else:
                    raise UnwindFatal(
                        "cannot transition from IRQ stack to current process stack:\n"
                        f"        IRQ stack pointer: {self.stkptr:x}\n    process stack pointer: {rsp:x}\n"
                        f"       current stack base: {base:x}"
                    )
            assert self.process_stack is not None
            self.stack = self.process_stack

        if (
            not done
            and not (self.opts.text_scan or self.f_exception_stack or self.f_irqstack)
            and uw.closest_symbol(self.instptr) in ("thread_return", "schedule", "__schedule")
        ):
            rsp += uw.ret_addr_off

        if irq_eframe:
            self.f_exception_frame = True
            i = (irq_eframe - self.stack.base) // 8
            if uw.asm_common_interrupt:
                i -= 1
                self.instptr = self.stack.words[i]
            self.stack_entry(level, i, self.instptr)
            self.f_exception_frame = False
            cs, _ = self.exception_frame(irq_eframe, record=True, verify=False)
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
                self.exception_frame(user_eframe, record=True, verify=False)

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
            self.result.fault = e
            raise UnwindFatal(f"read of exception stack at {estack:x} failed") from None
        if irq_eframe:
            self.f_exception_frame = True
            i = (irq_eframe - self.stack.base) // 8
            self.stack_entry(level, i, self.instptr)
            self.f_exception_frame = False
            self.exception_frame(irq_eframe, record=True, verify=False)
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
        cs, _ = self.exception_frame(stacktop, record=True, verify=False)
        self.result.entries.append(StackChange(es.name, exception=True))
        up = (self.stack.top - self.stack.base) // 8 - 5
        if es.name == "NMI" and uw.nested_nmi and self.stkptr <= self.stack.top - 17 * 8:
            up -= 12
            if self.stack.words[up] == uw.symbol_value("repeat_nmi"):
                up += 5
        words = self.stack.words
        rsp = self.stkptr = words[up + 3]
        self.instptr = words[up]
        done = bool(cs & 3)
        self.frameptr = 0
        if not done:
            self.f_start = True
            self.f_save_eframe_ip = True
            self.stack_entry(level, 0, self.instptr)
            self.f_start = False
            self.f_save_eframe_ip = False
            self.f_framesize_disable = False
            if self.in_exception_stack()[0] == estack:
                self.result.recursion = es.name
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
            self.result.fault = e
            raise UnwindFatal(f"read of IRQ stack at {irqstack:x} failed") from None
        stacktop = top
        self.f_framesize_disable = False
        level, rsp, done = self.walk(level, rsp, stacktop, False)
        self.result.entries.append(StackChange("IRQ", exception=False))
        link = self.stack.words[(stacktop - irqstack) // 8 - 1]
        irq_eframe = rsp = self.stkptr = self.irq_eframe_link(link)
        self.instptr = self.stack.words[(stacktop - irqstack) // 8 - 2]
        found = uw.value_search(self.instptr)
        if found and found[0] in ("do_softirq", "do_softirq_own_stack", "call_softirq"):
            irq_eframe = 0
        self.frameptr = 0
        return level, rsp, False, irq_eframe

    def irq_eframe_link(self, stkref: int) -> int:
        if self.exception_frame(stkref, record=False, verify=True)[1]:
            return stkref
        irq_eframe = stkref - self.uw.irq_eframe_link
        if self.exception_frame(irq_eframe, record=False, verify=True)[1]:
            return irq_eframe
        for d in (8, -8, 16, -16):
            if self.exception_frame(irq_eframe + d, record=False, verify=True)[1]:
                return irq_eframe + d
        return irq_eframe


def unwind(prog: Program, tc: TaskContext, opts: UnwindOptions | None = None) -> Backtrace:
    """The backtrace of the task `tc` as `bt` finds it: its frames, exception frames and stack changes,
    innermost first (unwind/records.py)."""
    return Tracer(prog, task_table(prog), tc, opts or UnwindOptions()).run()


def search_exception_frames(
    prog: Program, tc: TaskContext, base: int, size: int, opts: UnwindOptions | None = None
) -> Backtrace:
    """The exception frames found on the stack [base, base + size) (one CPU's IRQ or exception stack:
    bt -E), read on behalf of the task `tc`."""
    opts = replace(opts or UnwindOptions(), eframe_search=True)
    tracer = Tracer(prog, task_table(prog), tc, opts)
    tracer.f_eframe_search = True
    try:
        tracer.stack = tracer.read_stack(base, base + size, "irqstack contents")
    except FaultError:
        tracer.result.error = f"read of stack at {base:x} failed"
        return tracer.result
    tracer.stkptr = base
    tracer.eframe_search()
    return tracer.result
