"""Tasks: every task_struct of the kernel, as crash finds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.list import list_for_each, list_for_each_entry

if TYPE_CHECKING:
    from crashpy.program import Program


def thread_group_leaders(prog: Program) -> list[int]:
    """init_task and every task on its `tasks` list (struct task_struct *).

    When a link cannot be read (a dump cut short, a page left out), the list is walked on backwards
    from init_task through the `prev` pointers, so that only the tasks whose links are unreadable are
    lost, not every task after them."""
    init = prog.symbol_address("init_task")
    off = prog.offsetof("task_struct", "tasks")
    head = init + off
    forward: list[int] = []
    try:
        for node in list_for_each(prog, head):
            forward.append(node)
    except FaultError:
        backward: list[int] = []
        seen = set(forward)
        try:
            node = prog.read_u64(head + 8)
            while node != head and node not in seen and len(backward) < 1_000_000:
                backward.append(node)
                node = prog.read_u64(node + 8)
        except FaultError:
            pass
        forward += reversed(backward)
    return [init, *(node - off for node in forward)]


def threads_of(prog: Program, leader: int) -> list[int]:
    """Every thread of the thread group led by `leader`, the leader first."""
    if prog.has_member("signal_struct", "thread_head"):
        signal = prog.read_u64(leader + prog.offsetof("task_struct", "signal"))
        if not signal:
            return [leader]
        head = signal + prog.offsetof("signal_struct", "thread_head")
        threads = list(list_for_each_entry(prog, head, "task_struct", "thread_node"))
    else:  # before v3.14 the group was only linked through task_struct.thread_group
        off = prog.offsetof("task_struct", "thread_group")
        threads = [leader, *list_for_each_entry(prog, leader + off, "task_struct", "thread_group")]
    if leader in threads:
        threads.remove(leader)
    return [leader, *threads]


def idle_tasks(prog: Program) -> list[int]:
    """The per-CPU idle tasks (rq->idle); CPU 0's is init_task."""
    rq_sym = prog.symbol_address("runqueues")
    idle_off = prog.offsetof("rq", "idle")
    out = []
    for cpu in range(len(prog.percpu_offsets)):
        try:
            out.append(prog.read_u64(prog.percpu_address(rq_sym, cpu) + idle_off))
        except FaultError:
            continue
    return out


def all_tasks(prog: Program) -> list[int]:
    """Every task: the idle tasks of each CPU, then every thread of every process (no duplicates)."""

    def build() -> list[int]:
        seen: dict[int, None] = {}
        for task in idle_tasks(prog):
            if task:
                seen.setdefault(task, None)
        for leader in thread_group_leaders(prog):
            try:
                threads = threads_of(prog, leader)
            except FaultError:  # an unreadable task_struct: its context read fails and skips it
                threads = [leader]
            for task in threads:
                seen.setdefault(task, None)
        return list(seen)

    result: list[int] = prog.cache("tasks.all", build)
    return result


# ---- task contexts: what crash keeps per task (task.c struct task_context) ------------------------

PF_KTHREAD = 0x00200000

# Task state bits as crash derives them from task_state_array[] on kernels since v4.14
# ("R (running)", "S (sleeping)", "D (disk sleep)", "T (stopped)", "t (tracing stop)", "X (dead)",
# "Z (zombie)", "P (parked)", "I (idle)"), then TASK_DEAD and the bits after TASK_PARKED.
TASK_RUNNING = 0
TASK_INTERRUPTIBLE = 0x1
TASK_UNINTERRUPTIBLE = 0x2
TASK_STOPPED = 0x4
TASK_TRACED = 0x8
EXIT_DEAD = 0x10
EXIT_ZOMBIE = 0x20
TASK_PARKED = 0x40
TASK_DEAD = 0x80
TASK_WAKEKILL = 0x100
TASK_WAKING = 0x200
TASK_NOLOAD = 0x400
TASK_NEW = 0x800
DEAD_BITS = EXIT_DEAD | TASK_DEAD


def state_code(state: int) -> str:
    """crash's two-letter state (ps's ST column) for task_state() = __state | exit_state."""
    code = "??"
    valid = 0
    is_set = False
    if state == TASK_RUNNING:
        code, valid = "RU", valid + 1
    if state & TASK_INTERRUPTIBLE:
        code, valid, is_set = "IN", valid + 1, True
    if state & TASK_UNINTERRUPTIBLE:
        code = "ID" if state & TASK_NOLOAD else "UN"
        valid, is_set = valid + 1, True
    if state & EXIT_ZOMBIE:
        code, valid, is_set = "ZO", valid + 1, True
    if state & TASK_STOPPED:
        code, valid, is_set = "ST", valid + 1, True
    if state & TASK_TRACED:
        code, valid, is_set = "TR", valid + 1, True
    if (state & DEAD_BITS) and not is_set:
        code, valid, is_set = "DE", valid + 1, True
    if state == TASK_PARKED:
        code = "PA"
    if state == TASK_WAKING:
        code = "WA"
    if state == TASK_NEW:
        code = "NE"
    return code


def state_verbose(state: int) -> str:
    """crash's long state names (set's STATE line), joined with `|`."""
    if state == TASK_RUNNING:
        return "TASK_RUNNING"
    names = []
    for bit, name in (
        (TASK_INTERRUPTIBLE, "TASK_INTERRUPTIBLE"),
        (TASK_UNINTERRUPTIBLE, "TASK_UNINTERRUPTIBLE"),
        (TASK_STOPPED, "TASK_STOPPED"),
        (TASK_TRACED, "TASK_TRACED"),
    ):
        if state & bit:
            names.append(name)
    both = state & DEAD_BITS
    if both:
        names.append("EXIT_DEAD|TASK_DEAD" if both == DEAD_BITS else "EXIT_DEAD")
    for bit, name in (
        (EXIT_ZOMBIE, "EXIT_ZOMBIE"),
        (TASK_WAKING, "TASK_WAKING"),
        (TASK_WAKEKILL, "TASK_WAKEKILL"),
        (TASK_NOLOAD, "TASK_NOLOAD"),
        (TASK_NEW, "TASK_NEW"),
    ):
        if state & bit:
            names.append(name)
    if state == TASK_PARKED:
        return "TASK_PARKED"
    return "|".join(names)


@dataclass(frozen=True)
class TaskContext:
    """One task as crash's task table holds it (task: struct task_struct *)."""

    task: int
    pid: int
    tgid: int
    comm: str
    cpu: int
    parent: int  # task_struct.parent (crash's ptask)
    mm: int
    flags: int
    state: int  # __state | exit_state (exit_state read as a long, as crash does)

    @property
    def is_kernel_thread(self) -> bool:
        return bool(self.flags & PF_KTHREAD)

    @property
    def st(self) -> str:
        return state_code(self.state)


class NoTaskContext(CommandError):
    """No task context to work in: crash's words for it ("current context invalid").  crash 8.0.6
    cannot open such a dump at all; crashpy opens it and says this where a command needs a task."""

    def __init__(self) -> None:
        super().__init__("current context invalid")


@dataclass
class TaskTable:
    """Every task context sorted as crash sorts them (by pid; pid 0 by cpu), with look-ups."""

    contexts: list[TaskContext]
    by_task: dict[int, TaskContext] = field(default_factory=dict)
    active: list[int] = field(default_factory=list)  # rq->curr of each cpu
    panic_task: int = 0
    panic_cpu: int = -1
    sysrq: bool = False

    def __post_init__(self) -> None:
        self.by_task = {tc.task: tc for tc in self.contexts}

    def is_active(self, task: int) -> bool:
        return task in self.active

    def by_pid(self, pid: int) -> list[TaskContext]:
        return [tc for tc in self.contexts if tc.pid == pid]

    def panic_context(self) -> TaskContext:
        """The panic task's context (the session's first current context); NoTaskContext when no task
        of the dump could be read (a dump cut short before init_task's page, say)."""
        tc = self.by_task.get(self.panic_task)
        if tc is None:
            raise NoTaskContext
        return tc

    def ppid(self, tc: TaskContext) -> int:
        parent = self.by_task.get(tc.parent)
        return parent.pid if parent is not None else -1


def _cpu_offset(prog: Program) -> int:
    """Where a task's cpu lives: thread_info.cpu since v5.16 (commit bcf9033e5449), before that
    task_struct.cpu."""
    if prog.has_member("thread_info", "cpu"):
        return prog.offsetof("task_struct", "thread_info") + prog.offsetof("thread_info", "cpu")
    return prog.offsetof("task_struct", "cpu")


def read_context(prog: Program, task: int) -> TaskContext:
    """Read one task_struct's fields crash keeps in its task table."""
    off = prog.cache("tasks.offsets", lambda: _offsets(prog))
    size = off["size"]
    buf = prog.read(task, size, what="task_struct")

    def u(o: int, n: int) -> int:
        return int.from_bytes(buf[o : o + n], "little")

    state_name = "__state" if "__state" in off else "state"
    state = u(off[state_name], off["state_size"]) | u(off["exit_state"], 8)
    comm = buf[off["comm"] : off["comm"] + 16].split(b"\0", 1)[0].decode("latin-1")
    return TaskContext(
        task=task,
        pid=u(off["pid"], 4),
        tgid=u(off["tgid"], 4),
        comm=comm,
        cpu=u(off["cpu"], 4),
        parent=u(off["parent"], 8),
        mm=u(off["mm"], 8),
        flags=u(off["flags"], 4),
        state=state,
    )


def _offsets(prog: Program) -> dict[str, int]:
    off: dict[str, int] = {}
    if prog.has_member("task_struct", "__state"):  # v5.14: state renamed __state (commit 2f064a59a11f)
        off["__state"] = prog.offsetof("task_struct", "__state")
        off["state_size"] = 4
    else:
        off["state"] = prog.offsetof("task_struct", "state")
        off["state_size"] = 8
    for name in ("exit_state", "pid", "tgid", "comm", "parent", "mm", "flags"):
        off[name] = prog.offsetof("task_struct", name)
    off["cpu"] = _cpu_offset(prog)
    off["size"] = max(off.values()) + 16
    return off


def _active_tasks(prog: Program) -> list[int]:
    """rq->curr of every cpu (crash's active_set)."""
    rq_sym = prog.symbol_address("runqueues")
    curr_off = prog.offsetof("rq", "curr")
    out = []
    for cpu in range(len(prog.percpu_offsets)):
        try:
            out.append(prog.read_u64(prog.percpu_address(rq_sym, cpu) + curr_off))
        except FaultError:
            out.append(0)
    return out


def _active_from_registers(prog: Program, table: TaskTable) -> None:
    """For a cpu whose run queue cannot be read (a dump cut short before the per-cpu areas): the task
    whose kernel stack holds the stack pointer of that cpu's NT_PRSTATUS note."""
    from crashpy.dumpfile.notes import prstatus_registers

    regs = prstatus_registers(prog.dump.info.notes)
    stack_off = prog.offsetof("task_struct", "stack")
    stacks: list[tuple[int, int]] = []
    for tc in table.contexts:
        try:
            stacks.append((prog.read_u64(tc.task + stack_off), tc.task))
        except FaultError:
            continue
    for cpu, task in enumerate(table.active):
        if task or cpu >= len(regs):
            continue
        rsp = regs[cpu]["sp"]
        for base, candidate in stacks:
            if base <= rsp < base + 16384:
                table.active[cpu] = candidate
                break


def _read_int_symbol(prog: Program, name: str) -> int | None:
    if not prog.has_symbol(name):
        return None
    try:
        v = prog.read_u32(prog.symbol_address(name))
    except FaultError:
        return None
    return v - (1 << 32) if v & 0x80000000 else v


def _stack_has_sysrq(prog: Program, task: int) -> bool:
    """Whether the task's kernel stack holds a return address into sysrq_handle_crash (crash's SYSRQ)."""
    sym = prog.symbols.lookup("sysrq_handle_crash")
    if sym is None:
        return False
    from crashpy.symbols.crash_view import crash_symtab

    # A call that never returns (panic) leaves a return address just past the function's end:
    # crash names each word by the closest symbol at or below it.
    lo, hi = sym.address, sym.address + max(sym.size, 1) + 16
    symtab = crash_symtab(prog)
    try:
        stack = prog.read_u64(task + prog.offsetof("task_struct", "stack"))
        data = prog.read(stack, 16384, what="stack contents")
    except FaultError:
        return False
    for i in range(0, len(data), 8):
        v = int.from_bytes(data[i : i + 8], "little")
        if lo <= v < hi and symtab.value_to_symstr(v, 16).split("+")[0] == "sysrq_handle_crash":
            return True
    return False


def task_table(prog: Program) -> TaskTable:
    """crash's task table: contexts of every task, the active tasks and the panic task (cached)."""

    def build() -> TaskTable:
        contexts = []
        for task in all_tasks(prog):
            try:
                contexts.append(read_context(prog, task))
            except FaultError:
                continue
        contexts.sort(key=lambda tc: (tc.pid, tc.cpu if tc.pid == 0 else 0))
        table = TaskTable(contexts)
        table.active = _active_tasks(prog)
        if 0 in table.active:
            _active_from_registers(prog, table)
        # The panic task: the active task of the cpu that called panic() (crash finds the same task
        # by looking for panic() in the active tasks' backtraces).
        panic_cpu = _read_int_symbol(prog, "panic_cpu")
        if panic_cpu is not None and 0 <= panic_cpu < len(table.active) and table.active[panic_cpu] in table.by_task:
            table.panic_cpu = panic_cpu
            table.panic_task = table.active[panic_cpu]
        elif contexts:
            table.panic_task = contexts[0].task
        if table.panic_task:
            table.sysrq = _stack_has_sysrq(prog, table.panic_task)
        return table

    result: TaskTable = prog.cache("tasks.table", build)
    return result


def total_pages(prog: Program) -> int:
    """crash's vt->total_pages: the direct map's size up to high_memory, in pages."""

    def build() -> int:
        high = prog.read_u64(prog.symbol_address("high_memory"))
        return max((high - prog.layout.page_offset) // 4096, 1)

    result: int = prog.cache("tasks.total_pages", build)
    return result


@dataclass(frozen=True)
class MemUsage:
    rss: int  # pages
    total_vm: int  # pages
    pct_physmem: float


def mem_usage(prog: Program, table: TaskTable, tc: TaskContext) -> MemUsage:
    """ps's %MEM, VSZ and RSS inputs, computed as crash's get_task_mem_usage() does."""
    if tc.state & EXIT_ZOMBIE or not tc.mm:
        return MemUsage(0, 0, 0.0)
    mm = tc.mm
    rss = 0
    if prog.has_member("mm_struct", "rss_stat"):
        base = mm + prog.offsetof("mm_struct", "rss_stat")
        if prog.has_member("mm_rss_stat", "count"):
            base += prog.offsetof("mm_rss_stat", "count")
            for idx in (0, 1, 3):  # MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES
                v = prog.read_s64(base + idx * 8)
                if v > 0:
                    rss += v
        else:  # v6.2: percpu_counter rss_stat[NR_MM_COUNTERS] (commit f1a7941243c1)
            size = prog.sizeof("percpu_counter")
            count_off = prog.offsetof("percpu_counter", "count")
            counters_off = prog.offsetof("percpu_counter", "counters")
            for idx in (0, 1, 3):
                fbc = base + idx * size
                v = prog.read_s64(fbc + count_off)
                pcp = prog.read_u64(fbc + counters_off)
                for cpu in range(len(prog.percpu_offsets)):
                    s = prog.read_u32(prog.percpu_address(pcp, cpu))
                    v += s - (1 << 32) if s & 0x80000000 else s
                if v > 0:
                    rss += v
    if prog.has_member("task_struct", "rss_stat"):  # SPLIT_RSS_COUNTING (gone in v6.2)
        rss += _split_rss(prog, table, tc.tgid)
    total_vm = prog.read_u64(mm + prog.offsetof("mm_struct", "total_vm"))
    if tc.is_kernel_thread and not rss:
        return MemUsage(rss, total_vm, 0.0)
    return MemUsage(rss, total_vm, rss * 100 / total_pages(prog))


def _split_rss(prog: Program, table: TaskTable, tgid: int) -> int:
    cache: dict[int, int] = prog.cache("tasks.split_rss", dict)
    if tgid in cache:
        return cache[tgid]
    off = prog.offsetof("task_struct", "rss_stat") + prog.offsetof("task_rss_stat", "count")
    total = 0
    for tc in table.contexts:
        if tc.tgid != tgid:
            continue
        for idx in (0, 1, 3):
            v = prog.read_u32(tc.task + off + idx * 4)
            v = v - (1 << 32) if v & 0x80000000 else v
            if v > 0:
                total += v
    cache[tgid] = total
    return total


def str_to_context(table: TaskTable, s: str) -> tuple[str, int, TaskContext | None]:
    """crash's str_to_context(): ("pid" | "task" | "invalid", value, context) for a pid or task string."""
    from crashpy.helpers.numbers import decimal, hexadecimal, htol

    dvalue: int | None = None
    hvalue: int | None = None
    if decimal(s):
        try:
            dvalue = int(s.strip(), 10)
        except ValueError:
            dvalue = None
    if hexadecimal(s):
        hvalue = htol(s.strip())  # crash's htol(): "0x" alone is 0, an `x` inside is skipped

    def first_pid(v: int) -> TaskContext | None:
        for tc in table.contexts:
            if tc.pid == v:
                return tc
        return None

    found: list[tuple[str, int, TaskContext]] = []
    dp = first_pid(dvalue) if dvalue is not None else None
    dt = table.by_task.get(dvalue) if dvalue is not None else None
    hp = ht = None
    if hvalue is not None and hvalue != dvalue:
        hp = first_pid(hvalue)
        ht = table.by_task.get(hvalue)
    for kind, v, tc in (("pid", dvalue, dp), ("task", dvalue, dt), ("pid", hvalue, hp), ("task", hvalue, ht)):
        if tc is not None and v is not None:
            found.append((kind, v, tc))
    if len(found) == 2 and dp is not None and hp is not None and dvalue is not None:
        return "pid", dvalue, dp
    if len(found) == 1:
        return found[0]
    return "invalid", 0, None
