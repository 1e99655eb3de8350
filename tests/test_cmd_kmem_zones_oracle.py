"""kmem -v, -V, -n, -z, -o, -h and the vmalloc part of `kmem address`: crashpy against crash 8.0.6,
text for text, one crash session per dump.

The addresses come from each dump: a module's text (module area), the panic task's vmalloc'd stack,
the physical page behind that stack (kmem -v and -P), a direct-map address no area holds, and several
at once (one header).  `kmem address` itself is built by other parts of kmem: here only its vmalloc
part (the VMAP_AREA header, the area's line and a blank line) is compared with the same lines of
crash's answer.  scale.d31.zlib has two NUMA nodes and four CPUs; la57.elf five-level paging."""

from __future__ import annotations

import json
from functools import cache

import pytest

from crashpy.commands import kmem_zones
from crashpy.helpers.modules import module_symtab
from crashpy.helpers.tasks import task_table
from crashpy.object import Object
from crashpy.unwind.stacks import THREAD_SIZE
from tests.crashpy_runner import describe, program, run_crashpy
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]

WHOLE = ["kmem -v", "kmem -V", "kmem -n", "kmem -z", "kmem -o", "kmem -h"]

BAD_INPUT = [
    "kmem -n 1",
    "kmem -z 1",
    "kmem -o 1",
    "kmem -h 1",
    "kmem -V 1",
    "kmem -v -V",
    "kmem -o -h",
    "kmem -v -h",
    "kmem -v zz",
    "kmem -V -x",
    "kmem -n -z",  # both flags print: nodes, then zones
    "kmem -h -n",
]


@cache
def addresses(name: str) -> dict[str, int]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = task_table(prog)
    panic = table.active[table.panic_cpu]
    stack = int(Object(prog, "struct task_struct", panic).stack)
    out = {"stack": stack + 0x1238, "direct": panic, "stack_phys": prog.kvtop(stack + 0x2000) + 0x18}
    out["guard"] = stack + THREAD_SIZE + 0x10  # the unmapped guard page after the stack: in its area
    modules = module_symtab(prog).modules
    if modules:
        out["module"] = modules[0].base + 0x40
        out["module_last"] = modules[-1].base + modules[-1].size - 1
    return out


@cache
def commands(name: str) -> tuple[list[str], list[str]]:
    """(commands crashpy answers whole, `kmem address` commands compared by their vmalloc part)."""
    a = addresses(name)
    kv = [a["stack"], a.get("module", a["stack"]), a["direct"], a.get("module_last", a["stack"]), a["guard"]]
    whole = WHOLE + [f"kmem -v {v:x}" for v in kv] + ["kmem -v " + " ".join(f"{v:x}" for v in kv)]
    whole += [f"kmem -v {a['stack_phys']:x}", f"kmem -v -P {a['stack_phys']:x}"]
    search = [f"kmem {v:x}" for k, v in a.items() if k not in ("direct", "module_last")]
    return whole + BAD_INPUT, search


@cache
def crash_answers(name: str) -> dict[str, str]:
    paths = ensure([name])
    whole, search = commands(name)
    every = whole + search
    return dict(zip(every, run_crash(paths["vmlinux"], paths[name], every), strict=True))


@pytest.mark.parametrize("name", DUMPS)
def test_kmem_zones_match_crash(name: str) -> None:
    paths = ensure([name])
    whole, _ = commands(name)
    expected = crash_answers(name)
    got = run_crashpy(paths["vmlinux"], paths[name], whole)
    bad = [(c, expected[c], g) for c, g in zip(whole, got, strict=True) if expected[c] != g]
    assert not bad, describe(bad)
    n = got[whole.index("kmem -n")]
    assert "MEM_BLOCK" in n and "PMOE" in n
    if name.startswith("scale"):  # two nodes, four CPUs
        assert n.count("PGLIST_DATA") == 2 and "NODE: 1  ZONE: 1" in got[whole.index("kmem -z")]
        assert "CPU 3:" in got[whole.index("kmem -o")]


def vmalloc_part(text: str) -> str:
    """The VMAP_AREA header of crash's `kmem address` answer, the lines after it up to a blank one, and
    that blank line ("" when there is no header)."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("VMAP_AREA"):
            end = lines.index("\n", i)
            return "".join(lines[i : end + 1])
    return ""


@pytest.mark.parametrize("name", DUMPS)
def test_vmalloc_part_of_kmem_address(name: str) -> None:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    _, search = commands(name)
    expected = crash_answers(name)
    for cmd in search:
        value = int(cmd.split()[1], 16)
        if prog.is_kvaddr(value):
            hit = kmem_zones.vmalloc_search(prog, value)
            got = hit[0] if hit else ""
            if hit:
                assert hit[1] == prog.kvtop(value)
        else:
            phys = kmem_zones.phys_to_vmalloc(prog, value)
            got = phys[1] if phys else ""
            if phys:
                assert prog.kvtop(phys[0]) == value
        assert got == vmalloc_part(expected[cmd]), (cmd, expected[cmd], got)
        assert bool(got) == (value != addresses(name)["guard"]), (cmd, got)


def test_mkstring_and_the_headers() -> None:
    assert kmem_zones.mkstring("PMOE", 5, "c") == "PMOE "
    assert kmem_zones.mkstring("393216", 11, "cr") == "   393216  "
    assert kmem_zones.VMLIST_HEADER.split() == ["VMAP_AREA", "VM_STRUCT", "ADDRESS", "RANGE", "SIZE"]


def test_json_is_the_rows_of_the_text() -> None:
    """`kmem --json -v|-n|-z|-o|-h` hold what the text shows."""
    paths = ensure(["scale.d31.zlib"])
    cmds = ["kmem -v", "kmem -n", "kmem -z", "kmem -o", "kmem -h"]
    out = run_crashpy(
        paths["vmlinux"], paths["scale.d31.zlib"], cmds + [f"kmem --json {c[5:]}" for c in cmds]
    )
    text, docs = dict(zip(cmds, out[:5], strict=True)), [json.loads(d) for d in out[5:]]
    areas = docs[0]["vmap_areas"]
    assert len(areas) == len(text["kmem -v"].splitlines()) - 1
    assert all(
        f"{a['vmap_area']}  {a['vm_struct']}  {a['start']:>16} - {a['end']:<16}  {a['size']:7d}\n"
        in text["kmem -v"]
        for a in areas
    )
    nodes = docs[1]["nodes"]
    assert [n["node"] for n in nodes] == [0, 1]
    for s in docs[1]["sections"]:
        assert (
            f"  {s['section']}  {s['coded_mem_map']:>16}  {s['mem_map']:>16}  {s['state']:<5} {s['pfn']:<16}\n"
            in text["kmem -n"]
        )
    assert len(docs[1]["memory_blocks"]) == text["kmem -n"].count(" ONLINE ")
    for node in docs[2]["nodes"]:
        for z in node["zones"]:
            header = f'NODE: {node["node"]}  ZONE: {z["index"]}  ADDR: {z["address"]}  NAME: "{z["name"]}"\n'
            assert header in text["kmem -z"]
            if "vm_stat" in z:
                wm = z["watermarks"]
                assert f"MIN/LOW/HIGH: {wm['min']}/{wm['low']}/{wm['high']}\n" in text["kmem -z"]
                assert f"NR_FREE_PAGES: {z['vm_stat']['NR_FREE_PAGES']}\n" in text["kmem -z"]
    assert [f"CPU {c}: {o}" for c, o in enumerate(docs[3]["per_cpu_offsets"])] == [
        line.strip() for line in text["kmem -o"].splitlines()[1:]
    ]
    assert all(h["hstate"] in text["kmem -h"] and h["name"] in text["kmem -h"] for h in docs[4]["hstates"])


def test_a_truncated_dump_gives_one_line_each() -> None:
    """crash 8.0.6 does not start on sysrq.d31.zlib.trunc40; crashpy names the first missing read of
    each option in one line."""
    paths = ensure(["sysrq.d31.zlib.trunc40"])
    for out in run_crashpy(paths["vmlinux"], paths["sysrq.d31.zlib.trunc40"], WHOLE):
        assert out.startswith("kmem: ") and out.count("\n") <= 1 and "internal error" not in out, out


class _Kernel69:
    """A stand-in for a 6.9+ kernel's memory: two vmap_nodes whose busy lists hold areas out of order
    (struct vmap_area: va_start 0, va_end 8, list 40, vm 56; struct vmap_node: busy.head at 8)."""

    SIZES = {"vmap_area": 64, "vmap_node": 128}
    OFFSETS = {
        ("vmap_area", "va_start"): 0,
        ("vmap_area", "va_end"): 8,
        ("vmap_area", "list"): 40,
        ("vmap_area", "vm"): 56,
        ("vmap_node", "busy"): 0,
        ("rb_list", "head"): 8,
    }
    SYMBOLS = {"nr_vmap_nodes": 0x1000, "vmap_nodes": 0x1008}

    def __init__(self) -> None:
        import struct

        self.mem = bytearray(0x10000)
        self._cache: dict[str, object] = {}
        nodes = 0x2000
        struct.pack_into("<IxxxxQ", self.mem, 0x1000, 2, nodes)
        areas = {
            0: [(0x4000, 0x9000, 0x10000, 0xA1), (0x4100, 0x7000, 0x8000, 0)],
            1: [(0x4200, 0x3000, 0x5000, 0xA2)],
        }
        for n, entries in areas.items():
            head = nodes + n * 128 + 8
            links = [head] + [va + 40 for va, *_ in entries] + [head]
            for k, (va, start, end, vm) in enumerate(entries):
                struct.pack_into("<QQ", self.mem, va, start, end)
                struct.pack_into("<QQQ", self.mem, va + 40, links[k + 2], links[k], vm)
            struct.pack_into("<QQ", self.mem, head, links[1], links[-2])

    def has_symbol(self, name: str) -> bool:
        return name in self.SYMBOLS

    def symbol_address(self, name: str) -> int:
        return self.SYMBOLS[name]

    def has_member(self, struct_name: str, member: str) -> bool:
        return (struct_name, member) in self.OFFSETS

    def offsetof(self, struct_name: str, member: str) -> int:
        return self.OFFSETS[(struct_name, member)]

    def sizeof(self, name: str) -> int:
        return self.SIZES[name]

    def read(self, addr: int, size: int, what: str = "") -> bytes:
        return bytes(self.mem[addr : addr + size])

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def cache(self, key: str, factory: object) -> object:
        if key not in self._cache:
            self._cache[key] = factory()  # type: ignore[operator]
        return self._cache[key]


def test_vmap_nodes_of_later_kernels() -> None:
    """6.9+ keeps busy areas on per-node lists: all of them, sorted by start, those without a vm_struct
    left out but counted (the header)."""
    from crashpy.helpers.vmalloc import vmap_list

    areas, listed = vmap_list(_Kernel69())  # type: ignore[arg-type]
    assert [(a.vmap_area, a.vm_struct, a.start, a.size) for a in areas] == [
        (0x4200, 0xA2, 0x3000, 0x2000),
        (0x4000, 0xA1, 0x9000, 0x7000),
    ]
    assert listed == 3
