"""autopsy: what a kernel engineer's first half hour with a dump finds, done by crashpy.

The walk: the kernel log's failure report and panic line (evidence.py), the panicking task and CPU,
its backtrace and exception frame, the faulting instruction and the registers that fed it, the BUG
table entry at a ud2, the module and its taint flags; then, per kind of failure, what the kernel keeps
about it (the stuck CPU of a soft lockup, the blocked task of a hung-task panic and the lock it waits
for, the largest memory users of an OOM panic, the corrupted list node and its neighbours).  Each
conclusion says what it rests on (`evidence`).  The result is data (`Autopsy`); commands/autopsy.py
writes it as text or JSON, and `signature.py` reduces it to a bucket key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crashpy.analysis import details
from crashpy.analysis.evidence import LogEvidence, read_log
from crashpy.analysis.signature import call_chain, signature
from crashpy.errors import CrashpyError
from crashpy.unwind.records import ExceptionFrame, Frame

if TYPE_CHECKING:
    from crashpy.helpers.tasks import TaskTable
    from crashpy.program import Program
    from crashpy.unwind.records import Backtrace

# What each kind is called in the report's first line.
KIND_TITLES = {
    "sysrq": "crash requested with sysrq-trigger",
    "panic": "panic() called",
    "bug": "BUG()",
    "warn": "WARN() with panic_on_warn",
    "null-deref": "NULL pointer dereference",
    "page-fault": "bad pointer dereference (page fault)",
    "gpf": "general protection fault",
    "soft-lockup": "soft lockup",
    "hard-lockup": "hard lockup",
    "hung-task": "hung task",
    "oom": "out of memory",
    "list-corruption": "list corruption",
    "stack-overflow": "kernel stack overflow",
    "double-fault": "double fault",
    "machine-check": "machine check",
    "unknown": "unknown failure",
}

# The exception entry points (the frame below an exception frame) and what they mean.
_VECTORS = {
    "asm_exc_invalid_op": "invalid opcode",
    "asm_exc_page_fault": "page fault",
    "asm_exc_general_protection": "general protection fault",
    "asm_exc_double_fault": "double fault",
    "asm_exc_int3": "breakpoint",
    "asm_exc_divide_error": "divide error",
    "asm_exc_machine_check": "machine check",
    "asm_exc_nmi": "NMI",
    "asm_sysvec_apic_timer_interrupt": "timer interrupt",
    "asm_sysvec_reboot": "reboot IPI",
}

# Functions of the panic and oops machinery: never the culprit.
_MACHINERY_PREFIXES = (
    "panic", "vpanic", "nmi_panic", "__warn", "warn_slowpath", "report_bug", "handle_bug", "die",
    "oops_", "__die", "do_trap", "do_error_trap", "exc_", "asm_", "page_fault_oops", "kernelmode_fixup",
    "__bad_area", "bad_area", "do_user_addr_fault", "handle_page_fault", "no_context",
    "watchdog_timer_fn", "__hrtimer_run_queues", "hrtimer_interrupt", "__sysvec_", "sysvec_",
    "check_hung_", "watchdog", "out_of_memory", "__alloc_pages", "alloc_pages", "__folio_alloc",
    "folio_alloc", "vma_alloc_folio", "__handle_irq", "handle_irq", "irq_exit", "__irq_exit",
    "dump_stack", "show_stack", "show_regs", "__schedule", "schedule", "crash_", "native_",
    "__crash_kexec", "rcu_", "hung_task", "kthread", "ret_from_fork",
)

# Where a blocked task sleeps: the lock or wait primitives, never the culprit of a hung task.
_SLEEP_PREFIXES = ("__mutex", "mutex_", "rwsem", "__rwsem", "down", "__down", "percpu_down", "rt_mutex",
                   "__rt_mutex", "wait_for", "__wait", "wait_on", "io_schedule", "bit_wait", "out_of_line_wait",
                   "msleep", "usleep", "schedule")


@dataclass
class TaskRef:
    address: int
    pid: int
    comm: str
    cpu: int


@dataclass
class Culprit:
    """Where the failure happened: a kernel or module function, and the source line when known."""

    function: str
    offset: int
    address: int
    module: str | None = None
    source: str | None = None  # "file:line": the kernel's BUG table, else the vmlinux's line table
    source_from: str = ""  # "__bug_table", "debuginfo"


@dataclass
class ModuleInfo:
    name: str
    address: int  # the struct module
    taints: str  # letters, e.g. "OE"
    taint_names: list[str]


@dataclass
class Fault:
    """The faulting access of a page fault or general protection fault."""

    address: int | None
    access: str  # "read", "write", "instruction fetch", "" when unknown
    instruction: str
    address_from: str  # "log" (the kernel's CR2 in the report) or "instruction" (computed here)
    note: str = ""


@dataclass
class DisasmLine:
    address: int
    location: str  # "func+off"
    text: str
    marked: bool


@dataclass
class Autopsy:
    kind: str
    title: str
    panic: str
    release: str
    task: TaskRef | None
    culprit: Culprit | None
    evidence: list[str] = field(default_factory=list)
    exception: str = ""  # the exception or interrupt that stopped the culprit ("page fault", ...)
    fault: Fault | None = None
    module: ModuleInfo | None = None
    kernel_taints: str = ""
    registers: dict[str, int] = field(default_factory=dict)  # the exception frame's
    registers_used: dict[str, int] = field(default_factory=dict)  # those the faulting instruction read
    disassembly: list[DisasmLine] = field(default_factory=list)
    backtrace: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    signature: str = ""
    signature_text: str = ""


# ---------------------------------------------------------------------------------------------------


def _log_lines(prog: Program) -> list[str]:
    from crashpy.helpers import printk

    try:
        lines: list[str] = prog.cache("printk.text_lines", lambda: printk.text_lines(prog))
    except CrashpyError:
        return []
    return lines


def _first_kernel_eframe(trace: Backtrace) -> tuple[ExceptionFrame | None, str, int]:
    """The innermost kernel-mode exception frame of a trace (not the dump's register note), the
    exception it came from (by the entry point below it) and its index in trace.entries."""
    previous: Frame | None = None
    for i, entry in enumerate(trace.entries):
        if isinstance(entry, ExceptionFrame) and not entry.user_mode and not entry.from_note:
            vector = _VECTORS.get(previous.function, "") if previous is not None else ""
            return entry, vector, i
        if isinstance(entry, Frame):
            previous = entry
    return None, "", -1


def _is_machinery(name: str) -> bool:
    return name.startswith(_MACHINERY_PREFIXES)


def _frames_after(trace: Backtrace, index: int) -> list[Frame]:
    return [e for e in trace.entries[index + 1 :] if isinstance(e, Frame)]


def _frame_text(f: Frame) -> str:
    module = f" [{f.module}]" if f.module else ""
    return f"{f.function}+{f.offset:#x}{module}"


def _backtrace_text(trace: Backtrace) -> list[str]:
    """The trace's frames, and each kernel-mode exception frame as `<exception> function+offset`."""
    lines: list[str] = []
    previous: Frame | None = None
    repeats = 0
    for entry in trace.entries:
        if isinstance(entry, Frame):
            text = _frame_text(entry)
            if lines and lines[-1].split(" (", 1)[0] == text:  # recursion: one line, with a count
                repeats += 1
                lines[-1] = f"{text} (x{repeats + 1})"
            else:
                repeats = 0
                lines.append(text)
            previous = entry
        elif isinstance(entry, ExceptionFrame) and not entry.user_mode and entry.function:
            vector = _VECTORS.get(previous.function, "exception") if previous is not None else "exception"
            lines.append(f"<{vector}> {entry.function}+{entry.offset:#x}")
    return lines


def _tail_called(prog: Program, frame: Frame, inner: str) -> tuple[str, int, str | None] | None:
    """The function the call before `frame`'s return address went to, when that is not `inner` (the
    frame above it): the callee made a tail call (`jmp panic`) and left no frame of its own."""
    from crashpy.disasm.x86 import decode_one

    try:
        code = prog.read(frame.pc - 5, 5, what="the call instruction")
    except CrashpyError:
        return None
    insn = decode_one(code, frame.pc - 5)
    if insn is None or insn.mnemonic != "call" or insn.end != frame.pc or insn.target is None:
        return None
    found = details.symbol_at(prog, insn.target)
    if found is None or found[1] != 0 or found[0] == inner or _is_machinery(found[0]):
        return None
    return found[0], insn.target, found[2]


def _culprit_at(prog: Program, address: int, ev: Autopsy, returns_to: bool = False) -> Culprit | None:
    """The function at `address` with its source line; `returns_to`: the address is a return address,
    whose line is the call's (the byte before it)."""
    from crashpy.disasm.bug import bug_table

    found = details.symbol_at(prog, address)
    if found is None:
        return None
    name, offset, module = found
    culprit = Culprit(name, offset, address, module)
    try:
        entry = next((b for b in bug_table(prog) if b.address == address), None)
    except CrashpyError:
        entry = None
    if entry is not None:
        culprit.source, culprit.source_from = f"{entry.file}:{entry.line}", "__bug_table"
        ev.details["bug_entry"] = {"file": entry.file, "line": entry.line, "warning": bool(entry.flags & 1)}
    elif module is None:
        from crashpy.dwarf.lines import source_line

        line = source_line(prog, address - 1 if returns_to else address)
        if line:
            culprit.source, culprit.source_from = line.replace(": ", ":"), "debuginfo"
    return culprit


def _module_info(prog: Program, address: int) -> ModuleInfo | None:
    from crashpy.helpers.modules import module_symtab
    from crashpy.object import Object

    try:
        mod = module_symtab(prog).module_of(address)
        if mod is None:
            return None
        taints = int(Object(prog, "struct module", mod.struct_addr).member_("taints"))
        letters, names = details.taint_letters(prog, taints)
    except CrashpyError:
        return None
    return ModuleInfo(mod.name, mod.struct_addr, letters, names)


# capstone's register names -> pt_regs' members
_PT_REGS = {"rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si", "rdi": "di", "rbp": "bp",
            "rsp": "sp", **{f"r{n}": f"r{n}" for n in range(8, 16)}}


def _pt_reg(name: str) -> str | None:
    full = name
    if len(name) == 3 and name[0] == "e":
        full = "r" + name[1:]
    elif name.startswith("r") and name[-1] in "dwb" and name[1:-1].isdigit():
        full = name[:-1]
    elif len(name) == 2 and name[1] in "xl" and name[0] in "abcd":
        full = f"r{name[0]}x"
    elif name in ("si", "di", "bp", "sp", "sil", "dil", "bpl", "spl"):
        full = "r" + name[:2]
    return _PT_REGS.get(full)


def _instruction(prog: Program, ev: Autopsy, regs: dict[str, int]) -> None:
    """The faulting instruction: disassembly around it, the registers it reads, the address it touches."""
    from crashpy.disasm.x86 import decode, operands

    rip = regs.get("ip", 0)
    found = details.symbol_at(prog, rip)
    if found is None:
        return
    name, offset, _ = found
    start = rip - offset
    try:
        code = prog.read(start, offset + 32, what="the function's text")
    except CrashpyError:
        return
    insns = [i for i in decode(code, start) if i.address <= rip + 16]
    at = next((n for n, i in enumerate(insns) if i.address == rip), None)
    if at is None:
        return
    for insn in insns[max(0, at - 8) : at + 4]:
        text = insn.text.rstrip()
        target = details.symbol_at(prog, insn.target) if insn.target is not None else None
        if target is not None:
            text += f" <{target[0]}+{target[1]}>" if target[1] else f" <{target[0]}>"
        ev.disassembly.append(DisasmLine(insn.address, f"{name}+{insn.address - start}", text, insn.address == rip))
    ops = operands(code[offset:], rip)
    if ops is None:
        return
    for reg in ops.registers:
        member = _pt_reg(reg)
        if member is not None and member in regs:
            ev.registers_used[reg] = regs[member]
    if ev.kind in ("null-deref", "page-fault", "gpf") and ops.memory is not None:
        m = ops.memory
        computed: int | None = m.disp
        for base_or_index, scale in ((m.base, 1), (m.index, m.scale)):
            reg = base_or_index or ""
            member = _pt_reg(reg) if reg else None
            if reg and (member is None or member not in regs):
                computed = None
                break
            if reg and member is not None and computed is not None:
                computed += regs[member] * scale
        if m.segment in ("gs", "fs"):
            computed = None  # relative to a segment base the dump's registers do not hold
        access = "write" if m.written else "read"
        text = insns[at].text.rstrip()
        ev.fault = Fault(computed & (2**64 - 1) if computed is not None else None, access, text, "instruction")


def _classify(log: LogEvidence, trace: Backtrace | None) -> tuple[str, list[str]]:
    """The kind, and what it was decided from."""
    why: list[str] = []
    cause = log.cause()
    if cause is not None:
        why.append(f'the kernel log reports: "{cause.line.strip()}"')
        kind = cause.kind
    else:
        kind = log.panic_kind() or ""
        if kind:
            why.append(f'the panic message: "{log.panic}"')
    if log.panic:
        why.append(f'panic: "{log.panic}"')
    if not kind and trace is not None:
        names = [e.function for e in trace.entries if isinstance(e, Frame)]
        if "sysrq_handle_crash" in names:
            kind = "sysrq"
            why.append("the panic task's trace runs through sysrq_handle_crash")
        elif "watchdog_timer_fn" in names:
            kind = "soft-lockup"
            why.append("the panic was called from the soft-lockup watchdog (watchdog_timer_fn)")
        elif any(n.startswith("check_hung_") for n in names):
            kind = "hung-task"
            why.append("the panic was called from khungtaskd (check_hung_uninterruptible_tasks)")
        elif "out_of_memory" in names:
            kind = "oom"
            why.append("the panic was called from out_of_memory")
        else:
            eframe, vector, _ = _first_kernel_eframe(trace)
            if eframe is not None and vector:
                kind = {"page fault": "page-fault", "general protection fault": "gpf",
                        "double fault": "double-fault", "machine check": "machine-check"}.get(vector, "")
                if kind:
                    why.append(f"the panic task's exception frame comes from a {vector}")
    if not kind:
        kind = "panic" if log.panic or trace is not None else "unknown"
    return kind, why


def autopsy(prog: Program) -> Autopsy:
    """Explain the crash in the dump `prog` holds."""
    from crashpy.helpers.sysinfo import utsname
    from crashpy.helpers.sysopts import taints
    from crashpy.helpers.tasks import task_table

    log = read_log(_log_lines(prog))
    table_error = ""
    try:
        table: TaskTable | None = task_table(prog)
    except CrashpyError as e:  # a dump cut short or filtered hard: what the log says is still worth saying
        table, table_error = None, str(e)
    panic_tc = table.by_task.get(table.panic_task) if table is not None else None
    panic_trace = details.trace_of(prog, panic_tc) if panic_tc is not None else None
    kind, why = _classify(log, panic_trace)
    try:
        release = utsname(prog).get("release", "")
    except CrashpyError:
        release = ""
    ev = Autopsy(kind, KIND_TITLES[kind], log.panic, release, None, None, why)
    try:
        t = taints(prog)
        ev.kernel_taints = t.letters if t is not None else ""
    except CrashpyError:
        pass
    ev.log = log.report_lines()
    if not log.lines:
        ev.evidence.append("the kernel log could not be read")
    if table is None:
        ev.evidence.append(f"the task table could not be read ({table_error})")
        ev.signature_text, ev.signature = signature(ev.kind, None, [])
        return ev

    # The task and trace the failure is about: the panic task, but the stuck CPU's task of a soft
    # lockup and the blocked task of a hung-task panic.
    tc, trace = panic_tc, panic_trace
    if kind in ("soft-lockup", "hard-lockup"):
        tc, trace = details.lockup(prog, table, log, ev, tc, trace)
    elif kind == "hung-task":
        tc, trace = details.hung_task(prog, table, log, ev, tc, trace)
    if tc is not None:
        ev.task = TaskRef(tc.task, tc.pid, tc.comm, tc.cpu)
    if trace is None:
        ev.evidence.append("no backtrace could be read for the task")
        ev.signature_text, ev.signature = signature(ev.kind, None, [])
        return ev

    eframe, vector, at = _first_kernel_eframe(trace)
    callers: list[Frame]
    if eframe is not None and kind not in ("sysrq", "panic", "hung-task", "oom"):
        ev.exception = vector
        ev.registers = dict(eframe.regs)
        rip = eframe.regs.get("ip", 0)
        ev.culprit = _culprit_at(prog, rip, ev)
        if vector:
            ev.evidence.append(f"the exception frame at {eframe.address:x}: {vector} at {rip:x}")
        _instruction(prog, ev, eframe.regs)
        callers = _frames_after(trace, at)
        while callers and ev.culprit is not None and callers[0].function == ev.culprit.function:
            callers = callers[1:]  # crash's stale first frame, or the recursion itself
        if kind == "list-corruption" and ev.culprit is not None and ev.culprit.function.startswith("__list_"):
            # the check that caught it is not the culprit: its caller, the list's user, is
            while callers and callers[0].function.startswith(("__list_", "list_")):
                callers = callers[1:]
            if callers:
                ev.evidence.append(f"{ev.culprit.function} caught the corruption for its caller "
                                   f"{callers[0].function}")
                ev.culprit = _culprit_at(prog, callers[0].pc, ev, returns_to=True) or ev.culprit
                callers = callers[1:]
    else:
        frames = [e for e in trace.entries if isinstance(e, Frame)]
        chosen = next((f for f in frames if not _is_machinery(f.function)), None)
        if kind == "hung-task":
            chosen = next((f for f in frames if not _is_machinery(f.function)
                           and not f.function.startswith(_SLEEP_PREFIXES)), chosen)
        if chosen is not None:
            at_frame = frames.index(chosen)
            callers = frames[at_frame + 1 :]
            ev.culprit = _culprit_at(prog, chosen.pc, ev, returns_to=True) or Culprit(
                chosen.function, chosen.offset, chosen.pc, chosen.module)
            inner = frames[at_frame - 1].function if at_frame else ""
            # only between the panic machinery and its caller: elsewhere (mutex_lock jumping to its
            # slow path) a tail call is no news
            callee = _tail_called(prog, chosen, inner) if inner and _is_machinery(inner) else None
            if callee is not None:
                ev.evidence.append(f"{chosen.function} called {callee[0]}, which jumped to {inner} (a tail "
                                   "call, so it has no frame of its own)")
                callers = [chosen, *callers]
                ev.culprit = Culprit(callee[0], 0, callee[1], callee[2])
        else:
            callers = []
    ev.backtrace = _backtrace_text(trace)
    if ev.culprit is not None:
        ev.module = _module_info(prog, ev.culprit.address)

    if kind in ("null-deref", "page-fault", "gpf"):
        details.fault(ev, log)
    elif kind == "bug" or kind == "warn":
        details.bug_or_warn(ev, log)
    elif kind == "list-corruption":
        details.list_corruption(prog, ev, log)
    elif kind == "oom":
        details.oom(prog, table, ev, log)
    elif kind == "stack-overflow":
        counts = Counter(f.function for f in trace.entries if isinstance(f, Frame))
        if counts:
            name, n = counts.most_common(1)[0]
            ev.details["recursing_function"] = name
            ev.details["frames_of_it"] = n
            if n > 4 and (ev.culprit is None or ev.culprit.function != name):
                found = next(f for f in trace.entries if isinstance(f, Frame) and f.function == name)
                ev.culprit = _culprit_at(prog, found.pc, ev, returns_to=True) or ev.culprit
            ev.evidence.append(f"{n} frames of {name} on the stack")
    ev.title = _title(ev)
    ev.signature_text, ev.signature = signature(ev.kind, ev.culprit, call_chain(callers))
    return ev


def _title(ev: Autopsy) -> str:
    where = ""
    if ev.culprit is not None:
        module = f" [{ev.culprit.module}]" if ev.culprit.module else ""
        where = f" in {ev.culprit.function}{module}"
        if ev.culprit.source:
            where += f" at {ev.culprit.source}"
    extra = ""
    if ev.fault is not None and ev.fault.address is not None:
        extra = f" ({ev.fault.access} of {ev.fault.address:#x})"
    elif ev.kind == "hung-task" and "blocked_seconds" in ev.details:
        extra = f" (blocked for more than {ev.details['blocked_seconds']} s)"
    elif ev.kind in ("soft-lockup", "hard-lockup") and "cpu" in ev.details:
        extra = f" (CPU {ev.details['cpu']}" + (
            f" stuck for {ev.details['stuck_seconds']} s)" if "stuck_seconds" in ev.details else ")")
    return f"{KIND_TITLES[ev.kind]}{where}{extra}"
