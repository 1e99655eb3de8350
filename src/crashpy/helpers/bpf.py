"""eBPF programs and maps: the prog_idr and map_idr IDRs and what each struct bpf_prog / bpf_map says.

Kernel knowledge behind `bpf`: the IDRs' radix tree (an XArray since 4.20), the program's type, tag,
lengths, auxiliary data (name, load time, owner, maps used) and the map's type, flags, sizes and owner,
with the kernel differences crash knows of (bpf_map.memory of 5.3 to 5.10, bpf_prog.pages before 5.11).
Rows only; commands/bpf.py prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crashpy.errors import CommandError, CrashpyError, FaultError
from crashpy.helpers.crash_reads import read_as_crash

if TYPE_CHECKING:
    from crashpy.program import Program

PAGE_SIZE = 4096
PERCPU_MAPS = (5, 6, 10, 21)  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE
FD_MAPS = (3, 4, 8, 12, 13)  # PROG_ARRAY, PERF_EVENT_ARRAY, CGROUP_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS


@dataclass
class BpfProg:
    id: int
    address: int
    aux: int
    type: int
    tag: bytes
    used_maps: list[int]  # struct bpf_map addresses
    insns: int  # bpf_prog.len
    jited_len: int
    pages: int | None
    load_time: int | None  # ns since boot
    name: str | None
    uid: int | None


@dataclass
class BpfMap:
    id: int
    address: int
    type: int
    flags: int
    key_size: int | None
    value_size: int | None
    max_entries: int | None
    pages: int | None  # the map's charged pages where the kernel keeps them
    name: str | None
    uid: int | None  # None: no owner recorded


def _int(buf: bytes, off: int, size: int) -> int:
    return int.from_bytes(buf[off : off + size], "little")


def supported(prog: Program) -> bool:
    return prog.has_symbol("prog_idr") and prog.has_symbol("map_idr")


def idr_entries(prog: Program, symbol: str) -> list[tuple[int, int]]:
    """(id, pointer) of every entry of the IDR `symbol`."""
    from crashpy.helpers.xarray import xa_walk

    root = prog.symbol_address(symbol) + prog.offsetof("idr", "idr_rt")
    return [(s.index, s.slot) for s in xa_walk(prog, root) if s.slot]


def enum_names(prog: Program, name: str) -> dict[int, str]:
    """Value -> enumerator name of `enum name` (the first name of each value)."""
    from crashpy.object import lookup_type, resolve
    from crashpy.types.model import EnumType

    try:
        t = resolve(lookup_type(prog, f"enum {name}"))
    except CrashpyError:
        return {}
    if not isinstance(t, EnumType):
        return {}
    out: dict[int, str] = {}
    for n, v in t.enumerators.items():
        out.setdefault(v, n)
    return out


def type_width(prog: Program, enum: str, cap: int | None) -> int:
    """crash's column width for an enum's names: the longest name less 14 ("BPF_PROG_TYPE_"), capped."""
    from crashpy.object import lookup_type, resolve
    from crashpy.types.model import EnumType

    t = resolve(lookup_type(prog, f"enum {enum}"))
    if not isinstance(t, EnumType):
        raise CommandError("command not supported or applicable on this architecture or kernel")
    width = max((len(n) for n in t.enumerators), default=0) - len("BPF_PROG_TYPE_")
    return min(cap, width) if cap is not None else width


def _uid(prog: Program, user: int) -> int | None:
    if not user or not prog.has_member("user_struct", "uid"):
        return None
    try:
        return _int(read_as_crash(prog, user + prog.offsetof("user_struct", "uid"), 4), 0, 4)
    except FaultError:
        return None


def read_prog(prog: Program, pid: int, addr: int) -> BpfProg:
    buf = read_as_crash(prog, addr, prog.sizeof("bpf_prog"), what="struct bpf_prog")

    def off(m: str) -> int:
        return prog.offsetof("bpf_prog", m)

    aux = _int(buf, off("aux"), 8)
    abuf = read_as_crash(prog, aux, prog.sizeof("bpf_prog_aux"), what="struct bpf_prog_aux")

    def aoff(m: str) -> int:
        return prog.offsetof("bpf_prog_aux", m)

    cnt = _int(abuf, aoff("used_map_cnt"), 4)
    table = _int(abuf, aoff("used_maps"), 8)
    used = []
    for i in range(cnt):
        try:
            used.append(_int(read_as_crash(prog, table + 8 * i, 8, what="bpf_prog_aux.used_maps"), 0, 8))
        except FaultError:
            break
    name = None
    if prog.has_member("bpf_prog_aux", "name"):
        name = abuf[aoff("name") : aoff("name") + 16].split(b"\0", 1)[0].decode("latin-1")
    uid = None
    if prog.has_member("bpf_prog_aux", "user"):
        uid = _uid(prog, _int(abuf, aoff("user"), 8))
    return BpfProg(
        pid,
        addr,
        aux,
        _int(buf, off("type"), 4),
        bytes(buf[off("tag") : off("tag") + 8]),
        used,
        _int(buf, off("len"), 4),
        _int(buf, off("jited_len"), 4),
        _int(buf, off("pages"), 2) if prog.has_member("bpf_prog", "pages") else None,
        _int(abuf, aoff("load_time"), 8) if prog.has_member("bpf_prog_aux", "load_time") else None,
        name,
        uid,
    )


def read_map(prog: Program, mid: int, addr: int) -> BpfMap:
    buf = read_as_crash(prog, addr, prog.sizeof("bpf_map"), what="struct bpf_map")

    def opt(m: str, size: int = 4) -> int | None:
        return _int(buf, prog.offsetof("bpf_map", m), size) if prog.has_member("bpf_map", m) else None

    pages = user = None
    if prog.has_member("bpf_map", "memory") and prog.has_member("bpf_map_memory", "pages"):
        base = prog.offsetof("bpf_map", "memory")
        pages = _int(buf, base + prog.offsetof("bpf_map_memory", "pages"), 4)
        if prog.has_member("bpf_map_memory", "user"):
            user = _int(buf, base + prog.offsetof("bpf_map_memory", "user"), 8)
    else:
        pages = opt("pages")
        user = opt("user", 8)
    name = None
    if prog.has_member("bpf_map", "name"):
        o = prog.offsetof("bpf_map", "name")
        name = buf[o : o + 16].split(b"\0", 1)[0].decode("latin-1")
    return BpfMap(
        mid,
        addr,
        _int(buf, prog.offsetof("bpf_map", "map_type"), 4),
        _int(buf, prog.offsetof("bpf_map", "map_flags"), 4),
        opt("key_size"),
        opt("value_size"),
        opt("max_entries"),
        pages,
        name,
        _uid(prog, user or 0),
    )


def map_memlock(prog: Program, m: BpfMap, possible_cpus: int) -> int:
    """The memory a map charges: its pages where the kernel keeps them, else crash's estimate from the
    key and value sizes and the entry count (0 when unknown)."""
    if m.pages is not None:
        return m.pages * PAGE_SIZE
    key, value, entries = m.key_size or 0, m.value_size or 0, m.max_entries or 0
    if m.type in PERCPU_MAPS:
        if not possible_cpus:
            return 0
        valsize = (value + 7) // 8 * 8 * possible_cpus
    elif m.type in FD_MAPS:
        valsize = 4
    else:
        valsize = value
    size = (key + valsize + 7) // 8 * 8
    return (entries * size + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
