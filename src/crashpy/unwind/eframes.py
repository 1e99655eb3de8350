"""One trace's state (crash's struct bt_info) and the exception frames on its stacks: where a
struct pt_regs lies, whether its values look like a real interrupted context (crash's
x86_64_eframe_verify), and the `ExceptionFrame` record of one.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from crashpy.dumpfile.notes import X86_64_USER_REGS
from crashpy.errors import FaultError
from crashpy.unwind.machdep import Stack, unwinder
from crashpy.unwind.records import Backtrace, ExceptionFrame, UnwindOptions
from crashpy.unwind.stacks import THREAD_SIZE

if TYPE_CHECKING:
    from crashpy.helpers.tasks import TaskContext, TaskTable
    from crashpy.program import Program

RAZ_MASK = 0xFFFFFFFFFFC08028
# struct pt_regs, in order: user_regs_struct's first 21 words
PT_REGS = X86_64_USER_REGS[:21]


class TraceState:
    """One trace over one task: bt_info's fields, its stacks and its exception frames."""

    def __init__(self, prog: Program, table: TaskTable, tc: TaskContext, opts: UnwindOptions) -> None:
        self.prog = prog
        self.uw = unwinder(prog)
        self.table = table
        self.tc = tc
        self.task = tc.task
        self.opts = opts
        self.result = Backtrace()
        # bt_info state
        self.stack: Stack = Stack(0, 0, ())
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
        self.process_stack: Stack | None = None

    # ---- stacks --------------------------------------------------------------------------------------

    def read_stack(self, base: int, top: int, what: str) -> Stack:
        data = self.prog.read(base, top - base, what=what)
        return Stack(base, top, struct.unpack(f"<{(top - base) // 8}Q", data), data)

    def instack(self, addr: int) -> bool:
        return self.stack.contains(addr)

    def process_stack_range(self) -> tuple[int, int]:
        base = self.uw.stack_base(self.task) or 0
        return base, base + THREAD_SIZE

    def in_exception_stack(self) -> tuple[int, int]:
        return self.uw.stacks.in_exception_stack(self.stkptr)

    def in_irqstack(self) -> int:
        return self.uw.stacks.in_irq_stack(self.stkptr)

    def is_kernel_thread(self) -> bool:
        return self.tc.pid == 0 or self.tc.is_kernel_thread

    def in_user_stack(self, addr: int) -> bool:
        return self.tc.mm != 0 and addr < 0x0000800000000000

    def accessible(self, addr: int) -> bool:
        """crash's accessible(): whether one byte at `addr` reads.  crash reads the pages makedumpfile
        excluded from an ELF dump (p_filesz < p_memsz) as zeros, so they count as accessible there,
        though crashpy never hands their zeros out as data."""
        try:
            self.prog.read(addr, 1)
        except FaultError as e:
            return self.prog.crash_reads_zeros(e)
        return True

    def source_line(self, addr: int) -> str | None:
        """The `file: line` of a text address when the options ask for source lines, else None (a
        module's address has one once its debuginfo is loaded: mod -s)."""
        if not self.opts.source_lines:
            return None
        from crashpy.dwarf.lines import source_line

        return source_line(self.prog, addr) or None

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
        self, addr: int, *, record: bool, verify: bool, search: bool = False
    ) -> tuple[int, bool]:
        """x86_64_exception_frame at `addr`: (cs, verified); adds its ExceptionFrame when asked (and,
        with `verify`, when it verifies)."""
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
        if not verified and verify:
            record = False
        if record:
            eframe = self.eframe_record(addr, regs, user_mode=bool(cs & 3), searched=search)
            if not search and eframe.function is not None and not eframe.user_mode:
                self.eframe_ip = rip
            self.result.entries.append(eframe)
        self.bptr = regs["bp"]
        return cs, verified

    def eframe_record(
        self, addr: int, regs: dict[str, int], *, user_mode: bool, searched: bool = False, from_note: bool = False
    ) -> ExceptionFrame:
        """The ExceptionFrame of `regs` (saved at `addr`), with its RIP's symbol in kernel mode."""
        eframe = ExceptionFrame(addr, regs, user_mode, searched=searched, from_note=from_note)
        if user_mode:
            return eframe
        rip = regs["ip"]
        found = self.uw.value_search(rip)
        if found is None:
            eframe.rip_in_vmalloc = self._is_vmalloc(rip)
        else:
            eframe.function, eframe.offset = found
            if not from_note:
                eframe.source = self.source_line(rip)
        return eframe
