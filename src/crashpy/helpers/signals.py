"""Signals: a task's handlers (sighand_struct), its pending, blocked and queued signals, and the names
crash gives signal numbers and sigsets. Everything here returns data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.bits import MASK64
from crashpy.errors import CommandError

if TYPE_CHECKING:
    from crashpy.program import Program

NSIG = 64
SIGRTMIN = 32
TIF_SIGPENDING = 2  # x86: arch/x86/include/asm/thread_info.h

# Signal names 1..31 and their other names (kernel's asm-generic/signal.h numbering on x86).
SIGNAMES: dict[int, tuple[str, str | None]] = {
    1: ("SIGHUP", None),
    2: ("SIGINT", None),
    3: ("SIGQUIT", None),
    4: ("SIGILL", None),
    5: ("SIGTRAP", None),
    6: ("SIGABRT", "SIGIOT"),
    7: ("SIGBUS", None),
    8: ("SIGFPE", None),
    9: ("SIGKILL", None),
    10: ("SIGUSR1", None),
    11: ("SIGSEGV", None),
    12: ("SIGUSR2", None),
    13: ("SIGPIPE", None),
    14: ("SIGALRM", None),
    15: ("SIGTERM", None),
    16: ("SIGSTKFLT", None),
    17: ("SIGCHLD", "SIGCLD"),
    18: ("SIGCONT", None),
    19: ("SIGSTOP", None),
    20: ("SIGTSTP", None),
    21: ("SIGTTIN", None),
    22: ("SIGTTOU", None),
    23: ("SIGURG", None),
    24: ("SIGXCPU", None),
    25: ("SIGXFSZ", None),
    26: ("SIGVTALRM", None),
    27: ("SIGPROF", None),
    28: ("SIGWINCH", None),
    29: ("SIGIO", "SIGPOLL"),
    30: ("SIGPWR", None),
    31: ("SIGSYS", "SIGUNUSED"),
}

# sa_flags bits in the order crash names them (x86 values).
SA_FLAGS = [
    (0x00000001, "SA_NOCLDSTOP"),
    (0x04000000, "SA_RESTORER"),
    (0x00000002, "SA_NOCLDWAIT"),
    (0x00000004, "SA_SIGINFO"),
    (0x08000000, "SA_ONSTACK"),
    (0x10000000, "SA_RESTART"),
    (0x40000000, "SA_NODEFER"),
    (0x80000000, "SA_RESETHAND"),
]


def signal_name(sig: int) -> str:
    """The name of signal `sig` (1..64): SIGHUP .. SIGSYS, SIGRTMIN, SIGRTMIN+n, SIGRTMAX-n, SIGRTMAX."""
    if sig == SIGRTMIN:
        return "SIGRTMIN"
    if sig == NSIG:
        return "SIGRTMAX"
    if sig > SIGRTMIN:
        span = NSIG - SIGRTMIN - 1
        high = span // 2
        low = span - high
        n = sig - SIGRTMIN
        return f"SIGRTMIN+{n}" if n <= low else f"SIGRTMAX-{NSIG - sig}"
    return SIGNAMES[sig][0]


def signal_list() -> list[tuple[int, str]]:
    """(number, name) for `sig -l`: the other name after a slash where a signal has two."""
    out = []
    for sig in range(1, NSIG + 1):
        if sig in SIGNAMES and SIGNAMES[sig][1]:
            out.append((sig, f"{SIGNAMES[sig][0]}/{SIGNAMES[sig][1]}"))
        else:
            out.append((sig, signal_name(sig)))
    return out


def sigset_names(sigset: int) -> list[str]:
    """The names of the signals whose bits are set in a 64-bit sigset (bit 0 is signal 1)."""
    return [signal_name(i + 1) for i in range(NSIG) if sigset >> i & 1]


def sa_flags_names(flags: int) -> list[str]:
    return [name for bit, name in SA_FLAGS if flags & bit]


@dataclass(frozen=True)
class SigAction:
    """One k_sigaction of a sighand_struct."""

    signo: int
    address: int  # struct k_sigaction *
    handler: int
    mask: int
    flags: int


@dataclass(frozen=True)
class QueuedSignal:
    signo: int
    siginfo: int  # address of the sigqueue's siginfo


@dataclass
class TaskSignals:
    """What `sig` shows of one task (task: struct task_struct *)."""

    task: int
    signal_struct: int
    nr_threads: int | None
    actions: list[SigAction]
    sigpending: bool
    blocked: int
    pending: int
    queue: list[QueuedSignal] | None  # None: the private queue is empty
    shared_pending: int
    shared_queue: list[QueuedSignal] | None


def _queue(prog: Program, head: int) -> list[QueuedSignal] | None:
    """The struct sigqueue entries of the sigpending list at `head` (struct list_head *)."""
    first = prog.read_u64(head)
    if prog.read_u64(first) == first:
        return None
    list_off = prog.offsetof("sigqueue", "list")
    info_off = prog.offsetof("sigqueue", "info")
    signo_off = (
        prog.offsetof("kernel_siginfo", "si_signo") if prog.has_member("kernel_siginfo", "si_signo") else 0
    )
    out: list[QueuedSignal] = []
    node = first
    while True:
        entry = node - list_off
        nxt = prog.read_u64(node)
        sig = prog.read_u32(entry + info_off + signo_off)
        if nxt == first:
            break
        out.append(QueuedSignal(sig - (1 << 32) if sig & 0x80000000 else sig, entry + info_off))
        node = nxt
        if len(out) > 100000:
            raise CommandError(f"sigqueue loop detected at {head:x}")
    return out


def task_signals(prog: Program, task: int) -> TaskSignals:
    """Read a task's signal handling data as crash's `sig` shows it."""
    signal_struct = prog.read_u64(task + prog.offsetof("task_struct", "signal"))
    nr_threads: int | None = None
    actions: list[SigAction] = []
    shared_pending = 0
    shared_queue: list[QueuedSignal] | None = None
    if signal_struct:
        if prog.has_member("signal_struct", "nr_threads"):
            nr_threads = prog.read_u32(signal_struct + prog.offsetof("signal_struct", "nr_threads"))
        sighand = prog.read_u64(task + prog.offsetof("task_struct", "sighand"))
        action_off = prog.offsetof("sighand_struct", "action")
        ksize = prog.sizeof("k_sigaction")
        handler_off = prog.offsetof("k_sigaction", "sa.sa_handler")
        flags_off = prog.offsetof("k_sigaction", "sa.sa_flags")
        mask_off = prog.offsetof("k_sigaction", "sa.sa_mask")
        raw = prog.read(sighand + action_off, ksize * NSIG, what="sighand_struct buffer")
        for i in range(NSIG):
            base = i * ksize

            def word(off: int, base: int = base) -> int:
                return int.from_bytes(raw[base + off : base + off + 8], "little")

            actions.append(
                SigAction(
                    i + 1, sighand + action_off + base, word(handler_off), word(mask_off), word(flags_off)
                )
            )
        sp = signal_struct + prog.offsetof("signal_struct", "shared_pending")
        shared_pending = prog.read_u64(sp + prog.offsetof("sigpending", "signal"))
        shared_queue = _queue(prog, sp + prog.offsetof("sigpending", "list"))
    ti_flags = prog.read_u32(task + prog.offsetof("task_struct", "thread_info.flags"))
    blocked_off = prog.offsetof("task_struct", "blocked")
    # crash reads two longs at task_struct.blocked and joins them as 32-bit halves: on a 64-bit
    # kernel the second is real_blocked, whose low half lands in the top of the value it shows.
    lo = prog.read_u64(task + blocked_off)
    hi = prog.read_u64(task + blocked_off + 8)
    blocked = (lo | (hi << 32)) & MASK64
    pend = task + prog.offsetof("task_struct", "pending")
    pending = prog.read_u64(pend + prog.offsetof("sigpending", "signal"))
    queue = _queue(prog, pend + prog.offsetof("sigpending", "list"))
    return TaskSignals(
        task,
        signal_struct,
        nr_threads,
        actions,
        bool(ti_flags & (1 << TIF_SIGPENDING)),
        blocked,
        pending,
        queue,
        shared_pending,
        shared_queue,
    )
