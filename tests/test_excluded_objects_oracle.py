"""Objects that run into a page makedumpfile left out, printed by p, struct, union, `*`, a bare type
name and task: crashpy against crash 8.0.6.

What crash does (learnt by running it): gdb reads the whole object through crash's readmem(), so an
object that touches a left-out page fails (`struct: page excluded: ...  type: "gdb_readmem_callback"`,
`p: gdb request failed: ...`), except for the structures the kernel allocates smaller than their
debuginfo size (task_struct, SLUB's kmem_cache): for those, struct/union/`*`/task (not p) print the
whole object, the bytes read before the left-out page and zeros after it, and only later reads (a
flexible array's string) fail.  In an ELF dump crash reads the left-out pages as zeros, so nothing
fails there.  The addresses are found in the dump: the first page of the direct map that reads and
whose next page is left out.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import pytest

from crashpy.dumpfile.base import DumpFile
from crashpy.errors import FaultError, FaultKind
from crashpy.loader import open_program
from crashpy.session import Session
from tests.crashpy_runner import program, run_crashpy

PAGE = 4096


@cache
def edge(vmlinux: Path, dump: Path, kind: FaultKind = FaultKind.EXCLUDED) -> int:
    """The kernel virtual address of a left-out page (or one of `kind`) whose previous page reads, in
    the direct map; one whose previous page ends in non-zero bytes if there is one (so the kept part
    shows)."""
    prog = program(vmlinux, dump)
    base = prog.layout.page_offset
    first = None
    prev: bytes | None = None
    for pfn in range(0x100, 0x40000):
        try:
            data = prog.read_physical(pfn * PAGE, PAGE)
        except FaultError as e:
            if prev is not None and e.kind is kind:
                if any(prev[-256:]):
                    return base + pfn * PAGE
                if first is None:
                    first = base + pfn * PAGE
            prev = None
            continue
        prev = data
    assert first is not None, f"no {kind.value} page after a kept one"
    return first


COMMANDS = [
    # downsized structures: the whole object, zeros from the left-out page on
    "struct task_struct {before}",
    "task_struct {before}",
    "* task_struct {before}",
    "struct task_struct -x {before}",
    "struct task_struct.pid,comm {before}",
    "struct task_struct.pid,thread {before}",
    "struct task_struct.thread.fpu {before}",
    "struct task_struct.comm -o {before}",
    "struct task_struct.stack,mm,fs -p {before}",
    "struct task_struct -p {before}",
    "struct task_struct {before} -c 2",
    "struct task_struct.pid,comm {before} -c -2",
    "struct task_struct {last}",
    "struct kmem_cache {before}",
    "struct kmem_cache.node {before}",
    # ... but not when the object starts in the left-out page
    "struct task_struct {edge}",
    "struct kmem_cache {edge}",
    # -r dumps words as rd does: those before the page, then the error
    "struct task_struct -r {before}",
    "struct list_head -r {last}",
    # p never reads partially
    "p *(struct task_struct *)0x{before}",
    "p ((struct task_struct *)0x{before})->pid",
    "p ((struct task_struct *)0x{before})->thread.fpu",
    # other structures fail whole
    "struct list_head {last}",
    "struct list_head {edge}",
    "list_head {last}",
    "* list_head {last}",
    "struct list_head.next {last}",
    "struct list_head.next,prev {last}",
    "struct list_head {last} 2",
    "struct list_head -o {last}",
    "struct mm_struct {before}",
    "union rcu_special {tail2}",
    "union rcu_special {tail4}",
    "p *(struct list_head *)0x{last}",
    "p *(struct list_head *)0x{edge}",
    "p ((struct list_head *)0x{last})->next",
    "p ((struct list_head *)0x{last})->prev",
    "p *(char *)0x{tail1}",
]


def commands_for(vmlinux: Path, dump: Path) -> list[str]:
    page = edge(vmlinux, dump)
    where = {
        "edge": page,
        "before": page - 0x100,  # a task_struct from here reaches far into the left-out page
        "last": page - 8,
        "tail4": page - 4,
        "tail2": page - 2,
        "tail1": page - 1,
    }
    return [c.format(**{k: f"{v:x}" for k, v in where.items()}) for c in COMMANDS]


@pytest.mark.parametrize("dump", ["sysrq.d31.zlib", "sysrq.d31.elf", "la57.d31.zlib"])
def test_objects_into_excluded_page_match_crash(paths: dict[str, Path], dump: str) -> None:
    from tests.oracle import run_crash

    commands = commands_for(paths["vmlinux"], paths[dump])
    expected = run_crash(paths["vmlinux"], paths[dump], commands)
    got = run_crashpy(paths["vmlinux"], paths[dump], commands)
    bad = [(c, e, g) for c, e, g in zip(commands, expected, got, strict=True) if e != g]
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e[:3000]}--- crashpy\n{g[:3000]}" for c, e, g in bad)


def test_the_cases_are_what_they_claim(paths: dict[str, Path]) -> None:
    """On the kdump file the downsized struct prints whole with the kept bytes, the others fail."""
    vmlinux, dump = paths["vmlinux"], paths["sysrq.d31.zlib"]
    commands = commands_for(vmlinux, dump)
    out = dict(zip(commands, run_crashpy(vmlinux, dump, commands), strict=True))
    page = edge(vmlinux, dump)
    whole = out[f"struct task_struct {page - 0x100:x}"]
    assert whole.startswith("struct task_struct {\n") and whole.endswith("}\n")
    assert f"page excluded: kernel virtual address: {page:x} " not in whole
    assert out[f"struct list_head {page - 8:x}"] == (
        f'struct list_head struct: page excluded: kernel virtual address: {page:x}  type: "gdb_readmem_callback"\n\n'
    )
    assert out[f"union rcu_special {page - 2:x}"] == (
        f'union rcu_special union: page excluded: kernel virtual address: {page:x}  type: "gdb_readmem callback"\n'
    )


class _LeftOut(DumpFile):
    """A dump with one more physical page left out, as makedumpfile does for a free page."""

    def __init__(self, inner: DumpFile, pfn: int) -> None:
        self.inner = inner
        self.path = inner.path
        self.info = inner.info
        self.pfn = pfn

    def read(self, paddr: int, size: int) -> bytes:
        start, end = paddr // PAGE, (paddr + size - 1) // PAGE
        if start <= self.pfn <= end:
            raise FaultError(paddr if start == self.pfn else self.pfn * PAGE, FaultKind.EXCLUDED)
        return self.inner.read(paddr, size)

    def ranges(self) -> list[tuple[int, int]]:
        return self.inner.ranges()


def test_task_whose_task_struct_runs_into_an_excluded_page(paths: dict[str, Path]) -> None:
    """No task of the test dumps has one (their slab pages are all kept), so a page is left out of a
    copy: the one that holds the task's FPU state.  `task` prints what `struct task_struct` prints
    there (compared with crash above), its read errors named after the task command."""
    vmlinux, dump = paths["vmlinux"], paths["sysrq.d31.zlib"]
    prog = open_program(str(vmlinux), [str(dump)])
    session = Session(prog, io.StringIO())
    from crashpy.helpers.tasks import task_table

    tc = next(t for t in task_table(prog).contexts if t.pid == 1)
    out = io.StringIO()
    session.out = out
    session.run_line("task 1")
    before = out.getvalue()
    fpu = tc.task + prog.offsetof("task_struct", "thread.fpu.__fpstate.regs.xsave.extended_state_area")
    cut = fpu & ~(PAGE - 1)
    assert tc.task + prog.offsetof("task_struct", "pid") < cut
    prog.dump = prog.physical.dump = _LeftOut(prog.dump, prog.kvtop(cut) // PAGE)
    out.seek(0)
    out.truncate()
    session.run_line("task 1")
    after = out.getvalue()
    out.seek(0)
    out.truncate()
    session.run_line(f"struct task_struct {tc.task:x}")
    struct = out.getvalue()
    assert before.splitlines()[0] == after.splitlines()[0]  # the PID: line
    assert after.splitlines()[1:] != before.splitlines()[1:]
    assert after.split("\n", 1)[1].startswith(struct.replace("struct: page excluded", "task: page excluded"))
    assert "  pid = 1,\n" in after  # read before the left-out page
    assert f"page excluded: kernel virtual address: {cut:x} " not in after
    # only the flexible array's string fails: three reads, one line each (the first one inline)
    errors = [line[line.index("task: ") :] for line in after.splitlines() if "page excluded" in line]
    assert len(errors) == 3 and all(line.startswith("task: page excluded: ") for line in errors)
    assert len(after.splitlines()) == len(before.splitlines()) + 2 + 1  # + `<error: ...>`
    # the same tail (the FPU's flexible array) fails the same way in struct
    assert [line[line.index("struct: ") :] for line in struct.splitlines() if "page excluded" in line] == [
        line.replace("task:", "struct:", 1) for line in errors
    ]


def test_pages_past_the_end_of_a_cut_file_are_read_errors(paths: dict[str, Path]) -> None:
    """crash cannot start on sysrq.d31.zlib.trunc40; its readmem() would not stop early at a read error
    (only at an excluded or incomplete page), so the downsized task_struct fails whole there too."""
    vmlinux, dump = paths["vmlinux"], paths["sysrq.d31.zlib.trunc40"]
    page = edge(vmlinux, dump, FaultKind.TRUNCATED)
    before = f"{page - 0x100:x}"
    commands = [
        f"struct task_struct {before}",
        f"struct task_struct.pid,comm {before}",
        f"p *(char *)0x{page - 1:x}",
    ]
    line = f'read error: kernel virtual address: {page:x}  type: "gdb_readmem_callback"\n'
    assert run_crashpy(vmlinux, dump, commands) == [
        f"struct task_struct struct: {line}\n",
        f"struct: {line}" * 2,
        f"p: {line}p: gdb request failed: p *(char *)0x{page - 1:x}\n",
    ]
