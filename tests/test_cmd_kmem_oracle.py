"""kmem -i, mach (-m, -c, -x, -d) and swap on the test dumps: crashpy against crash 8.0.6, one crash
session per dump; bad options get crash's one-line errors. kmem's other options are compared in
test_cmd_kmem_slab_oracle.py (SLUB), test_cmd_kmem_zones_oracle.py (-v -V -n -z -o -h),
test_cmd_kmem_pages_oracle.py (-p -m -g -f -F -c -C -l -L); `kmem <address>` is compared here
(search_commands)."""

from __future__ import annotations

import json
from functools import cache

import pytest

from crashpy.helpers.modules import module_symtab
from crashpy.helpers.tasks import task_table
from crashpy.object import Object
from tests.crashpy_runner import both_outputs, describe, program, run_crashpy
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]

COMMANDS = [
    "kmem -i",
    "kmem",
    "kmem -x",
    "kmem -i -x",
    "kmem -i 1",
    "kmem -V 1",
    "kmem -i -s",
    "kmem -i -i",
    "kmem -i foo",
    "kmem foo bar",
    "kmem -P",
    "kmem -i -P",
    "kmem -I foo -i",
    "kmem -i -m flags",
    "kmem -c -C -i",
    "mach",
    "mach 1",
    "mach -x",
    "mach -m",
    "mach -c",
    "mach -c -x",
    "mach -c -d",
    "mach -m -c",
    "mach -x -d",
    "mach -o",
    "mach -z",
    "swap",
    "swap 1",
    "swap -x",
]



@cache
def search_commands(name: str) -> list[str]:
    """`kmem <address>` of the kinds of address crash's kmem_search tells apart, from the dump: a
    task_struct (a slab object, and inside one), the panic task's vmalloc'd stack, kernel text and
    data, init_task, a module's text and its struct module (a vmalloc area), physical addresses (one
    in the direct map with and without -P, one beyond memory), an unmapped vmalloc address, the
    direct map's first byte, and two addresses at once."""
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = task_table(prog)
    panic = table.active[table.panic_cpu]
    stack = int(Object(prog, "struct task_struct", panic).stack)
    offset = prog.layout.page_offset
    sym = prog.symbol_address
    module = module_symtab(prog).modules[0]
    return [
        f"kmem {panic:x}",
        f"kmem {panic + 0x100:x}",
        f"kmem {table.contexts[-1].task:x}",
        f"kmem {stack + 0x100:x}",
        f"kmem {sym('schedule') + 5:x}",
        f"kmem {sym('linux_banner'):x}",
        f"kmem {sym('init_task'):x}",
        f"kmem {module.base + 0x10:x}",
        f"kmem {module.struct_addr:x}",
        f"kmem -P {panic - offset:x}",
        f"kmem {panic - offset:x}",
        "kmem 100000000000",
        f"kmem {prog.layout.vmalloc_start + 0x1000:x}",
        f"kmem {offset:x}",
        f"kmem {panic:x} {sym('jiffies'):x}",
    ]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, COMMANDS + search_commands(name))


@pytest.mark.parametrize("name", DUMPS)
def test_kmem_mach_swap_match_crash(name: str) -> None:
    expected, got = outputs(name)
    differ = [c for c, e, g in zip(COMMANDS, expected, got, strict=False) if e != g]
    assert differ == [], differ


@pytest.mark.parametrize("name", DUMPS)
def test_kmem_address_search_matches_crash(name: str) -> None:
    """What `kmem <address>` says of each kind of address, against crash."""
    commands = COMMANDS + search_commands(name)
    expected, got = outputs(name)
    bad = [(c, e, g) for c, e, g in zip(commands, expected, got, strict=True) if c not in COMMANDS and e != g]
    assert not bad, describe(bad)
    searched = dict(zip(commands, got, strict=True))
    assert "(T) schedule+5 " in searched[commands[len(COMMANDS) + 4]]
    assert "VMAP_AREA" in searched[commands[len(COMMANDS) + 7]]
    assert "  STATE: " in searched[commands[len(COMMANDS)]]
    assert "TOTAL MEM" in got[0] and "COMMIT LIMIT" in got[0]
    assert "IRQ STACKS:" in got[COMMANDS.index("mach")]
    # scale.d31.zlib: a page of the e820 table is excluded; crash and crashpy both say so
    memmap = got[COMMANDS.index("mach -m")]
    assert "E820_RAM" in memmap or memmap.startswith("mach: page excluded: ")


def test_kmem_json_comes_from_the_same_rows() -> None:
    paths = ensure(["sysrq.elf"])
    text, doc = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], ["kmem -i", "kmem --json -i"])
    rows = json.loads(doc)["rows"]
    names = [line[:13].strip() for line in text.splitlines()[1:] if line.strip()]
    assert [r["name"] for r in rows] == names
    for row, line in zip(rows, [line for line in text.splitlines()[1:] if line.strip()], strict=True):
        assert int(line[15:22]) == row["pages"]
        assert row["bytes"] == row["pages"] * 4096


def test_kmem_formatting_without_a_dump() -> None:
    """crash's pages_to_size and the table's lines from a MemInfo alone."""
    from crashpy.commands.kmem import meminfo_groups, pages_to_size
    from crashpy.helpers.meminfo import MemInfo

    assert [pages_to_size(n, 4096) for n in (0, 1, 256, 7674, 262144, 765408)] == [
        "0",
        "4 KB",
        "1 MB",
        "30 MB",
        "1 GB",
        "2.9 GB",
    ]
    info = MemInfo(
        total=1000, free=250, shared=0, buffers=0, cached=0, cached_raw=-3, slab=10, huge_total=None,
        huge_free=None, swap_total=None, swap_used=None, commit_limit=0, committed=5, page_size=4096,
    )  # fmt: skip
    groups = meminfo_groups(info)
    names = "TOTAL MEM,FREE,USED,SHARED,BUFFERS,CACHED,SLAB".split(",")
    assert [row.name for row in groups[0]] == names
    assert groups[0][2].text(4096) == "         USED      750       2.9 MB   75% of TOTAL MEM"
    assert groups[1] == []  # no swapper_spaces: crash's blank line alone
    assert groups[2][1].text(4096) == "    COMMITTED        5        20 KB         ----"  # a limit of 0


def test_shared_page_count_matches_a_plain_loop() -> None:
    """helpers.meminfo.count_shared (byte lanes of big integers) against a loop over the page structs."""
    import random
    import struct

    from crashpy.helpers.meminfo import count_shared

    rng = random.Random(1)
    counts = [0, 1, 2, -1, -128, 255, 256, 65536, 1 << 24, -(1 << 31), (1 << 31) - 1]
    for _ in range(100):
        data = bytearray()
        expected = 0
        for _ in range(rng.randint(1, 300)):
            flags = rng.choice([0, 1 << 10, rng.getrandbits(64)])
            count = rng.choice([*counts, rng.randint(-(1 << 31), (1 << 31) - 1)])
            data += struct.pack("<Q44xi8x", flags, count)  # flags at 0, _refcount at 52, 64 bytes
            expected += count > 1 and not flags & (1 << 10)
        assert count_shared(bytes(data), 64, 52, 1, 1 << 2) == expected
