"""Where a trace starts (crash's back_trace() get_*_regs and x86_64_get_stack_frame): a switched-out
task's resume point, or, for a task active on a CPU at the crash, the registers of its CPU's
NT_PRSTATUS note or the kernel's crash path found on its stacks.
"""

from __future__ import annotations

from crashpy.errors import FaultError
from crashpy.unwind.eframes import TraceState
from crashpy.unwind.machdep import prstatus_regs
from crashpy.unwind.records import UnwindFatal

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


class StartFinder(TraceState):
    """The starting (rip, rsp) of a trace."""

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
            raise UnwindFatal(
                f"invalid kernel virtual address: {self.task + self.uw.thread_sp_off:x}  "
                'type: "thread_struct rsp"'
            )
        bp = self.uw.read_u64(sp + self.uw.bp_off)
        if bp is None:
            raise UnwindFatal(
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
                        if not self.opts.text_scan and crash_kexec is None:
                            crash_kexec = (value, addr)
                            continue
                    return value, addr
                if estack and sym in ("nmi_watchdog_tick", "default_do_nmi"):
                    if uw.function_called_by(value - 5) == "die_nmi":
                        self.f_start = True
                        return uw.symbol_value("die_nmi"), addr - 7 * 8
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

