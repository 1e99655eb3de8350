"""kmem's SLUB options (-s, -S, -S=cpu, -I, -r, `-s list`, `-s <address>`, the slab part of
`kmem <address>`) against crash 8.0.6, one crash session per dump.

The caches and addresses come from the dump itself: crashpy's own `kmem -s` picks the caches with the
fewest slabs (and kmalloc-64, a busy one), and its `kmem -S` of them picks objects in use, free
objects, a CPU's free object and a slab struct; crash then answers every command in one session.
kmem -S of every cache is compared by hand only (its output is large on the scale dump).

Named difference: `kmem <address>` goes on, after the slab part, with the address's page in the
memory map (crash's kmem -p line), which crashpy does not build yet: only the part up to the first
blank line is compared, and crashpy says in one line that the rest is not available.
"""

from __future__ import annotations

import json
import re
from functools import cache

import pytest

from tests.crashpy_runner import program, run_crashpy
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]

FIXED = [
    "kmem -s",
    "kmem -s list",
    "kmem -r",
    "kmem -s nosuchcache",
    "kmem -S nosuchcache",
    "kmem -s 0",
    "kmem -s ffffffffff000000",
    "kmem -S=x kmalloc-64",
    "kmem -S1 kmalloc-64",
    "kmem -S=99 kmalloc-64",
    "kmem -S=0 -S=1 kmalloc-64",
    "kmem -s kmalloc-64 kmem_cache",
    "kmem -s -I kmalloc-64,kmem_cache",
    "kmem -I kmalloc-64 -S kmalloc-64",
    "kmem -s -S kmem_cache",
    "kmem -S=0 kmalloc-64",
    "kmem -S kmalloc-64",
]

ROW = re.compile(r"^([0-9a-f]{16}) +(\d+) +(\d+) +(\d+) +(\d+) +(\d+)k  (.*)$")
OBJECT = re.compile(r"^  (\[| )([0-9a-f]{16})(\]|  )(\(cpu \d+ cache\))?$")
SLAB = re.compile(r"^  ([0-9a-f]{16})  ([0-9a-f]{16}) ")


def small_caches(kmem_s: str, count: int = 3) -> list[tuple[str, str]]:
    """(address, name) of the caches with the fewest slabs (at least one), names unique in the list."""
    rows = [m.groups() for m in map(ROW.match, kmem_s.splitlines()) if m]
    names = [r[6] for r in rows]
    rows = [r for r in rows if int(r[4]) > 0 and names.count(r[6]) == 1 and " " not in r[6]]
    rows.sort(key=lambda r: (int(r[4]), int(r[3]), r[6]))
    return [(r[0], r[6]) for r in rows[:count]]


def pick_addresses(kmem_S: str) -> dict[str, str]:
    """From a kmem -S listing: an object in use, a free one, one on a CPU's freelist, a slab struct."""
    found: dict[str, str] = {}
    for line in kmem_S.splitlines():
        m = OBJECT.match(line)
        if m:
            kind = "inuse" if m.group(1) == "[" else ("cpufree" if m.group(4) else "free")
            found.setdefault(kind, m.group(2))
        s = SLAB.match(line)
        if s:
            found.setdefault("slab", s.group(1))
    return found


@cache
def commands(name: str) -> tuple[list[str], list[str], dict[str, str]]:
    """(commands compared whole, address searches compared up to their first blank line, the picks)."""
    paths = ensure([name])
    vmlinux, dump = paths["vmlinux"], paths[name]
    kmem_s = run_crashpy(vmlinux, dump, ["kmem -s"])[0]
    caches = small_caches(kmem_s)
    cmds = list(FIXED)
    for addr, cname in caches:
        cmds += [f"kmem -s {cname}", f"kmem -s {addr}", f"kmem -S {cname}", f"kmem -S=0 {addr}"]
    listings = run_crashpy(
        vmlinux, dump, [f"kmem -S {cname}" for _, cname in caches] + ["kmem -S kmalloc-64"]
    )
    picked: dict[str, str] = {}
    for listing in listings:
        for kind, addr in pick_addresses(listing).items():
            picked.setdefault(kind, addr)
    searches = []
    for kind, addr in sorted(picked.items()):
        inside = f"{int(addr, 16) + 8:x}" if kind != "slab" else addr
        cmds += [f"kmem -s {inside}", f"kmem -S {inside}"]
        searches.append(f"kmem {inside}")
    cmds.append("kmem -s kmalloc-64 " + picked.get("inuse", "0"))  # a name and an address: crash's note
    if "inuse" in picked:  # the same object by its physical address
        phys = int(picked["inuse"], 16) + 8 - program(vmlinux, dump).layout.page_offset
        cmds += [f"kmem -s {phys:x}", f"kmem -s -P {phys:x}"]
        searches.append(f"kmem -P {phys:x}")
    return cmds, searches, picked


@cache
def outputs(name: str) -> tuple[list[str], list[str], list[str]]:
    paths = ensure([name])
    vmlinux, dump = paths["vmlinux"], paths[name]
    cmds, searches, _ = commands(name)
    return (
        cmds + searches,
        run_crash(vmlinux, dump, cmds + searches),
        run_crashpy(vmlinux, dump, cmds + searches),
    )


@pytest.mark.parametrize("name", DUMPS)
def test_kmem_slab_options_match_crash(name: str) -> None:
    cmds, searches, picked = commands(name)
    allcmds, expected, got = outputs(name)
    differ = [
        (c, e, g) for c, e, g in zip(allcmds, expected, got, strict=True) if c not in searches and e != g
    ]
    assert differ == [], "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in differ)
    kmem_s = got[allcmds.index("kmem -s")]
    assert len([line for line in kmem_s.splitlines() if ROW.match(line)]) > 50
    # the picks found an object in use, a free one and a slab struct to look up
    assert {"inuse", "slab"} <= set(picked) and {"free", "cpufree"} & set(picked), picked


@pytest.mark.parametrize("name", DUMPS)
def test_kmem_address_search_slab_part_matches_crash(name: str) -> None:
    """`kmem <address>` of slab objects: the slab part, then the task or page parts, equal crash's."""
    _, searches, _ = commands(name)
    allcmds, expected, got = outputs(name)
    assert searches
    for cmd in searches:
        e, g = expected[allcmds.index(cmd)], got[allcmds.index(cmd)]
        assert "  FREE / [ALLOCATED]\n" in e, (cmd, e)
        assert e == g, (cmd, e, g)


def test_kmem_slab_marks_each_kind_of_object() -> None:
    """The picks include an object in use, a free one and one on a CPU's freelist, and kmem -s of
    each shows it as crash does: [in use], free, free (cpu N cache)."""
    allcmds, expected, got = outputs("sysrq.elf")
    shown = {c: g for c, g in zip(allcmds, got, strict=True) if c.startswith("kmem -s ffff")}
    assert any(re.search(r"^  \[[0-9a-f]+\]$", g, re.M) for g in shown.values())
    assert any(re.search(r"^   [0-9a-f]+  \(cpu \d+ cache\)$", g, re.M) for g in shown.values())


def test_kmem_json_caches_come_from_the_same_rows() -> None:
    paths = ensure(["sysrq.elf"])
    text, doc, ignored, bad = run_crashpy(
        paths["vmlinux"],
        paths["sysrq.elf"],
        ["kmem -s", "kmem --json -s", "kmem --json -s -I kmalloc-64", "kmem --json -s kmalloc-64"],
    )
    rows = [m.groups() for m in map(ROW.match, text.splitlines()) if m]
    caches = json.loads(doc)["caches"]
    assert [(c["cache"], c["name"]) for c in caches] == [(r[0], r[6]) for r in rows]
    for c, r in zip(caches, rows, strict=True):
        assert (c["objsize"], c["allocated"], c["total"], c["slabs"]) == tuple(int(x) for x in r[1:5])
        assert c["slab_size"] == int(r[5]) * 1024 and not c["ignored"]
    marked = [c for c in json.loads(ignored)["caches"] if c["ignored"]]
    assert [c["name"] for c in marked] == ["kmalloc-64"] and marked[0]["allocated"] is None
    assert bad == "kmem: kmalloc-64: not supported with --json\n"


def test_slub_walk_on_a_truncated_dump_says_one_line() -> None:
    """crash 8.0.6 does not start on the truncated dump; crashpy answers kmem -s without a traceback."""
    paths = ensure(["sysrq.d31.zlib.trunc40"])
    (out,) = run_crashpy(paths["vmlinux"], paths["sysrq.d31.zlib.trunc40"], ["kmem -s"])
    assert "Traceback" not in out and "internal error" not in out
    assert out.startswith(("CACHE ", "kmem: "))


class FakeMemory:
    """A stand-in Program for the freelist walk: 8-byte words at addresses; others are unreadable."""

    def __init__(self, words: dict[int, int]) -> None:
        self.words = words

    def read(self, addr: int, size: int) -> bytes:
        from crashpy.errors import AddressSpace, FaultError, FaultKind

        base = addr & ~7
        if base not in self.words:
            raise FaultError(addr, FaultKind.INVALID, AddressSpace.KVADDR)
        return self.words[base].to_bytes(8, "little")[addr - base : addr - base + size]

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")


def walker_over(words: dict[int, int], random: int, offset: int) -> object:
    from crashpy.helpers import slub

    lay = slub.SlubLayout(True, {}, {}, {}, {"inuse": 0}, 16, 64, 0, 0, random != 0, True)
    cache = slub.Cache(0x1000, "test", 32, 64, 4, 0, offset, random, 0, 0, 0, [0])
    w = object.__new__(slub.SlubWalker)
    w.__dict__.update(prog=FakeMemory(words), cache=cache, lay=lay, cpus=1, notes=[], nodes=[], _cpu={})
    return w


def encode(ptr: int, place: int, random: int) -> int:
    """SLAB_FREELIST_HARDENED's stored form of a free pointer kept at `place`."""
    return ptr ^ random ^ int.from_bytes(place.to_bytes(8, "little"), "big")


def test_freelist_walk_decodes_hardened_pointers_and_stops_where_crash_does() -> None:
    """The free pointers are decoded with kmem_cache.random and the byte-swapped place they are kept
    at; a loop in the freelist stops the listing at the first object not yet found (crash's
    "duplicate freelist object"), an unreadable pointer at its "invalid freepointer"."""
    base, size, offset, random = 0xFFFF888000100000, 64, 16, 0x1234_5678_9ABC_DEF0
    objs = [base + k * size for k in range(4)]

    def chain(*links: tuple[int, int]) -> dict[int, int]:
        words = {o + i: 0 for o in objs for i in range(0, size, 8)}
        for src, dst in links:
            words[src + offset] = encode(dst, src + offset, random) if random else dst
        return words

    w = walker_over(chain((objs[0], objs[2]), (objs[2], 0)), random, offset)
    listed, trailer, ok = w._objects(base, 4, objs[0], 0, 0xFFFFEA0000004000, None)  # type: ignore[attr-defined]
    assert ok and trailer == [] and [free for _, free in listed] == [True, False, True, False]
    assert w.count_free(objs[0], 0) == 2  # type: ignore[attr-defined]

    w = walker_over(chain((objs[0], objs[2]), (objs[2], objs[0])), random, offset)
    listed, trailer, ok = w._objects(base, 4, objs[0], 0, 0xFFFFEA0000004000, None)  # type: ignore[attr-defined]
    assert not ok and listed == [(objs[0], True)]
    assert trailer == [f"test: slab: ffffea0000004000 duplicate freelist object: {objs[0]:x}"]

    nowhere = 0xFFFF888000900000  # (unhardened: a hardened pointer that decodes to nowhere is tried
    random = 0  # the older way, and that one's odd bit usually ends the list)
    w = walker_over(chain((objs[0], nowhere)), random, offset)
    listed, trailer, ok = w._objects(base, 4, objs[0], 0, 0xFFFFEA0000004000, None)  # type: ignore[attr-defined]
    assert not ok and listed == [(objs[0], True)]
    assert len(trailer) == 1 and trailer[0].startswith("test: slab: ffffea0000004000 invalid freepointer: ")
