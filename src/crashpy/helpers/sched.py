"""The scheduler's run queues: per-cpu struct rq, its RT priority array, its CFS red-black tree and
the task_group hierarchy, read the way crash's `runq` reads them. Everything here returns data.

The structures are read as Objects (member access, container_of); the functions take and return
addresses, the way `runq` and its tests hand them around. A read that fails raises the read's own
FaultError (crash's words), as the offset arithmetic these functions replaced did."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, FaultError
from crashpy.helpers.rbtree import rbtree_inorder_for_each_entry
from crashpy.object import FieldReader, Object, crash_faults, has_member, lookup_type, resolve
from crashpy.types.model import ArrayType, StructType

if TYPE_CHECKING:
    from crashpy.helpers.tasks import TaskContext, TaskTable
    from crashpy.program import Program


def runqueue(prog: Program, cpu: int) -> int:
    """The struct rq * of a cpu (the per-cpu variable `runqueues`)."""
    if not prog.has_symbol("runqueues"):
        raise CommandError("per-cpu runqueues do not exist")
    return prog.percpu_address(prog.symbol_address("runqueues"), cpu)


def _ptr(prog: Program, spelling: str, address: int) -> Object:
    """A `spelling *` Object pointing at `address` ("struct cfs_rq", 0xffff...)."""
    return Object(prog, lookup_type(prog, spelling + " *"), value=address)


def _task(prog: Program, task: int) -> Object:
    return _ptr(prog, "struct task_struct", task)


@crash_faults
def rq_clock(prog: Program, cpu: int) -> int:
    """rq->clock: the runqueue timestamp crash shows (rq.clock, in nanoseconds)."""
    return int(_ptr(prog, "struct rq", runqueue(prog, cpu)).clock)


def task_last_run(prog: Program, task: int) -> int:
    """task->sched_info.last_arrival (task: struct task_struct *), crash's task_last_run() on kernels
    since 2.6.x (kept per task; read for every task by ps -l and foreach, hence a FieldReader)."""
    known: dict[int, int] = prog.cache("sched.last_run", dict)
    value = known.get(task)
    if value is None:
        last_arrival: FieldReader = prog.cache(
            "sched.last_arrival", lambda: FieldReader(prog, "struct task_struct", "sched_info.last_arrival")
        )
        value = known[task] = last_arrival(task)
    return value


def tasks_by_last_run(prog: Program, table: TaskTable) -> list[TaskContext]:
    """The task table sorted by last run, most recent first, as crash sorts it for ps -l/-m and
    foreach (a stable sort; kept, as foreach runs ps once per task)."""
    result: list[TaskContext] = prog.cache(
        "sched.by_last_run", lambda: sorted(table.contexts, key=lambda tc: -task_last_run(prog, tc.task))
    )
    return result


@crash_faults
def task_prio(prog: Program, task: int) -> int:
    """task->prio (task: struct task_struct *; a signed int)."""
    return int(_task(prog, task).prio)


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


@dataclass
class CfsEntry:
    """One task on a CFS tree (crash prints "[prio] PID: ..."), or a duplicate node crash warns about."""

    task: int
    prio: int
    duplicate: bool = False


def _group_sched(prog: Program) -> bool:
    """Whether scheduling entities can stand for a group's queue (sched_entity.my_q:
    CONFIG_FAIR_GROUP_SCHED)."""
    return has_member(prog, "struct sched_entity", "my_q")


def _queued_entities(cfs: Object) -> Iterator[Object]:
    """The sched_entity *s on a cfs_rq's tree (cfs: struct cfs_rq *), leftmost first; none when the
    tree has no leftmost node."""
    timeline = cfs.tasks_timeline
    if not timeline.rb_leftmost:
        return iter(())
    return rbtree_inorder_for_each_entry("struct sched_entity", timeline.rb_root, "run_node")


def _entity_task(se: Object) -> int:
    """The struct task_struct * whose `se` is the sched_entity `se` (struct sched_entity *)."""
    return int(se.container_of_("struct task_struct", "se"))


@crash_faults
def cfs_tasks(prog: Program, table: TaskTable, cfs_rq: int, seen: set[int] | None = None) -> list[CfsEntry]:
    """The tasks queued on `cfs_rq` (struct cfs_rq *) and the group queues below it, in crash's order:
    the current entity's group queue first, then the tree from its leftmost node, descending into
    every group entity's own queue (sched_entity.my_q)."""
    if seen is None:
        seen = set()
    out: list[CfsEntry] = []
    has_my_q = _group_sched(prog)
    cfs = _ptr(prog, "struct cfs_rq", cfs_rq)
    if has_my_q:
        curr = cfs.curr
        if curr:
            curr_my_q = int(curr.my_q)
            if curr_my_q:
                out += cfs_tasks(prog, table, curr_my_q, seen)
                if out and out[-1].duplicate:
                    return out
    for se in _queued_entities(cfs):
        if has_my_q:
            my_q = int(se.my_q)
            if my_q:
                out += cfs_tasks(prog, table, my_q, seen)
                if out and out[-1].duplicate:
                    return out
                continue
        task = _entity_task(se)
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
    array = resolve(lookup_type(prog, "struct rt_prio_array"))
    hit = array.find_member("queue") if isinstance(array, StructType) else None
    queue = resolve(hit[1].type) if hit is not None else None
    if not isinstance(queue, ArrayType):
        raise CommandError("rt_prio_array.queue is not an array")
    return queue.length


def _list_nodes(head: Object) -> list[Object]:
    """The list_head nodes (struct list_head *) after `head` (struct list_head) up to `head` again or
    a NULL `next` (crash's do_list with start and end)."""
    out: list[Object] = []
    stop = head.address_
    node = head.next
    addr = int(node)
    seen: set[int] = set()
    while addr != stop and addr:
        if addr in seen:
            raise CommandError(f"list loop detected at {addr:x}")
        seen.add(addr)
        out.append(node)
        node = node.next
        addr = int(node)
    return out


def _rt_queues(prog: Program, prio_array: int) -> Iterator[tuple[int, Object]]:
    """(queue index, sched_rt_entity *) of every entity on an RT priority array (struct rt_prio_array *)."""
    queues = _ptr(prog, "struct rt_prio_array", prio_array).queue
    try:
        queues = queues.read_()  # the heads in one read: an empty queue then costs no read at all
    except FaultError:
        pass  # head by head, so that a fault names the head it was reading
    for i in range(rt_queue_count(prog)):
        for node in _list_nodes(queues[i]):
            yield i, node.container_of_("struct sched_rt_entity", "run_list")


@dataclass
class RtEntry:
    """One task on an RT priority array: its queue index (crash shows it as the priority) and task."""

    prio: int
    task: int


@crash_faults
def rt_tasks(prog: Program, table: TaskTable, prio_array: int) -> list[RtEntry]:
    """The tasks on an RT priority array (struct rt_prio_array *), group queues flattened in place."""
    out: list[RtEntry] = []
    has_my_q = has_member(prog, "struct sched_rt_entity", "my_q")  # CONFIG_RT_GROUP_SCHED
    for i, rt_se in _rt_queues(prog, prio_array):
        if has_my_q:
            my_q = rt_se.my_q
            if my_q:
                out += rt_tasks(prog, table, int(my_q.active.address_of_()))
                continue
        task = rt_entity_task(rt_se)
        if task in table.by_task:
            out.append(RtEntry(i, task))
    return out


def rt_entity_task(rt_se: Object | int, prog: Program | None = None) -> int:
    """The struct task_struct * whose `rt` is `rt_se` (struct sched_rt_entity *, an Object, or an
    address with its Program)."""
    if not isinstance(rt_se, Object):
        assert prog is not None
        rt_se = _ptr(prog, "struct sched_rt_entity", rt_se)
    return int(rt_se.container_of_("struct task_struct", "rt"))


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
    """What `runq` shows of a cpu: its struct rq, RT priority array and CFS tree, and their tasks."""
    rq = _ptr(prog, "struct rq", runqueue(prog, cpu))
    rt_array = int(rq.rt.active.address_of_())
    cfs_rq = int(rq.cfs.address_of_())
    root = int(rq.cfs.tasks_timeline.address_of_())
    return CpuRunqueue(
        cpu, rq.value_(), rt_array, rt_tasks(prog, table, rt_array), root, cfs_tasks(prog, table, cfs_rq)
    )


@crash_faults
def on_rq(prog: Program, task: int) -> bool:
    """task->on_rq (task: struct task_struct *), or task->se.on_rq on kernels without it (before
    v3.1, commit fd2f4419b4cb)."""
    t = _task(prog, task)
    if t.has_member_("on_rq"):
        return int(t.on_rq) != 0
    return int(t.se.on_rq) != 0


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


@crash_faults
def task_group_name(prog: Program, group: int) -> str | None:
    """The cgroup directory name of a task group (struct task_group *; "/" for the root), None when it
    has no cgroup."""
    cgroup = _ptr(prog, "struct task_group", group).css.cgroup
    if not cgroup:
        return None
    if not has_member(prog, "struct cgroup", "kn"):  # v3.15 (commit 2bd59d48ebfb): cgroups on kernfs
        return None
    kn = cgroup.kn
    if not kn:
        return None
    if not kn.parent:
        return "/"
    name = kn.name
    if not name:
        return None
    return name.string_(1500).decode("latin-1")


@crash_faults
def task_groups(prog: Program) -> list[TaskGroup]:
    """Every task group, found depth first from the root, then ordered by depth (a stable sort)."""
    root, _ = root_task_group(prog)
    out: list[TaskGroup] = []

    def fill(group: int, depth: int, parent: TaskGroup | None) -> None:
        if len(out) > 100000:
            raise CommandError("task_group loop detected")
        tg = TaskGroup(group, depth, task_group_name(prog, group), parent, use=bool(depth))
        out.append(tg)
        for node in _list_nodes(_ptr(prog, "struct task_group", group).children):
            fill(int(node.container_of_("struct task_group", "siblings")), depth + 1, tg)

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


@crash_faults
def group_cfs_rq(prog: Program, group: int, cpu: int) -> int:
    """task_group->cfs_rq[cpu] (group: struct task_group *; a struct cfs_rq *)."""
    return int(_ptr(prog, "struct task_group", group).cfs_rq[cpu])


@crash_faults
def cfs_throttled(prog: Program, cfs_rq: int) -> bool:
    """cfs_rq->throttled (cfs_rq: struct cfs_rq *; CONFIG_CFS_BANDWIDTH), False without it."""
    if not has_member(prog, "struct cfs_rq", "throttled"):
        return False
    return int(_ptr(prog, "struct cfs_rq", cfs_rq).throttled) != 0


@crash_faults
def cfs_rq_group(prog: Program, cfs_rq: int) -> int:
    """cfs_rq->tg (cfs_rq: struct cfs_rq *; a struct task_group *)."""
    return int(_ptr(prog, "struct cfs_rq", cfs_rq).tg)


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
        for g in self.groups:
            if not g.use or g.depth - depth != 1:
                continue
            group = cfs_rq_group(prog, cfs_rq)
            if g.parent is None or group != g.parent.address:
                continue
            child = group_cfs_rq(prog, g.address, self.cpu)
            if child == cfs_rq:
                continue
            if not int(_ptr(prog, "struct cfs_rq", child).nr_running):
                total += self.lower_dequeued(depth + 1, child)
                continue
            self.parents(g)
            total += 1
            total += self.walk(depth + 1, child)
        return total

    @crash_faults
    def walk(self, depth: int, cfs_rq: int) -> int:
        """The rows of the queue `cfs_rq` (struct cfs_rq *) and the group queues below it, at `depth`;
        how many entries it had."""
        prog = self.prog
        total = 0
        curr_my_q = 0
        cfs = _ptr(prog, "struct cfs_rq", cfs_rq)
        if depth:
            tg = cfs_rq_group(prog, cfs_rq)
            for g in self.groups:
                if g.address == tg:
                    self.header(depth, cfs_rq, g)
                    g.use = False
                    break
        has_my_q = _group_sched(prog)
        curr = cfs.curr if has_my_q else None
        if curr is not None and curr:
            curr_my_q = int(curr.my_q)
            if curr_my_q:
                total += 1
                total += self.walk(depth + 1, curr_my_q)
        if not curr_my_q and self.current and curr is not None and curr and _entity_task(curr) == self.current:
            total += 1
            self.rows.append(
                GroupRow("task", depth, task=self.current, prio=task_prio(prog, self.current), current=True)
            )
        for se in _queued_entities(cfs):
            if has_my_q:
                my_q = int(se.my_q)
                if my_q:
                    total += 1
                    total += self.walk(depth + 1, my_q)
                    continue
            task = _entity_task(se)
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
    return has_member(prog, "struct task_group", "cfs_rq"), has_member(prog, "struct task_group", "rt_rq")


@crash_faults
def root_group_queues(prog: Program, cpu: int) -> tuple[int, int]:
    """(cfs_rq, rt_rq) of the root task group on a cpu; 0 for a kind the kernel does not group."""
    root, _ = root_task_group(prog)
    cfs, rt = has_group_sched(prog)
    cfs_rq = group_cfs_rq(prog, root, cpu) if cfs else 0
    rt_rq = group_rt_rq(prog, root, cpu) if rt else 0
    return cfs_rq, rt_rq


@crash_faults
def group_rt_rq(prog: Program, group: int, cpu: int) -> int:
    """task_group->rt_rq[cpu] (group: struct task_group *; a struct rt_rq *)."""
    return int(_ptr(prog, "struct task_group", group).rt_rq[cpu])


@crash_faults
def rt_rq_highest_prio(prog: Program, rt_rq: int) -> int:
    """rt_rq->highest_prio.curr (rt_rq: struct rt_rq *; a signed int)."""
    return int(_ptr(prog, "struct rt_rq", rt_rq).highest_prio.curr)


@crash_faults
def rt_throttled(prog: Program, rt_rq: int) -> bool:
    """rt_rq->rt_throttled (rt_rq: struct rt_rq *), False without RT bandwidth control."""
    if not has_member(prog, "struct task_group", "rt_bandwidth"):
        return False
    return int(_ptr(prog, "struct rt_rq", rt_rq).rt_throttled) != 0


@crash_faults
def rt_rq_group(prog: Program, rt_rq: int) -> int:
    """rt_rq->tg (rt_rq: struct rt_rq *; a struct task_group *)."""
    return int(_ptr(prog, "struct rt_rq", rt_rq).tg)


@crash_faults
def rt_rq_nr_running(prog: Program, rt_rq: int) -> int:
    """rt_rq->rt_nr_running (rt_rq: struct rt_rq *)."""
    return int(_ptr(prog, "struct rt_rq", rt_rq).rt_nr_running)


@crash_faults
def rt_queue_entities(prog: Program, rt_rq: int) -> list[tuple[int, int, int]]:
    """(queue index, sched_rt_entity *, its my_q) of every entity on an rt_rq's (struct rt_rq *)
    priority array."""
    has_my_q = has_member(prog, "struct sched_rt_entity", "my_q")
    active = int(_ptr(prog, "struct rt_rq", rt_rq).active.address_of_())
    return [
        (i, int(rt_se), int(rt_se.my_q) if has_my_q else 0) for i, rt_se in _rt_queues(prog, active)
    ]
