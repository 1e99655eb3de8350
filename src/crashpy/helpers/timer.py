"""The timer wheel (per-CPU struct timer_base) and the high-resolution timers (struct hrtimer_cpu_base).

Kernel knowledge behind `timer`: each CPU's timer bases (BASE_STD, and BASE_DEF where timer migration
exists), the timer_list chains hanging off their vectors[], and each hrtimer clock base's timerqueue
(a red-black tree ordered by expiry).  Rows only; commands/timer.py lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError, FaultError
from crashpy.helpers.list import DuplicateEntry

if TYPE_CHECKING:
    from crashpy.program import Program

MASK64 = (1 << 64) - 1


def _signed(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


@dataclass
class WheelTimer:
    address: int  # the struct timer_list
    expires: int
    function: int
    tte: int  # expires - jiffies, signed


@dataclass
class TimerBase:
    cpu: int
    name: str  # BASE_STD / BASE_DEF
    address: int
    timers: list[WheelTimer] = field(default_factory=list)


def jiffies(prog: Program) -> int:
    return prog.read_u64(prog.symbol_address("jiffies"))


def _percpu(prog: Program, name: str, cpu: int) -> int:
    return (prog.symbol_address(name) + prog.percpu_offsets[cpu]) & MASK64


def _array_len(prog: Program, struct: str, member: str) -> int:
    """The declared length of array member `member` of struct `struct` (0: not an array)."""
    from crashpy.object import Object, resolve
    from crashpy.types.model import ArrayType

    try:
        t = resolve(Object(prog, f"struct {struct}", 0).member_(member).type_)
    except CrashpyError:
        return 0
    return t.length if isinstance(t, ArrayType) and t.length else 0


def _chain(prog: Program, first: int, limit: int = 1_000_000) -> list[int]:
    """The nodes of an hlist from its first node; a fault or a loop makes the whole chain unusable."""
    nodes: list[int] = []
    seen: set[int] = set()
    node = first
    while node:
        if node in seen or len(nodes) > limit:
            raise DuplicateEntry(node, "timer_list")
        seen.add(node)
        nodes.append(node)
        node = prog.read_u64(node)  # hlist_node.next comes first
    return nodes


def timer_bases(prog: Program, cpu: int, now: int) -> list[TimerBase]:
    """The timer bases of `cpu` with their pending timers, each base's timers by expiry."""
    nvec = _array_len(prog, "timer_base", "vectors")
    if not nvec:
        raise CommandError("cannot determine timer_base.vectors[] array size")
    nbases = 2 if prog.has_symbol("sysctl_timer_migration") else 1
    vec_off = prog.offsetof("timer_base", "vectors")
    entry_off = prog.offsetof("timer_list", "entry")
    exp_off = prog.offsetof("timer_list", "expires")
    fn_off = prog.offsetof("timer_list", "function")
    size = prog.sizeof("timer_base")
    addr = _percpu(prog, "timer_bases", cpu)
    out = []
    for b in range(nbases):
        base = TimerBase(cpu, "BASE_STD" if b == 0 else "BASE_DEF", addr + b * size)
        raw = prog.read(base.address + vec_off, 8 * nvec)
        for i in range(nvec):
            first = int.from_bytes(raw[8 * i : 8 * i + 8], "little")
            if not first:
                continue
            try:
                nodes = _chain(prog, first)
            except (FaultError, DuplicateEntry):
                continue
            for node in nodes:
                timer = (node - entry_off) & MASK64
                try:
                    expires = prog.read_u64(timer + exp_off)
                    function = prog.read_u64(timer + fn_off)
                except FaultError:
                    continue
                base.timers.append(WheelTimer(timer, expires, function, _signed(expires - now)))
        base.timers.sort(key=lambda t: t.expires)
        out.append(base)
    return out


# ---- hrtimers -------------------------------------------------------------------------------------------


@dataclass
class HrTimer:
    address: int
    softexpires: int | None
    expires: int
    function: int | None  # None: unreadable
    destroyed: bool = False  # the struct hrtimer itself cannot be read


@dataclass
class ClockBase:
    index: int
    address: int
    get_time: int
    now: int
    timers: list[HrTimer] = field(default_factory=list)


def hrtimer_cpu_base(prog: Program, cpu: int) -> int:
    return _percpu(prog, "hrtimer_bases", cpu)


def _ktime(prog: Program, addr: int) -> int:
    try:
        return prog.read_u64(addr)
    except FaultError:
        return 0


def clock_bases(prog: Program, cpu: int, uptime_jiffies: int, hz: int) -> list[ClockBase]:
    """The clock bases of `cpu`'s struct hrtimer_cpu_base, each with its queued hrtimers in order."""
    from crashpy.helpers.rbtree import rbtree_inorder_for_each
    from crashpy.object import Object

    if not prog.has_member("hrtimer_cpu_base", "clock_base"):
        raise CommandError("-r option not supported or applicable on this architecture or kernel")
    size = prog.sizeof("hrtimer_clock_base")
    count = _array_len(prog, "hrtimer_cpu_base", "clock_base") or 2
    first = hrtimer_cpu_base(prog, cpu) + prog.offsetof("hrtimer_cpu_base", "clock_base")
    node_off = prog.offsetof("hrtimer", "node") + prog.offsetof("timerqueue_node", "node")
    soft_off = (
        prog.offsetof("hrtimer", "_softexpires") if prog.has_member("hrtimer", "_softexpires") else None
    )
    exp_off = prog.offsetof("hrtimer", "node") + prog.offsetof("timerqueue_node", "expires")
    fn_off = prog.offsetof("hrtimer", "function")
    has_offset = prog.has_member("hrtimer_clock_base", "offset")
    out = []
    for k in range(count):
        base = first + k * size
        get_time = prog.read_u64(base + prog.offsetof("hrtimer_clock_base", "get_time"))
        offset = _ktime(prog, base + prog.offsetof("hrtimer_clock_base", "offset")) if has_offset else 0
        now = (uptime_jiffies * (1_000_000_000 // hz) + offset) & MASK64
        cb = ClockBase(k, base, get_time, now)
        head = Object(prog, "struct hrtimer_clock_base", base).active.rb_root.rb_root
        try:
            nodes = [int(n.value_()) for n in rbtree_inorder_for_each(head)]
        except (FaultError, CrashpyError):
            nodes = []
        for node in nodes:
            timer = (node - node_off) & MASK64
            try:
                prog.read(timer, 1)
            except FaultError:
                soft0 = 0 if soft_off is not None else None  # crash reads an unreadable ktime as 0
                cb.timers.append(HrTimer(timer, soft0, 0, None, destroyed=True))
                continue
            soft = _ktime(prog, timer + soft_off) if soft_off is not None else None
            try:
                fn: int | None = prog.read_u64(timer + fn_off)
            except FaultError:
                fn = None
            cb.timers.append(HrTimer(timer, soft, _ktime(prog, timer + exp_off), fn))
        out.append(cb)
    return out
