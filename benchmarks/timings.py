"""Cold-start timings of crashpy's lower layers, each on fresh objects (no disk caches where noted).

    python3 benchmarks/timings.py

Printed, not asserted (the tests check what these return; this measures how fast): opening each
test dump, the BTF index of the vmlinux, the first DWARF type look-ups, the line table, and the
`p init_task`, `whatis task_struct` and `struct task_struct` commands on a fresh program.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "sysrq.d31.lzo", "sysrq.d31.flat", "scale.d31.zlib"]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - t0


def dumps(paths: dict[str, Path]) -> None:
    from crashpy.dumpfile import open_dump

    for name in DUMPS:
        if name in paths:
            dump, secs = timed(lambda n=name: open_dump(str(paths[n])))  # type: ignore[misc]
            print(f"open {name}: {secs * 1000:.1f} ms")
            dump.close()  # type: ignore[attr-defined]


def btf(vmlinux: Path) -> None:
    from crashpy.types.btf import load_btf_from_elf

    index, opened = timed(lambda: load_btf_from_elf(vmlinux))
    assert index is not None
    _, first = timed(lambda: index.find("task_struct", "struct"))  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for _ in range(100):
        index.offsetof("task_struct", "thread.sp")  # type: ignore[attr-defined]
    lookup = (time.perf_counter() - t0) / 100
    print(f"BTF: open+index {opened * 1000:.1f} ms, first find {first * 1000:.1f} ms, offsetof {lookup * 1e6:.1f} us")


def dwarf(vmlinux: Path) -> None:
    from crashpy.types.btf import load_btf_from_elf
    from crashpy.types.dwarf import DwarfTypes

    kernel_btf = load_btf_from_elf(vmlinux)
    dt, opened = timed(lambda: DwarfTypes(vmlinux, btf=kernel_btf, disk_cache=False))
    timings = [f"open {opened * 1000:.0f} ms"]
    for name in ["jiffies", "init_task", "runqueues", "prb", "linux_banner", "avenrun", "tk_core"]:
        _, secs = timed(lambda n=name: dt.variable_type(n))  # type: ignore[attr-defined,misc]
        timings.append(f"{name} {secs * 1000:.0f} ms")
    for name in ["schedule", "vfs_read"]:
        _, secs = timed(lambda n=name: dt.function_type(n))  # type: ignore[attr-defined,misc]
        timings.append(f"{name}() {secs * 1000:.0f} ms")
    _, again = timed(lambda: dt.variable_type("jiffies"))  # type: ignore[attr-defined]
    timings.append(f"jiffies again {again * 1e6:.1f} us")
    print("DWARF, no disk index: " + "; ".join(timings))
    names = ["jiffies", "init_task", "runqueues", "linux_banner"]
    with tempfile.TemporaryDirectory() as tmp:
        cold = DwarfTypes(vmlinux, btf=kernel_btf, cache_dir=Path(tmp))
        for n in names:
            cold.variable_type(n)
        _, secs = timed(lambda: [DwarfTypes(vmlinux, btf=kernel_btf, cache_dir=Path(tmp)).variable_type(n) for n in names])
    print(f"DWARF, new session, 4 variables from the disk index: {secs * 1000:.0f} ms")


def lines(vmlinux: Path) -> None:
    from crashpy.dwarf.lines import LineTable
    from tests.kernel_facts import symbol as kernel_symbol

    schedule = kernel_symbol(vmlinux, "__schedule")
    t0 = time.perf_counter()
    lt = LineTable(str(vmlinux))
    lt.lookup(schedule)
    first = time.perf_counter() - t0
    addrs = [schedule + i for i in range(1, 2001)]
    t0 = time.perf_counter()
    for a in addrs:
        lt.lookup(a)
    per = (time.perf_counter() - t0) / len(addrs)
    print(f"line table: first lookup {first:.3f} s, {per * 1e6:.0f} us per lookup in a parsed unit")
    lt.close()


def commands(vmlinux: Path, dump: Path) -> None:
    from crashpy.loader import open_program
    from crashpy.session import Session

    for lines_ in (["p init_task"], ["whatis task_struct", "struct task_struct {init_task:x}"]):
        prog = open_program(str(vmlinux), [str(dump)])
        session = Session(prog, io.StringIO())
        for line in lines_:
            line = line.format(init_task=prog.symbol_address("init_task"))
            t0 = time.perf_counter()
            session.run_line(line)
            print(f"{line} (fresh program): {time.perf_counter() - t0:.3f} s")


def main() -> None:
    from tools.vmcores import ensure

    paths = ensure()
    vmlinux = paths["vmlinux"]
    dumps(paths)
    btf(vmlinux)
    dwarf(vmlinux)
    lines(vmlinux)
    commands(vmlinux, paths["sysrq.elf"])


if __name__ == "__main__":
    main()
