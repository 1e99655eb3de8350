"""Every region of the kernel's address space, read with rd: crashpy against crash 8.0.6, same file.

The addresses come from the dump's own layout (page_offset_base, vmalloc_base, vmemmap_base and the
image size, which KASLR and 5-level paging move), so each dump gets the same questions about its
own regions: the first and last bytes of each, the gaps between them, non-canonical addresses, the
top of the address space, a page makedumpfile left out (read as zeros from an ELF dump, as crash
reads it), and a vmalloc'd kernel stack.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from crashpy.arch.x86_64 import CPU_ENTRY_AREA, MODULES_END, START_KERNEL_MAP, VSYSCALL
from crashpy.errors import FaultError, FaultKind
from crashpy.helpers.tasks import task_table
from tests.crashpy_runner import crash_differences, describe, program
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "sysrq.d31.elf", "kaslr.elf", "la57.elf", "la57.d31.zlib"]


def _excluded_page(name: str) -> int | None:
    """A direct-map address of a page the dump left out, after a page it kept."""
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    kept = False
    for pfn in range(0x1000, 0x20000):
        try:
            prog.physical.read(pfn << 12, 8)
            kept = True
        except FaultError as e:
            if kept and e.kind is FaultKind.EXCLUDED:
                return prog.layout.page_offset + (pfn << 12)
            kept = False
    return None


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    lay = prog.layout
    table = task_table(prog)
    panic_task = table.active[table.panic_cpu]
    stack = prog.read_u64(panic_task + prog.offsetof("task_struct", "stack"))
    addresses = [
        lay.page_offset,
        lay.page_offset - 8,
        lay.vmalloc_start,
        lay.vmalloc_start - 8,
        lay.vmalloc_end - 7,
        lay.vmalloc_end + 1,
        lay.vmemmap_start,
        lay.vmemmap_start - 8,
        lay.vmemmap_end + 1,
        lay.modules_start,
        lay.modules_start - 8,
        MODULES_END - 8,
        MODULES_END,
        CPU_ENTRY_AREA[0],
        CPU_ENTRY_AREA[1] + 1,
        VSYSCALL[0],
        VSYSCALL[1],
        0xFFFFFFFFFF5FF000,  # the fixmap
        START_KERNEL_MAP,
        lay.kernel_image_end - 8,
        0xFFFFFFFFFFFFFFF8,
        0xFFFFFFFFFFFFFFFF,
        0x0000800000000000,  # non-canonical with 4 levels, a user address with 5
        0x00FF800000000000,
        0x0100000000000000,  # non-canonical with 5 levels too
        0x8000000000000000,
        0xFF00000000000000,
        stack,
        stack + 0x3FF8,
    ]
    cmds = [f"rd {a:x}" for a in addresses] + [f"rd -s {stack:x} 8", f"rd -p {(stack & 0xFFF):x} 2"]
    excluded = _excluded_page(name)
    if excluded is not None:
        cmds += [f"rd {excluded:x} 4", f"rd {excluded - 16:x} 6", f"rd -p {excluded - lay.page_offset:x} 2"]
    return cmds


@pytest.mark.parametrize("name", DUMPS)
def test_rd_on_every_region_matches_crash(name: str) -> None:
    paths = ensure([name])
    bad = crash_differences(paths["vmlinux"], paths[name], commands(name))
    assert not bad, describe(bad)


def test_layout_follows_the_kernel(paths: dict[str, Path]) -> None:
    """The regions are the kernel's own: with LA57 every base moves above the 4-level ones."""
    four = program(paths["vmlinux"], paths["kaslr.elf"]).layout
    five = program(paths["vmlinux"], ensure(["la57.elf"])["la57.elf"]).layout
    assert not four.five_level and five.five_level
    assert five.userspace_top == 1 << 56 and four.userspace_top == 1 << 47
    assert five.page_offset < 0xFF80000000000000 < four.page_offset
    assert five.vmalloc_start < four.page_offset
    assert five.canonical(0x00FF800000000000) and not four.canonical(0x00FF800000000000)
