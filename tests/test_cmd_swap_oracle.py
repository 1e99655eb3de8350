"""Swap in use (swap.elf: 256 MB of RAM, a 512 MB swap disk, a process holding 320 MB): swap, kmem -i,
vm -p of that process (every page, tens of thousands swapped out), vtop and pte of swapped-out
pages, crashpy against crash 8.0.6 in one crash session.

The addresses come from the dump: the "hog" process's largest anonymous area, its first pages that
are swapped out (a not-present entry that is not zero), present, and never touched; a swapped-out
page of another task; pte of swap entries, of an entry whose swap type no device has, and of one
with the PROTNONE bit (its physical column cut to the kernel's 46 physical-address bits).
"""

from __future__ import annotations

from functools import cache

from crashpy.helpers.swap import swap_devices, swap_location, swp_type_offset
from crashpy.helpers.tasks import task_table
from crashpy.helpers.vma import vma_addresses
from crashpy.object import Object
from crashpy.program import Program
from tests.crashpy_runner import crash_differences, describe, program
from tools.vmcores import ensure

DUMP = "swap.elf"


def _pte(prog: Program, pgd: int, vaddr: int) -> int | None:
    """The last entry of the walk of `vaddr`, when the walk reaches the PTE level."""
    walk = prog.user_memory(pgd).translate(vaddr)
    if not walk.entries or walk.entries[-1].level.name != "PTE":
        return None
    return walk.entries[-1].value


@cache
def picked() -> tuple[list[str], dict[str, int]]:
    """The commands to compare, and what the test expects to see among them."""
    paths = ensure([DUMP])
    prog = program(paths["vmlinux"], paths[DUMP])
    table = task_table(prog)
    hog = next(tc for tc in table.contexts if tc.comm == "hog")
    commands = ["swap", "kmem -i", "swap -x", f"vm -p {hog.pid}", f"vm {hog.pid}", "foreach vm"]
    counts = {"swapped": 0, "present": 0}
    seen_tasks = 0
    for tc in [hog, *(tc for tc in table.contexts if tc is not hog)]:
        if not tc.mm or (tc.tgid != tc.pid) or seen_tasks >= 4:
            continue
        pgd = int(Object(prog, "struct mm_struct", tc.mm).pgd)
        areas = [Object(prog, "struct vm_area_struct", a) for a in vma_addresses(prog, tc.mm)]
        if tc is hog:
            areas.sort(key=lambda v: int(v.vm_end) - int(v.vm_start), reverse=True)
        want = {"swapped": 3 if tc is hog else 1, "present": 2 if tc is hog else 0, "none": 1 if tc is hog else 0}
        for area in areas:
            for vaddr in range(int(area.vm_start), int(area.vm_end), 4096):
                if not any(want.values()):
                    break
                pte = _pte(prog, pgd, vaddr)
                kind = "none" if not pte else "present" if pte & 0x101 else "swapped"
                if want.get(kind):
                    want[kind] -= 1
                    counts[kind] = counts.get(kind, 0) + 1
                    commands.append(f"vtop -c {tc.pid} {vaddr + 0x123:x}")
                    if kind == "swapped" and pte is not None:
                        commands.append(f"pte {pte:x}")
        seen_tasks += 1
    # A swap entry of type 3 (no device there), and an entry with the PROTNONE bit set.
    commands += ["pte 1fffffffffff3402", "pte fffffffffff9b3fe", "pte 0"]
    return commands, counts


def test_swap_dump_has_swap_in_use() -> None:
    paths = ensure([DUMP])
    prog = program(paths["vmlinux"], paths[DUMP])
    devices = swap_devices(prog)
    assert len(devices) == 1 and devices[0].inuse_pages > 0
    _, counts = picked()
    assert counts["swapped"] >= 3 and counts["present"] >= 2, counts
    # type 0 is the one device; its name is its path under /dev
    location = swap_location(prog, 0x7FFFFFFFFFF240A)
    assert location is not None and location.startswith("/dev/") and location.endswith("OFFSET: 109")
    assert swp_type_offset(prog, 0x7FFFFFFFFFF240A) == (0, 109)


def test_swap_vtop_pte_match_crash() -> None:
    paths = ensure([DUMP])
    commands, _ = picked()
    bad = crash_differences(paths["vmlinux"], paths[DUMP], commands)
    assert not bad, describe(bad)
