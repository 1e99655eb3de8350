"""vm and foreach vm: crashpy against crash 8.0.6, text for text, one crash session per dump.

The pids, tasks, areas and addresses come from each dump: `vm` for the current context, pids and task
addresses (several at once), every task through `foreach vm` (scale.d31.zlib's 2,000 tasks too: crash
takes 1 to 3 s for it, crashpy about 2 s), every page of two tasks' areas (-p; on the -d 31 dumps the user pages are
left out but the page tables are not, so the lines are the same), one area (-P, and one that is not
the task's), another mm_struct for a kernel thread (-M, and addresses that are not one), the
structures (-v, -m, with -x and -d), references (-R: a file name, an area, a page's virtual and
physical address, a vm_flags value, the mm_struct, a file offset, "/", 0 which is every kernel
thread's mm_struct, with -M's borrowed mm_struct), vm_flags names (-f), kernel threads, and bad input
with crash's one-line errors.  sysrq.d31.zlib.trunc40 is left out: crash 8.0.6 cannot open it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from crashpy.helpers.mm import vm_flag_names
from crashpy.helpers.tasks import task_table
from crashpy.helpers.vma import mm_vmas
from tests.crashpy_runner import crash_differences, describe, program, run_crashpy
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]

BAD_INPUT = [
    "vm 99999",
    "vm -p -m",
    "vm -x -d",
    "vm -d -x -m",
    "vm -z",
    "vm -P zz",
    "vm -R a -R b",
    "vm -m -R a",
    "vm -v -R a",
    "vm -M zz",
    "vm -M 0",
    "vm -M 1234",
    "vm -f zz",
    "vm -f 3 -p",
    "vm -p -f 3",
    "vm -f 0",
    "vm -f ffffffffffffffff",
    "vm zz",
    "foreach vm -x -d",
    "foreach vm -p -m",
    "foreach vm -R a -v",
]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = task_table(prog)
    users = [tc for tc in table.contexts if tc.mm and not tc.is_kernel_thread]
    kthread = next(tc for tc in table.contexts if tc.is_kernel_thread and tc.pid > 0)
    one, two, last = users[0], users[len(users) // 2], users[-1]
    vmas = mm_vmas(prog, one.mm)
    other = mm_vmas(prog, two.mm)
    named = next(v for v in vmas if v.file)
    middle = vmas[len(vmas) // 2]
    pgd = int(prog.read_u64(one.mm + prog.offsetof("mm_struct", "pgd")))
    mapped = next(
        (vaddr, paddr)
        for v in vmas
        for vaddr, paddr, _pte in prog.user_memory(pgd).page_entries(v.start, v.end)
        if paddr is not None
    )
    cmds = [
        "vm",
        f"vm {one.pid}",
        f"vm {two.task:x}",
        f"vm {one.pid} {kthread.task:x} {last.pid}",
        f"vm {one.pid} 99999 {two.pid}",
        "vm 0",
        f"vm {kthread.pid}",
        f"vm -p {one.pid}",
        f"vm -p {last.task:x}",
        f"vm -P {middle.address:x} {one.pid}",
        f"vm -P {other[0].address:x} {one.pid}",
        f"vm -P {middle.address:x} {kthread.pid}",
        f"vm -M {one.mm:x} {kthread.pid}",
        f"vm -M {one.mm:x} {two.pid}",
        f"vm -M {kthread.task:x} {kthread.pid}",
        f"vm -M {one.mm + 8:x} {kthread.pid}",
        f"vm -v {one.pid}",
        f"vm -m {one.pid}",
        f"vm -m -x {one.pid}",
        f"vm -v -d {two.pid}",
        f"vm -x {one.pid}",
        f"vm -d -m {kthread.pid}",
        f"vm -R {named.file.rsplit('/', 1)[-1]} {one.pid}",
        f"vm -R {named.file} {one.pid} {two.pid}",
        f"vm -R {middle.address:x} {one.pid}",
        f"vm -R {vmas[0].start:x} {one.pid}",
        f"vm -R {mapped[1]:x} {one.pid}",
        f"vm -R {mapped[0]:x} -p {one.pid}",
        f"vm -R {middle.flags:x} {one.pid}",
        f"vm -R {one.mm:x} {one.pid}",
        f"vm -R {pgd:x} {one.pid}",
        f"vm -R 1000 {one.pid}",
        f"vm -R / {one.pid}",
        f"vm -R nosuchfile {one.pid}",
        f"vm -R busybox {kthread.pid}",
        f"vm -f {middle.flags:x}",
        f"vm -R 0 {kthread.pid}",
        f"vm -R 0 {one.pid}",
        f"vm -p -R {vmas[0].start:x} {one.pid}",
        f"vm -M {one.mm:x} -p {kthread.pid}",
        f"vm -M {one.mm:x} -R {named.file.rsplit('/', 1)[-1]} {kthread.pid}",
        f"vm -M {one.mm:x} -m {kthread.pid}",
        f"vm -P {middle.address:x} {two.pid} {one.pid}",
        f"vm -P {middle.address:x} 0",
        f"vm -v {kthread.pid}",
        f"vm -m {kthread.pid} {one.pid}",
        f"vm -p {kthread.pid}",
        f"vm -d {one.pid}",
        f"vm {one.task:x} zz {one.pid}",
        f"foreach {one.pid} vm -R {one.mm:x}",
        f"foreach {one.pid} vm -p",
        f"foreach {one.pid} {kthread.pid} vm -m -x",
        f"foreach {two.pid} vm -v",
        f"foreach {one.pid} {two.pid} vm -R {named.file.rsplit('/', 1)[-1]}",
        f"foreach {one.pid} vm -R {mapped[0]:x}",
        "foreach vm",
        "foreach kernel vm",
    ]
    if not name.startswith("scale"):  # the small dumps: every task's references too
        cmds += [f"foreach vm -R {named.file.rsplit('/', 1)[-1]}", "foreach vm -R 0"]
    return cmds + BAD_INPUT


@pytest.mark.parametrize("name", DUMPS)
def test_vm_matches_crash(name: str) -> None:
    paths = ensure([name])
    bad = crash_differences(paths["vmlinux"], paths[name], commands(name))
    assert not bad, describe(bad)


def test_vm_json_is_the_rows_of_the_text() -> None:
    """`vm --json` holds what the text shows: the summary, each area's line, with -p each page."""
    paths = ensure(["sysrq.elf"])
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    user = next(tc for tc in task_table(prog).contexts if tc.mm and not tc.is_kernel_thread)
    cmds = [f"vm -p {user.pid}", f"vm -p {user.pid} --json", "vm 0 --json", "vm -f 8100073 --json", "vm -m --json"]
    text, doc_text, kthreads, flags, refused = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], cmds)
    (task,) = json.loads(doc_text)["tasks"]
    assert task["pid"] == user.pid and task["mm"] == f"{user.mm:x}"
    assert f"{task['mm']}  {task['pgd']}  {task['rss_kb']}k" in text
    for vma in task["vmas"]:
        line = f"{vma['address']} {int(vma['start'], 16):>10x} {int(vma['end'], 16):>10x} {vma['flags']} "
        assert line + (vma["file"] or "") + "\n" in text
        assert vma["flag_names"] == vm_flag_names(prog, int(vma["flags"], 16))
        for page in vma["pages"]:
            if page["kind"] == "mapped":
                assert f"{page['vaddr']:<10}  {int(page['paddr'], 16):>8x}\n" in text
            elif page["kind"] == "file":
                assert f"{page['vaddr']:<10}  FILE: {page['file']}  OFFSET: {page['file_offset']}\n" in text
            else:
                assert f"{page['vaddr']:<10}  (not mapped)\n" in text
    swappers = json.loads(kthreads)["tasks"]
    assert swappers and all(t["pid"] == 0 and t["mm"] == "0" and t["vmas"] is None for t in swappers)
    assert json.loads(flags)["names"] == ["READ", "WRITE", "MAYREAD", "MAYWRITE", "MAYEXEC", "ACCOUNT", "CAN_NONLINEAR"]
    assert refused == "vm: -m is not supported with --json\n"


class _Kernel:
    """A stand-in Program for the helpers that only ask which symbols and members exist."""

    def __init__(self, symbols: set[str], members: set[tuple[str, str]]) -> None:
        self.symbols, self.members = symbols, members

    def has_symbol(self, name: str) -> bool:
        return name in self.symbols

    def has_member(self, struct: str, member: str) -> bool:
        return (struct, member) in self.members

    def cache(self, key: str, build: Any) -> Any:
        return build()


def test_vm_flag_names_follow_the_kernel() -> None:
    """Bits 0x200 and 0x1000000 have two names each; which one depends on the kernel, as in crash."""
    plain = _Kernel(set(), set())
    thp = _Kernel({"expand_upwards"}, {("mm_struct", "pmd_huge_pte")})
    assert vm_flag_names(plain, 0x1000200) == ["NOHUGEPAGE", "MAPPED_COPY"]  # type: ignore[arg-type]
    assert vm_flag_names(thp, 0x1000200) == ["GROWSUP", "HUGEPAGE"]  # type: ignore[arg-type]
    assert vm_flag_names(plain, 0) == []  # type: ignore[arg-type]


def test_swap_entries_and_page_lines() -> None:
    """A not-present entry's swap type and slot (inverted since the L1TF mitigation), and the lines
    vm -p writes for each kind of page."""
    from crashpy.commands.vm_text import page_line, summary_text
    from crashpy.helpers.mm import MmSummary, PageState
    from crashpy.helpers.swap import swp_type_offset as swap_entry

    l1tf = _Kernel({"l1tf_mitigation"}, set())
    old = _Kernel(set(), set())
    entry = ((~(1234 << 9)) & ((1 << 59) - 1) & ~0x1FF) | (2 << 59)  # type 2, offset 1234, inverted
    assert swap_entry(l1tf, entry) == (2, 1234)  # type: ignore[arg-type]
    assert swap_entry(old, (1234 << 14) | (3 << 9)) == (3, 1234)  # type: ignore[arg-type]
    swap = PageState(0x7FFD3F7F6000, "swap", swap_device="/dev/vda2", swap_offset=1234)
    assert page_line(None, swap) == "7ffd3f7f6000  SWAP: /dev/vda2  OFFSET: 1234\n"  # type: ignore[arg-type]
    assert page_line(None, PageState(0x400000, "not mapped")) == "400000      (not mapped)\n"  # type: ignore[arg-type]
    assert summary_text(MmSummary(0, 0, 0, 0)).splitlines()[1] == "       0                 0            0k       0k   "
