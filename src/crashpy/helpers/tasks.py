"""Tasks: every task_struct of the kernel, as crash finds them."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.object import Object, lookup_type

if TYPE_CHECKING:
    from crashpy.program import Program


class TaskBlocks:
    """The fields of task_structs the task scan needs, read as one block per task (struct task_struct *
    addresses in, Python values out), with the last few blocks kept: a scan asks for a task's list links,
    its signal pointer and its context one after another.

    A block that cannot be read as a whole is not an error: every field is then read alone, as
    before the block, so that a task whose fields are readable one by one is still found, and a fault
    names the same address it always did."""

    KEEP = 64  # blocks kept; a thread group longer than this only costs re-reads of its leader's page

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.layout: TaskLayout = task_layout(prog)
        self._blocks: dict[int, bytes | None] = {}
        self.contexts: dict[int, TaskContext] = {}
        self.split_rss: dict[int, int] = {}

    def block(self, task: int) -> bytes | None:
        """The first layout.size bytes of the task_struct at `task`, or None when they cannot all be read."""
        blocks = self._blocks
        try:
            return blocks[task]
        except KeyError:
            pass
        lay = self.layout
        try:
            buf: bytes | None = self.prog.read(task, lay.size, what="task_struct")
        except FaultError:
            buf = None
        if len(blocks) >= self.KEEP:
            blocks.clear()
        blocks[task] = buf
        if buf is not None and task not in self.contexts:
            self.contexts[task] = lay.context(task, buf)
            if lay.rss_stat is not None:
                self.split_rss[task] = lay.split_rss(buf)
        return buf

    def forget_blocks(self) -> None:
        """Drop the blocks kept (what was parsed from them stays)."""
        self._blocks.clear()

    def u64(self, task: int, offset: int) -> int:
        """The 8 bytes at task + offset (offset within the block)."""
        buf = self.block(task)
        if buf is None:
            return self.prog.read_u64(task + offset)
        return int.from_bytes(buf[offset : offset + 8], "little")

    def context(self, task: int) -> TaskContext:
        """The task's context (FaultError when its fields cannot be read)."""
        tc = self.contexts.get(task)
        if tc is None:
            self.block(task)
            tc = self.contexts.get(task)
            if tc is None:
                tc = self.contexts[task] = read_context(self.prog, task)
        return tc


def thread_group_leaders(prog: Program, blocks: TaskBlocks | None = None) -> list[int]:
    """init_task and every task on its `tasks` list (struct task_struct *).

    When a link cannot be read (a dump cut short, a page left out), the list is walked on backwards
    from init_task through the `prev` pointers, so that only the tasks whose links are unreadable are
    lost, not every task after them."""
    return list(_iter_leaders(prog, blocks or TaskBlocks(prog)))


def _iter_leaders(prog: Program, blocks: TaskBlocks) -> Iterator[int]:
    """thread_group_leaders(), one by one (list_for_each's walk and loop check, through the blocks)."""
    init = prog.symbol_address("init_task")
    off = blocks.layout.tasks
    head = init + off
    yield init
    seen: set[int] = set()
    try:
        node = blocks.u64(init, off)
        while node != head:
            if node in seen or len(seen) >= 1_000_000:
                # a corrupted task list: the tasks found so far are the table, with a warning
                prog.cache("tasks.warnings", list).append(
                    f"the task list is corrupted: list_head loop at {node:x}: the tasks before it are listed"
                )
                return
            seen.add(node)
            yield node - off
            node = blocks.u64(node - off, off)
    except FaultError:
        backward: list[int] = []
        try:
            node = prog.read_u64(head + 8)
            while node != head and node not in seen and len(backward) < 1_000_000:
                backward.append(node)
                node = prog.read_u64(node + 8)
        except FaultError:
            pass
        for node in reversed(backward):
            yield node - off


def threads_of(prog: Program, leader: int, blocks: TaskBlocks | None = None) -> list[int]:
    """Every thread of the thread group led by `leader`, the leader first."""
    blocks = blocks or TaskBlocks(prog)
    lay = blocks.layout
    if lay.thread_node is not None:
        signal = blocks.u64(leader, lay.signal)
        if not signal:
            return [leader]
        head = signal + prog.offsetof("signal_struct", "thread_head")
        off = lay.thread_node
    else:  # before v3.14 the group was only linked through task_struct.thread_group
        assert lay.thread_group is not None
        off = lay.thread_group
        head = leader + off
    threads: list[int] = []
    seen: set[int] = set()
    node = prog.read_u64(head) if lay.thread_node is not None else blocks.u64(leader, off)
    while node != head:
        if node in seen or len(seen) >= 1_000_000:
            raise CommandError(f"list_head loop detected at {node:x}")
        seen.add(node)
        threads.append(node - off)
        node = blocks.u64(node - off, off)
    if lay.thread_node is None:
        threads.insert(0, leader)
    if leader in threads:
        threads.remove(leader)
    return [leader, *threads]


def _runqueues(prog: Program) -> list[Object]:
    """Each cpu's struct rq (the per-cpu variable `runqueues`)."""
    ncpus = len(prog.percpu_offsets)
    if not ncpus:  # no per-cpu areas (a dump without them): no run queues to look at
        return []
    rq_sym = prog.symbol_address("runqueues")
    rq = lookup_type(prog, "struct rq")
    return [Object(prog, rq, prog.percpu_address(rq_sym, cpu)) for cpu in range(ncpus)]


def idle_tasks(prog: Program) -> list[int]:
    """The per-CPU idle tasks (rq->idle: struct task_struct *); CPU 0's is init_task."""
    out = []
    for rq in _runqueues(prog):
        try:
            out.append(int(rq.idle))
        except FaultError:
            continue
    return out


def all_tasks(prog: Program) -> list[int]:
    """Every task: the idle tasks of each CPU, then every thread of every process (no duplicates)."""
    return _scan(prog).tasks


def for_each_task(prog: Program) -> Iterator[Object]:
    """Every task (struct task_struct *), in all_tasks() order: Objects over the addresses the task
    scan found (one block read per task, made once), so asking for them reads nothing more."""
    task_p = lookup_type(prog, "struct task_struct *")
    for task in _scan(prog).tasks:
        yield Object(prog, task_p, value=task)


@dataclass
class _Scan:
    tasks: list[int]
    blocks: TaskBlocks


def _scan(prog: Program) -> _Scan:
    """The walk all_tasks() makes, with what it read of each task on the way (cached)."""

    def build() -> _Scan:
        blocks = TaskBlocks(prog)
        seen: dict[int, None] = {}
        for task in idle_tasks(prog):
            if task:
                seen.setdefault(task, None)
        for leader in _iter_leaders(prog, blocks):
            try:
                threads = threads_of(prog, leader, blocks)
            except FaultError:  # an unreadable task_struct: its context read fails and skips it
                threads = [leader]
            for task in threads:
                seen.setdefault(task, None)
        blocks.forget_blocks()
        return _Scan(list(seen), blocks)

    result: _Scan = prog.cache("tasks.scan", build)
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
    split_rss: dict[int, int] = field(default_factory=dict)  # task -> its own RSS pages (see mem_usage)
    warnings: list[str] = field(default_factory=list)  # what the task scan met (a corrupted list)
    _by_tgid: dict[int, list[TaskContext]] | None = field(default=None, repr=False)
    _by_pid: dict[int, list[TaskContext]] | None = field(default=None, repr=False)
    _mm_usage: dict[int, tuple[int, int]] = field(default_factory=dict, repr=False)
    _tgid_rss: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_task = {tc.task: tc for tc in self.contexts}

    def thread_group(self, tgid: int) -> list[TaskContext]:
        """The contexts with this tgid, in table order."""
        index = self._by_tgid
        if index is None:
            index = self._by_tgid = {}
            for tc in self.contexts:
                index.setdefault(tc.tgid, []).append(tc)
        return index.get(tgid, [])

    def is_active(self, task: int) -> bool:
        return task in self.active

    def by_pid(self, pid: int) -> list[TaskContext]:
        """The contexts with this pid, in table order (several for pid 0, one per cpu)."""
        index = self._by_pid
        if index is None:
            index = self._by_pid = {}
            for tc in self.contexts:
                index.setdefault(tc.pid, []).append(tc)
        return list(index.get(pid, ()))

    def first_by_pid(self, pid: int) -> TaskContext | None:
        """The first context with this pid in table order, as crash's pid_to_context() finds it."""
        found = self.by_pid(pid)
        return found[0] if found else None

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


@dataclass(frozen=True)
class TaskLayout:
    """Byte offsets in struct task_struct of the fields crash's task table and the task scan read."""

    state: int  # __state since v5.14 (commit 2f064a59a11f), state before
    state_size: int
    exit_state: int
    pid: int
    tgid: int
    comm: int
    parent: int
    mm: int
    flags: int
    cpu: int
    tasks: int  # the list of thread group leaders
    signal: int
    thread_node: int | None  # signal_struct.thread_head's list since v3.14, else None
    thread_group: int | None
    rss_stat: int | None  # task_struct.rss_stat.count[]: SPLIT_RSS_COUNTING, gone in v6.2
    context_size: int  # the bytes read_context() reads
    size: int  # the bytes a TaskBlocks block holds

    def context(self, task: int, buf: bytes) -> TaskContext:
        """The context of the task whose first bytes are `buf`."""

        def u(o: int, n: int) -> int:
            return int.from_bytes(buf[o : o + n], "little")

        comm = buf[self.comm : self.comm + 16].split(b"\0", 1)[0].decode("latin-1")
        return TaskContext(
            task=task,
            pid=u(self.pid, 4),
            tgid=u(self.tgid, 4),
            comm=comm,
            cpu=u(self.cpu, 4),
            parent=u(self.parent, 8),
            mm=u(self.mm, 8),
            flags=u(self.flags, 4),
            state=u(self.state, self.state_size) | u(self.exit_state, 8),
        )

    def split_rss(self, buf: bytes) -> int:
        """The positive MM_FILEPAGES, MM_ANONPAGES and MM_SHMEMPAGES counts of task_struct.rss_stat."""
        assert self.rss_stat is not None
        total = 0
        for idx in (0, 1, 3):
            o = self.rss_stat + idx * 4
            v = int.from_bytes(buf[o : o + 4], "little", signed=True)
            if v > 0:
                total += v
        return total


def task_layout(prog: Program) -> TaskLayout:
    """The TaskLayout of this kernel (cached)."""

    def build() -> TaskLayout:
        if prog.has_member("task_struct", "__state"):  # v5.14: state renamed __state (commit 2f064a59a11f)
            state, state_size = prog.offsetof("task_struct", "__state"), 4
        else:
            state, state_size = prog.offsetof("task_struct", "state"), 8
        fields = {
            name: prog.offsetof("task_struct", name)
            for name in ("exit_state", "pid", "tgid", "comm", "parent", "mm", "flags")
        }
        cpu = _cpu_offset(prog)
        context_size = max(state, cpu, *fields.values()) + 16
        tasks = prog.offsetof("task_struct", "tasks")
        signal = prog.offsetof("task_struct", "signal")
        thread_node = thread_group = None
        if prog.has_member("signal_struct", "thread_head"):
            thread_node = prog.offsetof("task_struct", "thread_node")
        else:
            thread_group = prog.offsetof("task_struct", "thread_group")
        rss_stat = None
        if prog.has_member("task_struct", "rss_stat"):
            rss_stat = prog.offsetof("task_struct", "rss_stat") + prog.offsetof("task_rss_stat", "count")
        links = [tasks, signal, thread_node or 0, thread_group or 0]
        size = max(context_size, max(links) + 8, (rss_stat or 0) + 16)
        return TaskLayout(
            state=state,
            state_size=state_size,
            cpu=cpu,
            tasks=tasks,
            signal=signal,
            thread_node=thread_node,
            thread_group=thread_group,
            rss_stat=rss_stat,
            context_size=context_size,
            size=size,
            **fields,
        )

    result: TaskLayout = prog.cache("tasks.layout", build)
    return result


def read_task_u64s(prog: Program, task: int, offsets: tuple[int, ...]) -> tuple[int, ...]:
    """The 8-byte task_struct fields at `offsets` of the task at `task`, read as one span; one by one,
    in the order given, when the span cannot be read (a fault then names the field's own address)."""
    lo, hi = min(offsets), max(offsets) + 8
    try:
        buf = prog.read(task + lo, hi - lo)
    except FaultError:
        return tuple(prog.read_u64(task + o) for o in offsets)
    return tuple(int.from_bytes(buf[o - lo : o - lo + 8], "little") for o in offsets)


def read_context(prog: Program, task: int) -> TaskContext:
    """Read one task_struct's fields crash keeps in its task table."""
    lay = task_layout(prog)
    return lay.context(task, prog.read(task, lay.context_size, what="task_struct"))


def _active_tasks(prog: Program) -> list[int]:
    """rq->curr of every cpu (crash's active_set; struct task_struct *s, 0 where unreadable)."""
    out = []
    for rq in _runqueues(prog):
        try:
            out.append(int(rq.curr))
        except FaultError:
            out.append(0)
    return out


def task_stacks(prog: Program, table: TaskTable) -> list[tuple[int, int]]:
    """(task_struct.stack, task) of every task in the table, in table order (a task whose stack
    pointer cannot be read is left out)."""
    task_p = lookup_type(prog, "struct task_struct *")
    stacks: list[tuple[int, int]] = []
    for tc in table.contexts:
        try:
            stacks.append((int(Object(prog, task_p, value=tc.task).stack), tc.task))
        except FaultError:
            continue
    return stacks


def stack_owner(prog: Program, table: TaskTable, address: int, stack_size: int = 16384) -> int | None:
    """The first task in the table whose kernel stack holds `address` (crash's stkptr_to_task)."""
    if not address:
        return None
    stacks: list[tuple[int, int]] = prog.cache(f"tasks.stacks.{id(table)}", lambda: task_stacks(prog, table))
    return next((task for base, task in stacks if base <= address < base + stack_size), None)


def task_struct_owner(prog: Program, table: TaskTable, address: int) -> int | None:
    """The first task in the table whose task_struct holds `address` (crash's vaddr_in_task_struct)."""
    from crashpy.helpers.downsized import task_struct_size

    size = task_struct_size(prog)
    return next((tc.task for tc in table.contexts if tc.task <= address < tc.task + size), None)


def _active_from_registers(prog: Program, table: TaskTable) -> None:
    """For a cpu whose run queue cannot be read (a dump cut short before the per-cpu areas): the task
    whose kernel stack holds the stack pointer of that cpu's NT_PRSTATUS note."""
    from crashpy.dumpfile.notes import prstatus_registers

    regs = prstatus_registers(prog.dump.info.notes)
    stacks = task_stacks(prog, table)
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
    try:
        stack = int(Object(prog, "struct task_struct *", value=task).stack)
        data = prog.read(stack, 16384, what="stack contents")
    except FaultError:
        return False
    for (v,) in struct.iter_unpack("<Q", data):
        if lo <= v < hi and crash_symtab(prog).value_to_symstr(v, 16).split("+")[0] == "sysrq_handle_crash":
            return True
    return False


def task_table(prog: Program) -> TaskTable:
    """crash's task table: contexts of every task, the active tasks and the panic task (cached)."""

    def build() -> TaskTable:
        scan = _scan(prog)
        contexts = []
        for task in scan.tasks:
            try:
                contexts.append(scan.blocks.context(task))
            except FaultError:
                continue
        contexts.sort(key=lambda tc: (tc.pid, tc.cpu if tc.pid == 0 else 0))
        table = TaskTable(contexts)
        table.warnings = list(prog.cache("tasks.warnings", list))
        table.split_rss = scan.blocks.split_rss
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
    """ps's %MEM, VSZ and RSS inputs, computed as crash's get_task_mem_usage() does: the mm_struct's
    counters are read once per mm (the threads of a process share it), the SPLIT_RSS_COUNTING counts
    once per thread group."""
    if tc.state & EXIT_ZOMBIE or not tc.mm:
        return MemUsage(0, 0, 0.0)
    mm = tc.mm
    counters = table._mm_usage.get(mm)
    if counters is None:
        counters = table._mm_usage[mm] = _mm_counters(prog, mm)
    rss, total_vm = counters
    if prog.has_member("task_struct", "rss_stat"):  # SPLIT_RSS_COUNTING (gone in v6.2)
        rss += _split_rss(prog, table, tc.tgid)
    if tc.is_kernel_thread and not rss:
        return MemUsage(rss, total_vm, 0.0)
    return MemUsage(rss, total_vm, rss * 100 / total_pages(prog))


def _mm_counters(prog: Program, mm: int) -> tuple[int, int]:
    """(RSS pages from mm_struct.rss_stat, mm_struct.total_vm) of the mm_struct at `mm`."""
    rss = 0
    total_vm_off = prog.offsetof("mm_struct", "total_vm")
    if prog.has_member("mm_struct", "rss_stat"):
        base = prog.offsetof("mm_struct", "rss_stat")
        if prog.has_member("mm_rss_stat", "count"):
            base += prog.offsetof("mm_rss_stat", "count")
            # One read of the span that holds the counters and total_vm; fields one by one if it fails.
            lo = min(base, total_vm_off)
            hi = max(base + 32, total_vm_off + 8)
            try:
                buf = prog.read(mm + lo, hi - lo)
            except FaultError:
                buf = None
            for idx in (0, 1, 3):  # MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES
                o = base + idx * 8
                if buf is None:
                    v = prog.read_s64(mm + o)
                else:
                    v = int.from_bytes(buf[o - lo : o - lo + 8], "little", signed=True)
                if v > 0:
                    rss += v
            if buf is not None:
                o = total_vm_off - lo
                return rss, int.from_bytes(buf[o : o + 8], "little")
        else:  # v6.2: percpu_counter rss_stat[NR_MM_COUNTERS] (commit f1a7941243c1)
            size = prog.sizeof("percpu_counter")
            count_off = prog.offsetof("percpu_counter", "count")
            counters_off = prog.offsetof("percpu_counter", "counters")
            for idx in (0, 1, 3):
                fbc = mm + base + idx * size
                v = prog.read_s64(fbc + count_off)
                pcp = prog.read_u64(fbc + counters_off)
                for cpu in range(len(prog.percpu_offsets)):
                    s = prog.read_u32(prog.percpu_address(pcp, cpu))
                    v += s - (1 << 32) if s & 0x80000000 else s
                if v > 0:
                    rss += v
    return rss, prog.read_u64(mm + total_vm_off)


def _split_rss(prog: Program, table: TaskTable, tgid: int) -> int:
    """The SPLIT_RSS_COUNTING pages of every thread of `tgid` (crash's tgid_context rss_cache)."""
    cache = table._tgid_rss
    if tgid in cache:
        return cache[tgid]
    off = prog.offsetof("task_struct", "rss_stat") + prog.offsetof("task_rss_stat", "count")
    total = 0
    for tc in table.thread_group(tgid):
        own = table.split_rss.get(tc.task)
        if own is None:
            own = 0
            for idx in (0, 1, 3):
                v = prog.read_u32(tc.task + off + idx * 4)
                v = v - (1 << 32) if v & 0x80000000 else v
                if v > 0:
                    own += v
        total += own
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

    found: list[tuple[str, int, TaskContext]] = []
    dp = table.first_by_pid(dvalue) if dvalue is not None else None
    dt = table.by_task.get(dvalue) if dvalue is not None else None
    hp = ht = None
    if hvalue is not None and hvalue != dvalue:
        hp = table.first_by_pid(hvalue)
        ht = table.by_task.get(hvalue)
    for kind, v, tc in (("pid", dvalue, dp), ("task", dvalue, dt), ("pid", hvalue, hp), ("task", hvalue, ht)):
        if tc is not None and v is not None:
            found.append((kind, v, tc))
    if len(found) == 2 and dp is not None and hp is not None and dvalue is not None:
        return "pid", dvalue, dp
    if len(found) == 1:
        return found[0]
    return "invalid", 0, None
