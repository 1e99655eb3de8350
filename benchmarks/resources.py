"""Bounded resources (issue 16), side by side with crash 8.0.6.

    python3 benchmarks/resources.py [--dump scale.d31.zlib --dump sysrq.elf ...] [--runs 3]

Memory: the peak resident set of one session that runs the fuzzer's command list on a dump (sys, log,
ps, bt -a, kmem -i, rd, rd -p, dis) from start-up to exit: crash with the debug vmlinux, crashpy with
it, crashpy with the dump alone (warm disk caches). The peak is the process's own (wait4's rusage),
the largest of --runs.

Open time: a synthetic ELF dump of 16 pages, against 64 GiB of physical address space in one segment
of 16 present pages (the rest left out, as makedumpfile -E leaves pages out) and in 4,096 segments
over holes: the time from opening the file to reading its last present page (median of 50).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from benchmarks.bench import env  # noqa: E402

COMMANDS = ["sys", "log", "ps", "bt -a", "kmem -i", "rd linux_banner 8", "rd -p 0x1000 4", "dis schedule"]
GIB = 1 << 30


def peak_rss(argv: list[str], script: str) -> int:
    """Bytes of the peak resident set of `argv` reading `script` on its standard input."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env())
    assert proc.stdin is not None
    proc.stdin.write(script.encode())
    proc.stdin.close()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_maxrss * 1024


def bench_memory(dump_names: list[str], runs: int) -> None:
    from tests.oracle import crash_binary
    from tools.vmcores import ensure

    script = "\n".join(COMMANDS) + "\nq\n"
    print("| dump | crash 8.0.6 | crashpy + vmlinux | crashpy, dump alone |")
    print("|---|---:|---:|---:|")
    for name in dump_names:
        paths = ensure([name])
        vmlinux, dump = str(paths["vmlinux"]), str(paths[name])
        crash = [str(crash_binary()), "-s", "--no_crashrc", "--no_scroll", vmlinux, dump]
        with_vmlinux = [sys.executable, "-m", "crashpy", "-s", vmlinux, dump]
        alone = [sys.executable, "-m", "crashpy", "-s", dump]
        peak_rss(alone, script)  # the first run fills the disk caches; not counted
        peak_rss(with_vmlinux, script)
        row = [max(peak_rss(argv, script) for _ in range(runs)) for argv in (crash, with_vmlinux, alone)]
        print(f"| {name} | " + " | ".join(f"{r >> 20} MiB" for r in row) + " |", flush=True)


def bench_open(runs: int = 50) -> None:
    from crashpy.dumpfile.sniff import open_dump
    from tests.synth_dumps import PAGE, ElfSegment, elf_core, page_bytes, standard_notes, write

    def sparse(tmp: Path, span: int, segments: int) -> tuple[Path, int]:
        stride = span // segments
        pages = 16 if segments < 64 else 1
        segs = [ElfSegment(k * stride, b"".join(page_bytes(k * stride // PAGE + i) for i in range(pages)),
                           memsz=stride) for k in range(segments)]
        return write(tmp / f"sparse-{span}-{segments}.elf", elf_core(segs, standard_notes())), (segments - 1) * stride

    print("| dump | file size | open and read its last page (median) |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, span, segments in (("16 pages", 16 * 4096, 1), ("64 GiB, one segment", 64 * GIB, 1),
                                      ("64 GiB, 4,096 segments", 64 * GIB, 4096)):
            path, last = sparse(Path(tmp), span, segments)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                dump = open_dump(str(path))
                dump.read(last, 8)
                times.append(time.perf_counter() - t0)
                dump.close()
            print(f"| {label} | {path.stat().st_size >> 10} KiB | {statistics.median(times) * 1000:.2f} ms |")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dump", action="append", help="a test dump's name (tools/vmcores.py); repeat for several")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start")
    bench_open()
    bench_memory(args.dump or ["scale.d31.zlib", "sysrq.elf", "sysrq.d31.zlib"], args.runs)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
