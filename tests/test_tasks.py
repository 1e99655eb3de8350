"""helpers/tasks.py: crash's task states, and the start-up context lines against crash 8.0.6."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import pytest

from crashpy.cli.banner import print_banner
from crashpy.errors import FaultError, FaultKind
from crashpy.helpers.tasks import (
    TaskContext,
    TaskLayout,
    TaskTable,
    _scan,
    all_tasks,
    state_code,
    state_verbose,
)
from crashpy.session import Session
from tests.crashpy_runner import program
from tests.oracle import run_crash_startup
from tools.vmcores import ensure


@pytest.mark.parametrize(
    ("state", "code", "verbose"),
    [
        (0x0, "RU", "TASK_RUNNING"),
        (0x1, "IN", "TASK_INTERRUPTIBLE"),
        (0x2, "UN", "TASK_UNINTERRUPTIBLE"),
        (0x402, "ID", "TASK_UNINTERRUPTIBLE|TASK_NOLOAD"),
        (0x4, "ST", "TASK_STOPPED"),
        (0x8, "TR", "TASK_TRACED"),
        (0x20, "ZO", "EXIT_ZOMBIE"),
        (0x10, "DE", "EXIT_DEAD"),
        (0x90, "DE", "EXIT_DEAD|TASK_DEAD"),
        (0x40, "PA", "TASK_PARKED"),
        (0x200, "WA", "TASK_WAKING"),
        (0x800, "NE", "TASK_NEW"),
        (0x101, "IN", "TASK_INTERRUPTIBLE|TASK_WAKEKILL"),
        (0x21, "ZO", "TASK_INTERRUPTIBLE|EXIT_ZOMBIE"),
    ],
)
def test_state_strings(state: int, code: str, verbose: str) -> None:
    assert state_code(state) == code
    assert state_verbose(state) == verbose


DUMPS = [
    "sysrq.elf",
    "sysrq.d31.zlib",
    "kaslr.elf",
    "bug.elf",
    "null.elf",
    "panic.elf",
    "la57.elf",
    "la57bug.d31.zlib",
    "scale.d31.zlib",
]


def _after_panic_line(text: str) -> str:
    """The start-up text after sys's PANIC line: the panic task's context lines and the blank line."""
    return text[text.index("       PANIC: ") :].split("\n", 1)[1]


@pytest.mark.parametrize("name", DUMPS)
def test_startup_context_matches_crash(name: str) -> None:
    paths = ensure([name])
    expected = _after_panic_line(run_crash_startup(paths["vmlinux"], paths[name]).startup)
    out = io.StringIO()
    print_banner(Session(program(paths["vmlinux"], paths[name]), out))
    got = _after_panic_line(out.getvalue())
    assert expected.startswith(got)
    assert "     COMMAND: " in got


# ---- the task scan and the table's indexes, on synthetic memory ------------------------------------


def _tc(task: int, pid: int, tgid: int, comm: str = "t") -> TaskContext:
    return TaskContext(task=task, pid=pid, tgid=tgid, comm=comm, cpu=0, parent=0, mm=0, flags=0, state=0)


def test_task_table_indexes_keep_table_order() -> None:
    contexts = [_tc(0x10, 0, 0), _tc(0x20, 0, 0), _tc(0x30, 7, 7), _tc(0x40, 8, 7), _tc(0x50, 9, 7)]
    table = TaskTable(contexts)
    assert [tc.task for tc in table.by_pid(0)] == [0x10, 0x20]
    table.by_pid(0).clear()  # a caller's list is its own
    assert [tc.task for tc in table.by_pid(0)] == [0x10, 0x20]
    assert table.first_by_pid(0) is contexts[0]
    assert table.first_by_pid(99) is None
    assert [tc.task for tc in table.thread_group(7)] == [0x30, 0x40, 0x50]
    assert table.thread_group(99) == []


class _Memory:
    """Little-endian memory from 0x1000 on, with byte ranges that fault; counts each read's size."""

    BASE = 0x1000

    def __init__(self, size: int) -> None:
        self.data = bytearray(size)
        self.bad: list[tuple[int, int]] = []
        self.reads: list[tuple[int, int]] = []

    def put(self, addr: int, value: int, size: int = 8) -> None:
        self.data[addr - self.BASE : addr - self.BASE + size] = value.to_bytes(size, "little")

    def read(self, addr: int, size: int, what: str = "") -> bytes:
        self.reads.append((addr, size))
        for lo, hi in self.bad:
            if addr < hi and lo < addr + size:
                raise FaultError(max(addr, lo), FaultKind.EXCLUDED, what=what)
        return bytes(self.data[addr - self.BASE : addr - self.BASE + size])


class _FakeProgram:
    """What the task scan asks a Program: symbols, a few offsets, reads and a cache."""

    def __init__(self, memory: _Memory, init_task: int, layout: TaskLayout) -> None:
        self.memory = memory
        self.init_task = init_task
        self.percpu_offsets: list[int] = []  # no per-cpu areas: no idle tasks but init_task
        self._cache: dict[str, object] = {"tasks.layout": layout}

    def symbol_address(self, name: str) -> int:
        return self.init_task if name == "init_task" else 0

    def offsetof(self, struct_name: str, member: str) -> int:
        return {("signal_struct", "thread_head"): 0, ("rq", "idle"): 0}[(struct_name, member)]

    def read(self, addr: int, size: int, what: str = "") -> bytes:
        return self.memory.read(addr, size, what)

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.memory.read(addr, 8), "little")

    def cache(self, key: str, factory: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]


def test_task_scan_reads_each_task_once_and_a_block_that_faults_field_by_field() -> None:
    layout = TaskLayout(
        state=0, state_size=4, flags=4, cpu=8, pid=12, tgid=16, comm=24, parent=40, mm=48, exit_state=56,
        tasks=64, signal=80, thread_node=88, thread_group=None, rss_stat=104, context_size=72, size=120,
    )  # fmt: skip
    mem = _Memory(0x1000)
    init, leader, thread, last = 0x1000, 0x1100, 0x1200, 0x1300  # task_structs
    signals = {init: 0x1800, leader: 0x1900, last: 0x1A00}  # signal_struct.thread_head at offset 0
    for task, pid, tgid, comm in ((init, 0, 0, "swapper/0"), (leader, 1, 1, "init"), (thread, 5, 1, "init"),
                                  (last, 2, 2, "kthreadd")):  # fmt: skip
        mem.put(task + layout.pid, pid, 4)
        mem.put(task + layout.tgid, tgid, 4)
        mem.data[task - mem.BASE + layout.comm : task - mem.BASE + layout.comm + len(comm)] = comm.encode()
        mem.put(task + layout.signal, signals.get(task, signals[leader]))
        mem.put(task + layout.rss_stat, pid, 4)  # MM_FILEPAGES
    # the tasks list: init -> leader -> last -> init
    for task, nxt in ((init, leader), (leader, last), (last, init)):
        mem.put(task + layout.tasks, nxt + layout.tasks)
    # each thread group's list: head -> threads -> head
    for head, threads in ((signals[init], [init]), (signals[leader], [leader, thread]), (signals[last], [last])):
        links = [head, *(t + layout.thread_node for t in threads), head]
        for a, b in itertools.pairwise(links):
            mem.put(a, b)
    mem.bad.append((last + 100, last + 120))  # the last task's split RSS counters cannot be read
    prog = _FakeProgram(mem, init, layout)
    scanned = all_tasks(prog)  # type: ignore[arg-type]
    assert scanned == [init, leader, thread, last]
    blocks = [addr for addr, size in mem.reads if size == layout.size]
    assert sorted(blocks) == sorted(scanned)  # one block per task, the failed one too
    scan = _scan(prog)  # type: ignore[arg-type]
    contexts = [scan.blocks.context(task) for task in scan.tasks]  # the last one read field by field
    assert [(tc.pid, tc.comm) for tc in contexts] == [(0, "swapper/0"), (1, "init"), (5, "init"), (2, "kthreadd")]
    assert scan.blocks.split_rss == {init: 0, leader: 1, thread: 5}  # none for the task whose block faulted
