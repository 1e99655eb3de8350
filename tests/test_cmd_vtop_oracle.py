"""vtop, pte, ptov, btop and ptob: crashpy against crash 8.0.6, text for text, one crash session per dump.

The addresses come from each dump: a task_struct in the direct map, the panic task's vmalloc'd stack,
kernel text (2 MB pages), a module's first page, vmalloc and other addresses nothing maps, addresses of
a user task's memory areas (mapped pages, pages of a file not read in yet, anonymous pages never
touched) with -c pid, every page of that task's areas, a kernel thread with -c, and bad input.  sysrq.d31.zlib leaves pages out,
la57.elf walks five levels (its P4D line).  pte is also checked without a dump.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING

import pytest

from crashpy.commands.vtop import VtopRow, mkstring, pte_flag_names, pte_text, row_text
from crashpy.helpers.modules import module_symtab
from crashpy.helpers.tasks import task_table
from crashpy.helpers.vma import vma_addresses
from crashpy.object import Object
from tests.crashpy_runner import crash_differences, describe, program, run_crashpy
from tests.test_address_space_oracle import _excluded_page
from tools.vmcores import ensure

if TYPE_CHECKING:
    from crashpy.program import Program

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]

BAD_INPUT = [
    "vtop",
    "vtop -x 1",
    "vtop zz",
    "vtop -u -k 400000",
    "vtop -c 99999 400000",
    "vtop -c zz 400000",
    "vtop -k 400000",
    "vtop 8000000000000000",
    "pte zz",
    "pte -x",
    "ptov",
    "ptov zz",
    "ptov 100:9",
    "btop",
    "btop zz",
    "ptob",
    "ptob zz",
    "vtop -c",
    "vtop -c 1",
    "vtop -c 0 400000",
    "vtop 0x400000",
    "vtop ffffffffffffffff",
    "vtop 7fffffffffff",
    "vtop (400000)",
    "pte 0x63",
    "pte 1 zz 2",
    "ptov 0x1000",
    "ptov 1000 zz",
    "ptov 100:a 200:1",
    "ptov 100:1-5",
    "ptov 100:x",
    "ptov ffffffffffffffff",
    "btop 0x1000 1000",
    "btop -1",
    "ptob 0x10",
    "ptob -1",
]


PAGES_PER_COMMAND = 60  # crash takes at most MAXARGS (100) words a command line
PAGE_SWEEP_LIMIT = 1200


def _every_page(prog: Program, mm: int) -> list[list[int]]:
    """Every page of every memory area of `mm` (mapped, never touched, file pages not read in), up to
    PAGE_SWEEP_LIMIT pages, in command-sized chunks."""
    pages: list[int] = []
    for vma in vma_addresses(prog, mm):
        obj = Object(prog, "struct vm_area_struct", vma)
        pages += range(int(obj.vm_start), int(obj.vm_end), 0x1000)
    pages = pages[:PAGE_SWEEP_LIMIT]
    return [pages[i : i + PAGES_PER_COMMAND] for i in range(0, len(pages), PAGES_PER_COMMAND)]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    lay = prog.layout
    table = task_table(prog)
    panic = table.active[table.panic_cpu]
    stack = int(Object(prog, "struct task_struct", panic).stack)
    user = next(tc for tc in table.contexts if tc.mm and not tc.is_kernel_thread)
    kthread = next(tc for tc in table.contexts if tc.is_kernel_thread and tc.pid > 0)
    text = prog.symbol_address("_text")
    schedule = prog.symbol_address("schedule")
    kernel = [panic, panic + 0x123, stack, stack + 0x3FF8, text, schedule, lay.vmalloc_end - 0xFFF]
    kernel += [lay.vmalloc_start + 0x7FF000, lay.modules_start, lay.vmemmap_start, 0xFFFFFFFFFF600000]
    kernel.append(0xFFFFFFFF81000000)  # _text unrelocated: with KASLR a "physical" address past every section
    modules = module_symtab(prog).modules
    if modules:
        kernel += [modules[0].base, modules[-1].base + 0x10]
    excluded = _excluded_page(name)  # a page makedumpfile left out: its walk and struct page remain
    if excluded is not None:
        kernel.append(excluded + 0x10)
    cmds = [f"vtop {a:x}" for a in kernel]
    cmds.append("vtop " + " ".join(f"{a:x}" for a in kernel[:3]))
    cmds.append(f"vtop -k {stack:x}")
    user_addrs: list[int] = [0x1000]
    for vma in vma_addresses(prog, user.mm):
        obj = Object(prog, "struct vm_area_struct", vma)
        start, end = int(obj.vm_start), int(obj.vm_end)
        user_addrs += [start, end - 0x1000, start + (end - start) // 2 + 0x10]
    cmds += [f"vtop -c {user.pid} {a:x}" for a in user_addrs]
    cmds += [f"vtop -c {user.pid} " + " ".join(f"{a:x}" for a in chunk) for chunk in _every_page(prog, user.mm)]
    cmds.append(f"vtop -c {user.task:x} -u {user_addrs[1]:x} {panic:x}")
    cmds.append(f"vtop -c {user.pid} {panic:x}")
    cmds += [f"vtop -c {kthread.pid} {user_addrs[1]:x}", f"vtop -c {kthread.pid} {panic:x}"]
    cmds += [f"vtop -u {user_addrs[1]:x}", f"vtop -u {panic:x}", f"vtop {user_addrs[1]:x}"]
    # foreach vtop: no blank line between addresses, the page header once per run, an error ends it
    # (last: after that error crash 8.0.6 may crash on a later pte of a swap entry)
    foreach = [
        f"foreach {user.pid} {kthread.pid} vtop {user_addrs[1]:x} {panic:x}",
        f"foreach {user.pid} vtop -u {panic:x} {user_addrs[2]:x}",
    ]
    if not name.startswith("scale"):  # a run over every task: the small dumps' 60 are enough
        foreach.append(f"foreach vtop {user_addrs[1]:x}")
    foreach.append(f"foreach {user.pid} {kthread.pid} vtop {user_addrs[1]:x} zz")
    phys = prog.kernel.translate(panic).paddr or 0
    cmds += [f"ptov {phys:x}", f"ptov {phys:x} 1000 0", "ptov 100:a", "ptov 100:", "ptov 100:0", "ptov 2f0:0-1"]
    cmds += [f"btop {phys:x} fff 0", "ptob 10 1f 0", f"pte {prog.kernel.translate(stack).entries[-1].value:x}"]
    cmds += ["pte 0 1 8000000000000067 163 101 e3", "pte 58bc00"]
    return cmds + BAD_INPUT + foreach


@pytest.mark.parametrize("name", DUMPS)
def test_vtop_matches_crash(name: str) -> None:
    paths = ensure([name])
    bad = crash_differences(paths["vmlinux"], paths[name], commands(name))
    assert not bad, describe(bad)


def test_vtop_json_is_the_rows_of_the_text() -> None:
    """`vtop --json` holds what the text shows: the walk's entries, the page, the PTE's flags."""
    paths = ensure(["sysrq.elf"])
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    table = task_table(prog)
    panic = table.active[table.panic_cpu]
    text, doc_text = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [f"vtop {panic:x}", f"vtop {panic:x} --json"])
    doc = json.loads(doc_text)
    (row,) = doc["translations"]
    assert row["vaddr"] == f"{panic:x}" and row["status"] == "mapped"
    assert f"{row['vaddr']}  {row['paddr']}" in text
    for entry in row["entries"][1:]:
        assert f"   {entry['level']}: {entry['address']} => {entry['value']}\n" in text
    assert f"PAGE DIRECTORY: {row['entries'][0]['value']}\n" in text
    # the direct map's page size depends on the boot (a 2 MB page split into 4 KB ones)
    size = row["page"]["size"]
    suffix = {2 << 20: "  (2MB)", 1 << 30: "  (1GB)"}.get(size, "")
    assert size in (4096, 2 << 20, 1 << 30)
    assert f"  PAGE: {row['page']['base']}{suffix}\n" in text
    assert "(" + "|".join(row["pte"]["flags"]) + ")" in text
    page = row["struct_page"]
    # the page line's columns (the mapping is right-justified and the flag names may be none)
    (line,) = [line for line in text.splitlines() if line.startswith(page["address"])]
    words = line.split()
    assert words[:3] == [page["address"], page["physical"], page["mapping"]]
    assert words[5:] == [page["flags"], *([",".join(page["flag_names"])] if page["flag_names"] else [])]


def test_vtop_json_of_a_user_address() -> None:
    """A user address's document names its memory area and the file it maps, as the text does."""
    paths = ensure(["sysrq.elf"])
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    user = next(tc for tc in task_table(prog).contexts if tc.mm and not tc.is_kernel_thread)
    start = int(Object(prog, "struct vm_area_struct", vma_addresses(prog, user.mm)[0]).vm_start)
    cmd = f"vtop -c {user.pid} {start:x} 1000"
    text, doc_text = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [cmd, cmd + " --json"])
    mapped, missing = json.loads(doc_text)["translations"]
    vma = mapped["vma"]
    assert mapped["space"] == "user" and [e["level"] for e in mapped["entries"]] == ["PGD", "PUD", "PMD", "PTE"]
    assert f"{vma['address']} {int(vma['start'], 16):>10x} {int(vma['end'], 16):>10x} {vma['flags']} {vma['file']}\n" in text
    assert missing["status"] == "not accessible" and missing["vma"] is None and missing["entries"] == []


def test_pte_decoding_without_a_dump() -> None:
    assert pte_text(0x8000000003DF8063) == (
        "      PTE         PHYSICAL  FLAGS\n8000000003df8063   3df8000  (PRESENT|RW|ACCESSED|DIRTY|NX)\n"
    )
    assert pte_text(0) == "PTE  PHYSICAL  FLAGS\n 0       0     (no mapping)\n"
    assert pte_text(0x10001E1) == "  PTE    PHYSICAL  FLAGS\n10001e1   1000000  (PRESENT|ACCESSED|DIRTY|PSE|GLOBAL)\n"
    # PSE counts only in a present entry; bit 8 is PROTNONE in a not-present one (and still "present")
    assert pte_flag_names(0x80 | 0x100) == ["PROTNONE", "GLOBAL"]
    assert pte_flag_names(0x1 | 0x80 | 0x100) == ["PRESENT", "PSE", "GLOBAL"]
    assert mkstring("PTE", 7, "cl") == "  PTE  " and mkstring("0", 8, "cr") == "    0   "


def test_a_row_without_a_dump() -> None:
    row = VtopRow(0x400000, "user", "not accessible")
    assert row_text(None, row) == "VIRTUAL     PHYSICAL        \n400000      (not accessible)\n\n"  # type: ignore[arg-type]


def test_a_prot_none_page_is_mapped_in_a_user_walk() -> None:
    """crash's uvtop takes a PMD or PTE with _PAGE_PROTNONE (not present) as mapped; its kvtop does not."""
    from crashpy.arch.x86_64 import LEVELS_4, PTE_PRESENT, PTE_PROTNONE
    from crashpy.memory.pagetable import walk

    vaddr = 0x400123
    tables = {
        0x1000 + ((vaddr >> 39) & 0x1FF) * 8: 0x2067,
        0x2000 + ((vaddr >> 30) & 0x1FF) * 8: 0x3067,
        0x3000 + ((vaddr >> 21) & 0x1FF) * 8: 0x4067,
        0x4000 + ((vaddr >> 12) & 0x1FF) * 8: 0x5000 | PTE_PROTNONE | 0x4,
    }

    def read(addr: int, size: int) -> bytes:
        return tables.get(addr, 0).to_bytes(8, "little")[:size]

    user = walk(read, 0x1000, vaddr, LEVELS_4, PTE_PRESENT | PTE_PROTNONE)
    assert user.paddr == 0x5123 and [e.level.name for e in user.entries] == ["PGD", "PUD", "PMD", "PTE"]
    assert walk(read, 0x1000, vaddr, LEVELS_4).paddr is None
    # one bit, two names: crash prints both
    assert pte_text(user.entries[-1].value).endswith("(USER|PROTNONE|GLOBAL)\n")
