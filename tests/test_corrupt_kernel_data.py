"""Corrupted kernel data (the dump file intact, the kernel's structures not): a task list with a loop
or a bad pointer, a list_head loop, a maple-tree node that points back at itself or into nothing, an
rbtree cycle, a slab freelist that loops. Each is made by overlaying a few bytes of a real dump's
memory (sysrq.d31.zlib); crashpy answers in crash's words (its "duplicate list entry", "duplicate tree
entry", "duplicate freelist object" lines, the page that cannot be read), lists what it can, and a
cycle never loops forever."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from crashpy.dumpfile.sniff import open_dump
from crashpy.helpers import slub
from crashpy.helpers.tasks import all_tasks, task_table
from crashpy.object import Object
from crashpy.program import Program
from crashpy.session import Session
from tests.crashpy_runner import program

DUMP = "sysrq.d31.zlib"


class Overlaid:
    """A dump whose physical memory reads `patches` ({physical address: bytes}) over the file's."""

    def __init__(self, dump: Any, patches: dict[int, bytes]) -> None:
        self._dump, self._patches = dump, patches

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dump, name)

    def read(self, paddr: int, size: int) -> bytes:
        data = bytearray(self._dump.read(paddr, size))
        for pa, raw in self._patches.items():
            lo, hi = max(pa, paddr), min(pa + len(raw), paddr + size)
            if lo < hi:
                data[lo - paddr : hi - paddr] = raw[lo - pa : hi - pa]
        return bytes(data)


def u64(value: int) -> bytes:
    return (value & (2**64 - 1)).to_bytes(8, "little")


def session_with(dumps: dict[str, Path], base: Program, patches: dict[int, bytes]) -> Any:
    """A function running commands on the dump with `patches` ({kernel virtual address: bytes}):
    each command's output, checked for time and for crashpy's line for a bug."""
    physical = {base.kvtop(v): raw for v, raw in patches.items()}
    prog = Program(Overlaid(open_dump(str(dumps[DUMP])), physical), str(dumps["vmlinux"]), dump_path=str(dumps[DUMP]))
    out = io.StringIO()
    session = Session(prog, out)

    def run(cmd: str) -> str:
        out.seek(0)
        out.truncate()
        t0 = time.monotonic()
        session.run_line(cmd)
        assert time.monotonic() - t0 < 10, cmd
        text = out.getvalue()
        assert "internal error" not in text, text
        return text

    return run


@pytest.fixture(scope="module")
def base(dumps: dict[str, Path]) -> Program:
    return program(dumps["vmlinux"], dumps[DUMP])


def test_task_list_loop(dumps: dict[str, Path], base: Program) -> None:
    tasks = all_tasks(base)
    off = base.offsetof("task_struct", "tasks")
    looped, target = tasks[5], tasks[3]  # a process whose next points back at an earlier one
    run = session_with(dumps, base, {looped + off: u64(target + off)})
    out = run("ps").splitlines()
    assert out[0] == (
        f"ps: WARNING: the task list is corrupted: list_head loop at {target + off:x}: the tasks before it are listed"
    )
    assert 3 <= len(out) - 2 < len(tasks)
    assert f"{looped:x}" in "\n".join(out)
    assert run("foreach bt").count("PID:") == len(out) - 2


def test_task_list_bad_pointer(dumps: dict[str, Path], base: Program) -> None:
    tasks = all_tasks(base)
    off = base.offsetof("task_struct", "tasks")
    run = session_with(dumps, base, {tasks[5] + off: u64(0xDEAD000000000100)})  # LIST_POISON1
    listed = run("ps").splitlines()[1:]
    assert len(listed) == len(tasks)  # the list walked back from its head finds the rest


def test_list_head_loop(dumps: dict[str, Path], base: Program) -> None:
    tasks = all_tasks(base)
    off = base.offsetof("task_struct", "tasks")
    run = session_with(dumps, base, {tasks[5] + off: u64(tasks[3] + off)})
    out = run("list task_struct.tasks -h init_task")
    assert out.endswith(f"list: duplicate list entry: {tasks[3] + off:x}\n")
    assert out.count("\n") >= 4


def test_maple_tree_node_broken(dumps: dict[str, Path], base: Program) -> None:
    task = Object(base, base.btf.lookup_type("struct task_struct"), task_table(base).panic_task)
    root = base.read_u64(int(task.mm) + base.offsetof("mm_struct", "mm_mt.ma_root"))
    node = root & ~0xFF
    slots = base.offsetof("maple_range_64", "slot")
    # the first slot points back at the node itself: one line, no endless walk
    out = session_with(dumps, base, {node + slots: u64(root)})("vm").splitlines()
    assert out[-1].startswith("vm: ") and "VMA" in out[-2]
    # the second slot points where nothing is mapped: crash's read error, one line
    out = session_with(dumps, base, {node + slots + 8: u64(0xFFFF888FFFFF0000)})("vm").splitlines()
    assert out[-1] == 'vm: seek error: kernel virtual address: ffff888fffff0000  type: "fill_vma_cache"'


def test_rbtree_cycle(dumps: dict[str, Path], base: Program) -> None:
    root = base.read_u64(base.symbol_address("vmap_area_root"))
    run = session_with(dumps, base, {root + 8: u64(root)})  # rb_right points back at the root node
    assert run("tree -t rbtree -o vmap_area.rb_node vmap_area_root").endswith(f"tree: duplicate tree entry: {root:x}\n")
    assert "VMAP_AREA" in run("kmem -v")


def test_slab_freelist_loop(dumps: dict[str, Path], base: Program) -> None:
    cache = next(c for c in (slub.read_cache(base, a) for a in slub.cache_list(base)) if c.name == "kmalloc-64")
    cpu_slab = base.read_u64(cache.address + base.offsetof("kmem_cache", "cpu_slab"))
    per_cpu = (cpu_slab + base.percpu_offsets[0]) & (2**64 - 1)
    free = base.read_u64(per_cpu + base.offsetof("kmem_cache_cpu", "freelist"))
    if not free:
        pytest.skip("CPU 0 has no free kmalloc-64 object in this boot")
    at = free + cache.offset
    stored = free
    if cache.random:  # CONFIG_SLAB_FREELIST_HARDENED: ptr ^ random ^ swab(where it is kept)
        stored = free ^ cache.random ^ int.from_bytes(at.to_bytes(8, "little"), "big")
    run = session_with(dumps, base, {at: u64(stored)})  # the first free object points at itself
    out = run("kmem -s kmalloc-64").splitlines()
    assert f"duplicate freelist object: {free:x}" in out[1] and out[1].startswith("kmem: kmalloc-64: slab: ")
    assert out[-1].endswith("kmalloc-64")


def test_a_huge_hstate_order(dumps: dict[str, Path], base: Program) -> None:
    """Found by the dump fuzzer (seed 10000, case 5116, damaged program headers): hstates[0].order
    read as billions made kmem -i shift a page count into a number of 1.5 GB. crash computes the
    shift in C (x86 takes the count modulo 64); so does crashpy, and the rest of kmem -i stands."""
    import resource

    hstate = base.symbol_address("hstates")
    patches = {
        hstate + base.offsetof("hstate", "order"): (0xFFFFFFF0).to_bytes(4, "little"),
        hstate + base.offsetof("hstate", "nr_huge_pages"): u64(3),
        hstate + base.offsetof("hstate", "free_huge_pages"): u64(1),
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = session_with(dumps, base, patches)("kmem -i")
    assert "TOTAL MEM" in out and "TOTAL HUGE" in out
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024 < 256 << 20
