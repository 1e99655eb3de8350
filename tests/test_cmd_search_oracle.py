"""search: crashpy against crash 8.0.6, text for text, one crash session per dump.

The values come from each dump: the address of init_task and of the panic task, words of the panic
task's stack (its pid as a 32- and 16-bit value), the kernel banner as a string.  The whole kernel
space (-k, the default) and every task's stack (-t) are searched on sysrq.d31.zlib and
scale.d31.zlib, all of physical memory (-p) on sysrq.d31.zlib, the vmalloc areas (-V) on
sysrq.d31.zlib and la57.elf (five levels of tables); every dump searches ranges: -K, -V, -s/-e/-l, -m,
-x, -w, -h, -c, several values, an expression, -u in the current context, and bad arguments with
crash's one-line errors.  (crash's start-up is most of its time here: five sessions.)

Named differences (crash 8.0.6 is wrong, crashpy does better):
- crash's kernel ranges overlap: its vmalloc range runs from vmalloc's start to the end of the last
  vmalloc area (the modules, above the kernel image), so a search starting in the kernel image (or the
  memmap) reads those pages twice, once in the vmalloc pass and once in their own, and prints every hit
  twice.  crashpy searches each address once: its lines are crash's with the repeats left out.
- sysrq.d31.zlib.trunc40 (cut short): crash 8.0.6 cannot open it at all; crashpy searches what the
  file still holds and says nothing of the rest, as crash does of pages missing from a dump.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from crashpy.helpers.tasks import task_table
from crashpy.object import Object
from tests.crashpy_runner import describe, program, run_crashpy
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]
WHOLE_SPACE = {"sysrq.d31.zlib", "scale.d31.zlib"}

BAD_INPUT = [
    "search",
    "search -k",
    "search -x 2 -c abc",
    "search -x 1000 abc",
    "search -x 300 -w -c abc",
    "search -t -k abc",
    "search -t -T abc",
    "search -T -s ffff888000000000 abc",
    "search -w 123456789",
    "search -h 12345",
    "search -s zzz abc",
    "search -e 0 abc",
    "search -s 1000 abc",
    "search -l 8 -e ffff888000001000 abc",
    "search -l zz abc",
    "search -m zz 1",
    "search -x zz 1",
    "search -s ffff888000001000 -l 0x10 nosuchsym",
    "search -s ffff888000001000 -e ffff888000000800 abc",
    "search -p -e 1000 -s 2000 0",
    "search -u -s ffff888000001000 1",
    "search -z 1",
    "search -v 1 2",
]


@cache
def _facts(name: str) -> dict[str, int]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = task_table(prog)
    panic = table.active[table.panic_cpu]
    tc = table.by_task[panic]
    stack = int(Object(prog, "struct task_struct", panic).stack)
    banner = prog.symbol_address("linux_banner")
    return {
        "panic": panic,
        "pid": tc.pid,
        "stack": stack,
        "banner": banner,
        "banner_direct": prog.layout.page_offset + prog.kernel.to_phys(banner),
        "panic_phys": prog.kernel.to_phys(panic),
        "stack_phys": prog.kernel.to_phys(stack + 0x3000),
        "page_offset": prog.layout.page_offset,
        "vmalloc": prog.layout.vmalloc_start,
        "user": int(bool(tc.mm)) and int(not tc.is_kernel_thread),
    }


@cache
def commands(name: str) -> tuple[list[str], list[str]]:
    """(commands compared text for text, commands where crash repeats the kernel image's hits)."""
    f = _facts(name)
    panic, stack, pid = f["panic"], f["stack"], f["pid"]
    cmds = []
    if name in WHOLE_SPACE:
        cmds += ["search init_task", "search -t init_task", f"search -T {panic:x}"]
        if name == "sysrq.d31.zlib":
            cmds += ["search -p init_task", f"search -V {panic:x}"]
            cmds.append(f"search -K -s {f['page_offset'] + 0x1000000:x} -l 0x4000000 init_task")
    if name == "la57.elf":  # the vmalloc areas through five levels of tables
        cmds += [f"search -V {panic:x}", f"search -T {panic:x}"]
    cmds += [
        f"search -s {stack:x} -l 0x4000 {panic:x}",
        f"search -s {stack:x} -e {stack + 0x4000:x} -x 2 {panic:x}",
        f"search -s {stack + 4:x} -l 0x4000 -w -x 2 {pid:x}",
        f"search -s {stack:x} -l 0x4000 -h -x 1 {pid & 0xFFFF:x}",
        f"search -s {stack:x} -l 0x10 -x 2 57ac6e9d",  # the stack's end magic: a guard page before it
        f"search -s {stack:x} -l 0x10 -w -x 3 57ac6e9d",
        f"search -s {stack:x} -l 0x4000 -m ffff {panic:x}",
        f"search -s {stack:x} -l 0x4000 -w -m ff00 {pid:x}",
        f"search -s {stack:x} -l 0x4000 {panic:x} init_task ({panic:x}+0x10) {stack + 0x3F00:x}",
        f"search -k -s {stack:x} -l 0x3ff9 init_task",
        f"search -V -s {f['vmalloc']:x} -l 0x100000 init_task",
        f"search -K -s {panic & ~0xFFF:x} -l 0x10000 {panic:x}",
        f'search -c -s {f["banner_direct"]:x} -l 0x200 "Linux version" SMP Debian',
        f"search -c -s {f['banner_direct'] + 0x10:x} -l 0x1000 -w 6.1",
        # strings across the end of the banner's page: found when the next page is searched
        f"search -c -s {f['banner_direct']:x} -l 0x100 cloud-amd64 amd64 Linux",
        f"search -c -s {f['banner_direct']:x} -l 0x21 cloud-amd64",
        f"search -p -s {f['panic_phys'] & ~0xFFF:x} -l 0x10000 -x 2 {panic:x}",
        f"search -p -s {f['stack_phys']:x} -l 0x1000 -c swapper",
        f"search -p -s {f['stack_phys'] + 3:x} -l 0x1000 -w {pid:x}",
    ]
    if f["user"]:
        cmds += ["search -u -c HOME=", f"search -u -l 0x100000 -w {pid:x}"]
    else:
        cmds.append("search -u 1")
    image = [
        'search -c -s linux_banner -l 0x200 "Linux version"',
        "search -s init_stack -l 0x4000 init_task",
    ]
    return cmds + BAD_INPUT, image


@cache
def _outputs(name: str) -> tuple[list[str], list[str], list[str]]:
    paths = ensure([name])
    same, image = commands(name)
    cmds = same + image
    return (
        cmds,
        run_crash(paths["vmlinux"], paths[name], cmds),
        run_crashpy(paths["vmlinux"], paths[name], cmds),
    )


@pytest.mark.parametrize("name", DUMPS)
def test_search_matches_crash(name: str) -> None:
    cmds, expected, got = _outputs(name)
    n = len(commands(name)[0])
    bad = [(c, e, g) for c, e, g in zip(cmds[:n], expected[:n], got[:n], strict=True) if e != g]
    assert not bad, describe(bad)


def _once(text: str) -> str:
    seen: set[str] = set()
    out = []
    for line in text.splitlines(keepends=True):
        if line not in seen:
            seen.add(line)
            out.append(line)
    return "".join(out)


@pytest.mark.parametrize("name", ["sysrq.elf", "scale.d31.zlib"])
def test_kernel_image_searched_once(name: str) -> None:
    """Named difference: crash prints a kernel-image hit twice (its vmalloc range overlaps the image);
    crashpy prints crash's lines once each, in crash's order."""
    cmds, expected, got = _outputs(name)
    n = len(commands(name)[0])
    for c, e, g in zip(cmds[n:], expected[n:], got[n:], strict=True):
        assert g == _once(e), describe([(c, e, g)])
        assert g.strip(), c


def test_search_on_a_cut_dump_finishes() -> None:
    """Named difference: crash 8.0.6 cannot open sysrq.d31.zlib.trunc40; crashpy searches what is left
    (the pages cut off pass without a word, as crash passes over pages a dump lacks)."""
    name = "sysrq.d31.zlib.trunc40"
    paths = ensure([name, "sysrq.d31.zlib"])
    cut, phys, string = run_crashpy(
        paths["vmlinux"], paths[name], ["search init_task", "search -p -w 1", "search -c Linux version"]
    )
    assert "Traceback" not in cut + phys + string
    full, full_string = run_crashpy(
        paths["vmlinux"], paths["sysrq.d31.zlib"], ["search init_task", "search -c Linux version"]
    )
    assert set(cut.splitlines()) <= set(full.splitlines())
    cut_lines = string.splitlines()
    assert (
        cut_lines
        and set(cut_lines) <= set(full_string.splitlines())
        and len(cut_lines) < len(full_string.splitlines())
    )
    assert phys and all(line.endswith(": 1 ") for line in phys.splitlines())


def test_search_json_is_the_rows_of_the_text() -> None:
    paths = ensure(["sysrq.elf"])
    f = _facts("sysrq.elf")
    cmd = f"search -s {f['stack']:x} -l 0x4000 {f['panic']:x} init_task"
    text, doc_text = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [cmd, cmd + " --json"])
    doc = json.loads(doc_text)
    assert doc["command"] == "search" and doc["space"] == "kernel" and doc["width"] == 8
    lines = [f"{h['address']}: {h['value']} " + (f"({h['name']})" if h["name"] else "") for h in doc["hits"]]
    assert "".join(line + "\n" for line in lines) == text
    cmd = "search -t -w 1"
    text, doc_text = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [cmd, cmd + " --json"])
    hits = json.loads(doc_text)["hits"]
    assert hits and all(h["task"]["task"] in text for h in hits)
    assert len(hits) == sum(1 for line in text.splitlines() if line.endswith(": 1 "))


def test_modules_outside_the_vmap_areas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the modules lie outside every vmap area (crash's separate KVADDR_MODULES range), their
    pages are still searched: the same module hits as when the areas hold them."""
    from crashpy.helpers import vmalloc
    from crashpy.helpers.modules import module_symtab

    paths = ensure(["sysrq.elf"])
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    base = module_symtab(prog).modules[0].base
    cmd = f"search -V {base:x}"
    real = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [cmd])[0]
    in_modules = [line for line in real.splitlines() if int(line.split(":")[0], 16) >= base]
    assert in_modules
    areas = vmalloc.area_ranges

    def without_modules(p):  # type: ignore[no-untyped-def]
        return [(a, b) for a, b in areas(p) if a < prog.layout.modules_start]

    monkeypatch.setattr(vmalloc, "area_ranges", without_modules)
    from crashpy.commands.search import kernel_ranges

    assert "modules" in [kind for _, _, kind in kernel_ranges(prog)]
    patched = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [cmd])[0]
    assert [line for line in patched.splitlines() if int(line.split(":")[0], 16) >= base] == in_modules
