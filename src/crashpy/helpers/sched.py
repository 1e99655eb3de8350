"""The scheduler's run queues: per-cpu struct rq, its RT priority array, its CFS red-black tree and
the task_group hierarchy, read the way crash's `runq` reads them. Everything here returns data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError

if TYPE_CHECKING:
    from crashpy.helpers.tasks import TaskContext, TaskTable
    from crashpy.program import Program


def runqueue(prog: Program, cpu: int) -> int:
    """The struct rq * of a cpu (the per-cpu variable `runqueues`)."""
    if not prog.has_symbol("runqueues"):
        raise CommandError("per-cpu runqueues do not exist")
    return prog.percpu_address(prog.symbol_address("runqueues"), cpu)


def rq_clock(prog: Program, cpu: int) -> int:
    """rq->clock: the runqueue timestamp crash shows (rq.clock, in nanoseconds)."""
    return prog.read_u64(runqueue(prog, cpu) + prog.offsetof("rq", "clock"))


def task_last_run(prog: Program, task: int) -> int:
    """task->sched_info.last_arrival, crash's task_last_run() on kernels since 2.6.x (kept per task)."""
    known: dict[int, int] = prog.cache("sched.last_run", dict)
    value = known.get(task)
    if value is None:
        value = known[task] = prog.read_u64(task + prog.offsetof("task_struct", "sched_info.last_arrival"))
    return value


def tasks_by_last_run(prog: Program, table: TaskTable) -> list[TaskContext]:
    """The task table sorted by last run, most recent first, as crash sorts it for ps -l/-m and
    foreach (a stable sort; kept, as foreach runs ps once per task)."""
    result: list[TaskContext] = prog.cache(
        "sched.by_last_run", lambda: sorted(table.contexts, key=lambda tc: -task_last_run(prog, tc.task))
    )
    return result


def task_prio(prog: Program, task: int) -> int:
    """task->prio (a signed int)."""
    v = prog.read_u32(task + prog.offsetof("task_struct", "prio"))
    return v - (1 << 32) if v & 0x80000000 else v


def translate_ns(value: int) -> str:
    """Nanoseconds as crash's "days hh:mm:ss.ms"."""
    ms_total = value // 1_000_000
    ms = ms_total % 1000
    secs_total = ms_total // 1000
    days, rest = divmod(secs_total, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    return f"{days} {hours:02d}:{mins:02d}:{secs:02d}.{ms:03d}"


# ---- the CFS tree --------------------------------------------------------------------------------


def rb_inorder(prog: Program, root: int, limit: int = 1_000_000) -> Iterator[int]:
    """The nodes of the rb tree at `root` (struct rb_root *) from rb_first() on with rb_next()."""
    left_off = prog.offsetof("rb_node", "rb_left")
    right_off = prog.offsetof("rb_node", "rb_right")
    stack: list[int] = []
    node = prog.read_u64(root + prog.offsetof("rb_root", "rb_node"))
    count = 0
    while stack or node:
        while node:
            stack.append(node)
            node = prog.read_u64(node + left_off)
            count += 1
            if count > limit:
                raise CommandError(f"rb tree loop detected at {root:x}")
        node = stack.pop()
        yield node
        node = prog.read_u64(node + right_off)


@dataclass
class CfsEntry:
    """One task on a CFS tree (crash prints "[prio] PID: ..."), or a duplicate node crash warns about."""

    task: int
    prio: int
    duplicate: bool = False


def cfs_tasks(prog: Program, table: TaskTable, cfs_rq: int, seen: set[int] | None = None) -> list[CfsEntry]:
    """The tasks queued on `cfs_rq` (struct cfs_rq *) and the group queues below it, in crash's order:
    the current entity's group queue first, then the tree from its leftmost node, descending into
    every group entity's own queue (sched_entity.my_q)."""
    if seen is None:
        seen = set()
    out: list[CfsEntry] = []
    has_my_q = prog.has_member("sched_entity", "my_q")
    my_q_off = prog.offsetof("sched_entity", "my_q") if has_my_q else 0
    run_node_off = prog.offsetof("sched_entity", "run_node")
    se_off = prog.offsetof("task_struct", "se")
    if has_my_q:
        curr = prog.read_u64(cfs_rq + prog.offsetof("cfs_rq", "curr"))
        if curr:
            curr_my_q = prog.read_u64(curr + my_q_off)
            if curr_my_q:
                out += cfs_tasks(prog, table, curr_my_q, seen)
                if out and out[-1].duplicate:
                    return out
    timeline = cfs_rq + prog.offsetof("cfs_rq", "tasks_timeline")
    leftmost = prog.read_u64(timeline + prog.offsetof("rb_root_cached", "rb_leftmost"))
    if not leftmost:
        return out
    for node in rb_inorder(prog, timeline):
        if has_my_q:
            my_q = prog.read_u64(node - run_node_off + my_q_off)
            if my_q:
                out += cfs_tasks(prog, table, my_q, seen)
                if out and out[-1].duplicate:
                    return out
                continue
        task = node - run_node_off - se_off
        if task not in table.by_task:
            continue
        if task in seen:
            out.append(CfsEntry(task, 0, duplicate=True))
            return out
        seen.add(task)
        out.append(CfsEntry(task, task_prio(prog, task)))
    return out


# ---- the RT priority array ---------------------------------------------------------------------


def rt_queue_count(prog: Program) -> int:
    """How many list heads rt_prio_array.queue[] has (MAX_RT_PRIO)."""
    size = prog.sizeof("rt_prio_array")
    return (size - prog.offsetof("rt_prio_array", "queue")) // prog.sizeof("list_head")


def _list_entries(prog: Program, head: int) -> list[int]:
    """The list_head nodes after `head` up to `head` again (crash's do_list with start and end)."""
    out: list[int] = []
    node = prog.read_u64(head)
    seen: set[int] = set()
    while node != head and node:
        if node in seen:
            raise CommandError(f"list loop detected at {node:x}")
        seen.add(node)
        out.append(node)
        node = prog.read_u64(node)
    return out


@dataclass
class RtEntry:
    """One task on an RT priority array: its queue index (crash shows it as the priority) and task."""

    prio: int
    task: int


def rt_tasks(prog: Program, table: TaskTable, prio_array: int) -> list[RtEntry]:
    """The tasks on an RT priority array (struct rt_prio_array *), group queues flattened in place."""
    out: list[RtEntry] = []
    queue_off = prog.offsetof("rt_prio_array", "queue")
    run_list_off = prog.offsetof("sched_rt_entity", "run_list")
    rt_off = prog.offsetof("task_struct", "rt")
    has_my_q = prog.has_member("sched_rt_entity", "my_q")
    for i in range(rt_queue_count(prog)):
        head = prio_array + queue_off + i * 16
        for node in _list_entries(prog, head):
            rt_se = node - run_list_off
            if has_my_q:
                my_q = prog.read_u64(rt_se + prog.offsetof("sched_rt_entity", "my_q"))
                if my_q:
                    out += rt_tasks(prog, table, my_q + prog.offsetof("rt_rq", "active"))
                    continue
            task = rt_se - rt_off
            if task in table.by_task:
                out.append(RtEntry(i, task))
    return out


@dataclass
class CpuRunqueue:
    """What `runq` shows of one cpu: its struct rq, the RT array and CFS tree addresses and tasks."""

    cpu: int
    rq: int
    rt_array: int
    rt: list[RtEntry]
    cfs_root: int
    cfs: list[CfsEntry]


def cpu_runqueue(prog: Program, table: TaskTable, cpu: int) -> CpuRunqueue:
    rq = runqueue(prog, cpu)
    rt_array = rq + prog.offsetof("rq", "rt") + prog.offsetof("rt_rq", "active")
    cfs_rq = rq + prog.offsetof("rq", "cfs")
    root = cfs_rq + prog.offsetof("cfs_rq", "tasks_timeline")
    return CpuRunqueue(
        cpu, rq, rt_array, rt_tasks(prog, table, rt_array), root, cfs_tasks(prog, table, cfs_rq)
    )


def on_rq(prog: Program, task: int) -> bool:
    """task->on_rq (or task->se.on_rq on kernels without it)."""
    if prog.has_member("task_struct", "on_rq"):
        return prog.read_u32(task + prog.offsetof("task_struct", "on_rq")) != 0
    return prog.read_u32(task + prog.offsetof("task_struct", "se.on_rq")) != 0


# ---- task groups (runq -g) ---------------------------------------------------------------------


@dataclass
class TaskGroup:
    """One struct task_group of the hierarchy under root_task_group (crash's task_group_info)."""

    address: int
    depth: int
    name: str | None
    parent: TaskGroup | None
    use: bool = False


def root_task_group(prog: Program) -> tuple[int, str]:
    """(address, label) of the root task_group: init_task_group before v2.6.35, root_task_group since."""
    if prog.has_symbol("init_task_group"):
        return prog.symbol_address("init_task_group"), "INIT"
    if prog.has_symbol("root_task_group"):
        return prog.symbol_address("root_task_group"), "ROOT"
    raise CommandError("cannot determine root task_group")


def task_group_name(prog: Program, group: int) -> str | None:
    """The cgroup directory name of a task group ("/" for the root), None when it has no cgroup."""
    cgroup = prog.read_u64(
        group + prog.offsetof("task_group", "css") + prog.offsetof("cgroup_subsys_state", "cgroup")
    )
    if not cgroup:
        return None
    if not prog.has_member("cgroup", "kn"):
        return None
    kn = prog.read_u64(cgroup + prog.offsetof("cgroup", "kn"))
    if not kn:
        return None
    if not prog.read_u64(kn + prog.offsetof("kernfs_node", "parent")):
        return "/"
    name = prog.read_u64(kn + prog.offsetof("kernfs_node", "name"))
    if not name:
        return None
    return prog.read_cstring(name, 1500).decode("latin-1")


def task_groups(prog: Program) -> list[TaskGroup]:
    """Every task group, found depth first from the root, then ordered by depth (a stable sort)."""
    root, _ = root_task_group(prog)
    children_off = prog.offsetof("task_group", "children")
    siblings_off = prog.offsetof("task_group", "siblings")
    out: list[TaskGroup] = []

    def fill(group: int, depth: int, parent: TaskGroup | None) -> None:
        if len(out) > 100000:
            raise CommandError("task_group loop detected")
        tg = TaskGroup(group, depth, task_group_name(prog, group), parent, use=bool(depth))
        out.append(tg)
        head = group + children_off
        for node in _list_entries(prog, head):
            fill(node - siblings_off, depth + 1, tg)

    fill(root, 0, None)
    out.sort(key=lambda t: t.depth)
    return out


@dataclass
class GroupRow:
    """One line of `runq -g`: a group header or a task, at an indentation depth."""

    kind: str  # "cfs_group" | "task" | "duplicate" | "empty"
    depth: int
    group: TaskGroup | None = None
    queue: int = 0  # cfs_rq or rt_rq of a group header
    throttled: bool = False
    task: int = 0
    prio: int = 0
    current: bool = False


def group_cfs_rq(prog: Program, group: int, cpu: int) -> int:
    arr = prog.read_u64(group + prog.offsetof("task_group", "cfs_rq"))
    return prog.read_u64(arr + cpu * 8)


def cfs_throttled(prog: Program, cfs_rq: int) -> bool:
    if not prog.has_member("cfs_rq", "throttled"):
        return False
    return prog.read_u32(cfs_rq + prog.offsetof("cfs_rq", "throttled")) != 0


class CfsGroupWalk:
    """crash's dump_tasks_in_taskgroup_cfs_rq(): the rows of one cpu's CFS hierarchy."""

    def __init__(
        self, prog: Program, table: TaskTable, groups: list[TaskGroup], cpu: int, current: int
    ) -> None:
        self.prog = prog
        self.table = table
        self.groups = groups
        self.cpu = cpu
        self.current = current
        self.rows: list[GroupRow] = []
        self.seen: set[int] = set()
        for g in groups:
            g.use = bool(g.depth)

    def header(self, depth: int, cfs_rq: int, tg: TaskGroup) -> None:
        self.rows.append(GroupRow("cfs_group", depth, tg, cfs_rq, cfs_throttled(self.prog, cfs_rq)))

    def parents(self, tg: TaskGroup) -> None:
        parent = tg.parent
        if parent is None or not parent.use:
            return
        self.parents(parent)
        self.header(parent.depth, group_cfs_rq(self.prog, parent.address, self.cpu), parent)
        parent.use = False

    def lower_dequeued(self, depth: int, cfs_rq: int) -> int:
        prog = self.prog
        total = 0
        tg_off = prog.offsetof("cfs_rq", "tg")
        for g in self.groups:
            if not g.use or g.depth - depth != 1:
                continue
            group = prog.read_u64(cfs_rq + tg_off)
            if g.parent is None or group != g.parent.address:
                continue
            child = group_cfs_rq(prog, g.address, self.cpu)
            if child == cfs_rq:
                continue
            nr = prog.read_u32(child + prog.offsetof("cfs_rq", "nr_running"))
            if nr == 0:
                total += self.lower_dequeued(depth + 1, child)
                continue
            self.parents(g)
            total += 1
            total += self.walk(depth + 1, child)
        return total

    def walk(self, depth: int, cfs_rq: int) -> int:
        prog = self.prog
        total = 0
        curr = curr_my_q = 0
        if depth:
            tg = prog.read_u64(cfs_rq + prog.offsetof("cfs_rq", "tg"))
            for g in self.groups:
                if g.address == tg:
                    self.header(depth, cfs_rq, g)
                    g.use = False
                    break
        has_my_q = prog.has_member("sched_entity", "my_q")
        my_q_off = prog.offsetof("sched_entity", "my_q") if has_my_q else 0
        se_off = prog.offsetof("task_struct", "se")
        if has_my_q:
            curr = prog.read_u64(cfs_rq + prog.offsetof("cfs_rq", "curr"))
            if curr:
                curr_my_q = prog.read_u64(curr + my_q_off)
                if curr_my_q:
                    total += 1
                    total += self.walk(depth + 1, curr_my_q)
        if not curr_my_q and self.current and curr and curr - se_off == self.current:
            total += 1
            self.rows.append(
                GroupRow("task", depth, task=self.current, prio=task_prio(prog, self.current), current=True)
            )
        timeline = cfs_rq + prog.offsetof("cfs_rq", "tasks_timeline")
        leftmost = prog.read_u64(timeline + prog.offsetof("rb_root_cached", "rb_leftmost"))
        run_node_off = prog.offsetof("sched_entity", "run_node")
        if leftmost:
            for node in rb_inorder(prog, timeline):
                if has_my_q:
                    my_q = prog.read_u64(node - run_node_off + my_q_off)
                    if my_q:
                        total += 1
                        total += self.walk(depth + 1, my_q)
                        continue
                task = node - run_node_off - se_off
                if task not in self.table.by_task:
                    continue
                if task in self.seen:
                    self.rows.append(GroupRow("duplicate", depth, task=task))
                    return total
                self.seen.add(task)
                self.rows.append(GroupRow("task", depth, task=task, prio=task_prio(prog, task)))
                total += 1
        total += self.lower_dequeued(depth, cfs_rq)
        if not total:
            self.rows.append(GroupRow("empty", depth))
        return total


def has_group_sched(prog: Program) -> tuple[bool, bool]:
    """(CFS group scheduling, RT group scheduling): task_group.cfs_rq and task_group.rt_rq exist."""
    return prog.has_member("task_group", "cfs_rq"), prog.has_member("task_group", "rt_rq")


def root_group_queues(prog: Program, cpu: int) -> tuple[int, int]:
    """(cfs_rq, rt_rq) of the root task group on a cpu; 0 for a kind the kernel does not group."""
    root, _ = root_task_group(prog)
    cfs, rt = has_group_sched(prog)
    cfs_rq = rt_rq = 0
    if cfs:
        cfs_rq = prog.read_u64(prog.read_u64(root + prog.offsetof("task_group", "cfs_rq")) + cpu * 8)
    if rt:
        rt_rq = prog.read_u64(prog.read_u64(root + prog.offsetof("task_group", "rt_rq")) + cpu * 8)
    return cfs_rq, rt_rq


def group_rt_rq(prog: Program, group: int, cpu: int) -> int:
    """task_group->rt_rq[cpu] (struct rt_rq *)."""
    arr = prog.read_u64(group + prog.offsetof("task_group", "rt_rq"))
    return prog.read_u64(arr + cpu * 8)


def rt_rq_highest_prio(prog: Program, rt_rq: int) -> int:
    """rt_rq->highest_prio.curr (a signed int)."""
    v = prog.read_u32(rt_rq + prog.offsetof("rt_rq", "highest_prio"))
    return v - (1 << 32) if v & 0x80000000 else v


def rt_throttled(prog: Program, rt_rq: int) -> bool:
    if not prog.has_member("task_group", "rt_bandwidth"):
        return False
    return prog.read_u32(rt_rq + prog.offsetof("rt_rq", "rt_throttled")) != 0


def rt_queue_entities(prog: Program, rt_rq: int) -> list[tuple[int, int, int]]:
    """(queue index, sched_rt_entity *, its my_q) of every entity on an rt_rq's priority array."""
    active = rt_rq + prog.offsetof("rt_rq", "active")
    queue_off = prog.offsetof("rt_prio_array", "queue")
    run_list_off = prog.offsetof("sched_rt_entity", "run_list")
    has_my_q = prog.has_member("sched_rt_entity", "my_q")
    out = []
    for i in range(rt_queue_count(prog)):
        for node in _list_entries(prog, active + queue_off + i * 16):
            rt_se = node - run_list_off
            my_q = prog.read_u64(rt_se + prog.offsetof("sched_rt_entity", "my_q")) if has_my_q else 0
            out.append((i, rt_se, my_q))
    return out
