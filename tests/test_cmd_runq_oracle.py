"""runq on every test dump: crashpy against crash 8.0.6, same file, one crash session per dump."""

from __future__ import annotations

from functools import cache

import pytest

from crashpy.helpers.tasks import TaskContext, TaskTable
from crashpy.types.model import (
    ArrayType,
    IntType,
    Member,
    PointerType,
    StructType,
    Type,
    TypeKind,
    TypeLookupError,
)
from tests.crashpy_runner import both_outputs
from tests.dump_names import WITH_NMI

DUMPS = WITH_NMI

RUNQ = [
    "runq",
    "runq -t",
    "runq -T",
    "runq -m",
    "runq -g",
    "runq -d",
    "runq -c 0",
    "runq -c 1",
    "runq -c 0,1",
    "runq -c 0-1",
    "runq -c all",
    "runq -c a",
    "runq -c ,1",
    "runq -c 1-",
    "runq -g -c 1",
    "runq -t -c 1",
    "runq -m -c 0",
    "runq -d -c 1",
    "runq -T -c 1",  # -T ignores -c, as crash does
    "runq -t -m",  # -t wins
    "runq -m -d -g",  # -m wins
    "runq -d -g",  # -d wins
    "set radix 16",
    "runq -t",
    "set radix 10",
    # errors: crash's one-line messages, never a traceback
    "runq -x",
    "runq -c 5",
    "runq -c 2-1",
    "runq -c 0 -c 1",
    "runq -c",
    "runq -c x",
    "runq -c 1-x",
    "runq extra",
]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, RUNQ)


@pytest.mark.parametrize("name", DUMPS)
def test_runq_matches_crash(name: str) -> None:
    expected, got = outputs(name)
    differ = [c for c, e, g in zip(RUNQ, expected, got, strict=True) if e != g]
    assert differ == [], differ
    assert "RUNQUEUE" in got[0] and "CFS RB_ROOT" in got[0]
    for out in got:
        assert "internal error" not in out and "Traceback" not in out


# ---- task-group layouts no test dump has (its kernel nests no groups and has no RT group
# scheduling): a stand-in program holding just the structures runq -g reads -------------------------


# The structures runq's helpers read, at the offsets this stand-in lays them out at: name -> (size,
# [(member, C type, byte offset)]).
FAKE_STRUCTS: dict[str, tuple[int, list[tuple[str, str, int]]]] = {
    "list_head": (16, [("next", "struct list_head *", 0), ("prev", "struct list_head *", 8)]),
    "rb_node": (0x18, [("__rb_parent_color", "unsigned long", 0), ("rb_right", "struct rb_node *", 0x8),
                       ("rb_left", "struct rb_node *", 0x10)]),
    "rb_root": (8, [("rb_node", "struct rb_node *", 0)]),
    "rb_root_cached": (16, [("rb_root", "struct rb_root", 0), ("rb_leftmost", "struct rb_node *", 0x8)]),
    "task_struct": (0x308, [("se", "struct sched_entity", 0x100), ("rt", "struct sched_rt_entity", 0x200),
                            ("prio", "int", 0x300)]),
    "sched_entity": (0x48, [("run_node", "struct rb_node", 0), ("my_q", "struct cfs_rq *", 0x40)]),
    "sched_rt_entity": (0x48, [("run_list", "struct list_head", 0), ("my_q", "struct rt_rq *", 0x40)]),
    "cfs_rq": (0x40, [("tasks_timeline", "struct rb_root_cached", 0), ("curr", "struct sched_entity *", 0x20),
                      ("tg", "struct task_group *", 0x28), ("nr_running", "unsigned int", 0x30),
                      ("throttled", "int", 0x38)]),
    "rt_prio": (8, [("curr", "int", 0), ("next", "int", 4)]),
    "rt_prio_array": (0x10 + 100 * 16, [("bitmap", "unsigned long[2]", 0), ("queue", "struct list_head[100]", 0x10)]),
    "rt_rq": (0x820, [("active", "struct rt_prio_array", 0), ("tg", "struct task_group *", 0x800),
                      ("rt_nr_running", "unsigned int", 0x808), ("highest_prio", "struct rt_prio", 0x810),
                      ("rt_throttled", "int", 0x818)]),
    "task_group": (0x18, [("cfs_rq", "struct cfs_rq **", 0), ("rt_rq", "struct rt_rq **", 0x8),
                          ("rt_bandwidth", "unsigned long", 0x10)]),
}


class FakeTypes:
    """lookup_type() over FAKE_STRUCTS: "struct cfs_rq *", "int", "struct list_head[100]", ..."""

    INTS = {
        "int": IntType("int", 4, True),
        "unsigned int": IntType("unsigned int", 4, False),
        "unsigned long": IntType("long unsigned int", 8, False),
    }

    def __init__(self) -> None:
        self.structs = {name: StructType(TypeKind.STRUCT, name, size, []) for name, (size, _) in FAKE_STRUCTS.items()}
        for name, (_, members) in FAKE_STRUCTS.items():
            self.structs[name]._members = [Member(m, self.lookup_type(t), off * 8) for m, t, off in members]

    def lookup_type(self, spelling: str) -> Type:
        spelling = spelling.strip()
        if spelling.endswith("*"):
            return PointerType(self.lookup_type(spelling[:-1]))
        if spelling.endswith("]"):
            base, length = spelling[:-1].split("[")
            return ArrayType(self.lookup_type(base), int(length))
        if spelling.startswith("struct "):
            try:
                return self.structs[spelling[7:]]
            except KeyError:
                raise TypeLookupError(f"No struct type named {spelling[7:]}.") from None
        return self.INTS[spelling]


class FakeProgram:
    """Memory as a dict of 8-byte words (an unwritten word reads as 0), and the types runq's helpers
    ask for."""

    def __init__(self) -> None:
        self.mem: dict[int, int] = {}
        self.btf = FakeTypes()

    def read(self, addr: int, size: int, what: str = "") -> bytes:
        base = addr & ~7
        raw = b"".join(self.mem.get(a, 0).to_bytes(8, "little") for a in range(base, addr + size, 8))
        return raw[addr - base : addr - base + size]

    def write(self, addr: int, value: int) -> None:
        self.mem[addr] = value & 0xFFFFFFFFFFFFFFFF

    def empty_queues(self, rt_rq: int) -> None:
        for i in range(100):
            head = rt_rq + 0x10 + i * 16
            self.write(head, head)
            self.write(head + 8, head)

    def queue(self, rt_rq: int, prio: int, rt_se: int) -> None:
        head = rt_rq + 0x10 + prio * 16
        self.write(head, rt_se)
        self.write(rt_se, head)


def _ctx(task: int, pid: int, comm: str) -> TaskContext:
    return TaskContext(task=task, pid=pid, tgid=pid, comm=comm, cpu=0, parent=0, mm=0, flags=0, state=0)


def test_runq_g_rt_groups_layout() -> None:
    from crashpy.commands.runq import RtGroupWalk
    from crashpy.helpers.sched import TaskGroup

    prog = FakeProgram()
    t1, t2 = 0x10000, 0x20000
    root_rq, a_rq, a_se = 0x100000, 0x200000, 0x300000
    root_tg, a_tg = 0x400000, 0x500000
    prog.empty_queues(root_rq)
    prog.empty_queues(a_rq)
    prog.write(a_rq + 0x800, a_tg)
    prog.queue(root_rq, 0, a_se)  # the group's entity, its own queue in my_q
    prog.write(a_se + 0x40, a_rq)
    prog.queue(root_rq, 50, t1 + 0x200)
    prog.queue(a_rq, 10, t2 + 0x200)
    root = TaskGroup(root_tg, 0, "/", None)
    groups = [root, TaskGroup(a_tg, 1, "A", root)]
    table = TaskTable([_ctx(t1, 11, "one"), _ctx(t2, 22, "two")])
    text = RtGroupWalk(prog, table, groups, 0).run(root_rq)  # type: ignore[arg-type]
    assert text == (
        f"     [  0] TASK_GROUP: {a_tg:x}  RT_RQ: {a_rq:x} <A>\n"
        f'           [ 10] PID: 22     TASK: {t2:x}  COMMAND: "two"\n'
        f'     [ 50] PID: 11     TASK: {t1:x}  COMMAND: "one"\n'
    )
    prog.empty_queues(root_rq)
    assert RtGroupWalk(prog, table, groups, 0).run(root_rq) == "     [no tasks queued]\n"  # type: ignore[arg-type]


def test_runq_g_cfs_groups_layout() -> None:
    from crashpy.helpers.sched import CfsGroupWalk, TaskGroup

    prog = FakeProgram()
    t1, t2, t3 = 0x10000, 0x20000, 0x30000
    root_cfs, a_cfs, a_se = 0x100000, 0x200000, 0x300000
    root_tg, a_tg = 0x400000, 0x500000
    for t, prio in ((t1, 120), (t2, 115), (t3, 139)):
        prog.write(t + 0x300, prio)
    # root: the group entity is running (curr), t3 waits in the tree
    prog.write(root_cfs + 0x20, a_se)
    prog.write(a_se + 0x40, a_cfs)
    prog.write(root_cfs + 0x0, t3 + 0x100)
    prog.write(root_cfs + 0x8, t3 + 0x100)
    # group A: t1 is running (the cpu's current task), t2 waits
    prog.write(a_cfs + 0x28, a_tg)
    prog.write(a_cfs + 0x20, t1 + 0x100)
    prog.write(a_cfs + 0x0, t2 + 0x100)
    prog.write(a_cfs + 0x8, t2 + 0x100)
    prog.write(a_cfs + 0x38, 1)  # throttled
    root = TaskGroup(root_tg, 0, "/", None)
    groups = [root, TaskGroup(a_tg, 1, "A", root)]
    table = TaskTable([_ctx(t1, 11, "one"), _ctx(t2, 22, "two"), _ctx(t3, 33, "three")])
    walk = CfsGroupWalk(prog, table, groups, 0, t1)  # type: ignore[arg-type]
    walk.walk(0, root_cfs)
    rows = [(r.kind, r.depth, r.task, r.prio, r.current, r.throttled) for r in walk.rows]
    assert rows == [
        ("cfs_group", 1, 0, 0, False, True),
        ("task", 1, t1, 120, True, False),
        ("task", 1, t2, 115, False, False),
        ("task", 0, t3, 139, False, False),
    ]
