"""Side-by-side timings: crashpy vs crash 8.0.6 on the same dump, start-up and each command, as a ratio.

    python3 benchmarks/bench.py [--dump sysrq.d31.zlib] [--runs 3]

Each figure is the median wall time of --runs runs of a whole non-interactive session
(`tool -s vmlinux dump < commands`). Start-up is a session running only `q`; a command's time is
the median of sessions running that command N times less start-up, divided by N.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMMANDS = [
    "sys",
    "log",
    "log -T",
    "log -m",
    "rd -64 linux_banner 4",
    "rd -s init_task 64",
    "rd -64 jiffies 1024",
    "sym ffffffff81000000",
    "sym schedule",
    "eval 0x1f9",
]


def session_time(argv: list[str], script: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, input=script, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "TERM": "dumb"}, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", default="sysrq.d31.zlib")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5, help="times each command runs in its session")
    args = ap.parse_args()
    from tests.oracle import crash_binary
    from tools.vmcores import ensure

    paths = ensure([args.dump])
    vmlinux, dump = str(paths["vmlinux"]), str(paths[args.dump])
    tools = {
        "crash": [str(crash_binary()), "-s", "--no_crashrc", vmlinux, dump],
        "crashpy": [sys.executable, "-m", "crashpy", "-s", vmlinux, dump],
    }
    rows: list[tuple[str, float, float]] = []
    base = {name: session_time(argv, "q\n", args.runs) for name, argv in tools.items()}
    rows.append(("start-up (to prompt, then q)", base["crash"], base["crashpy"]))
    for cmd in COMMANDS:
        script = (cmd + "\n") * args.repeat + "q\n"
        t = {name: max(0.0, (session_time(argv, script, args.runs) - base[name]) / args.repeat)
             for name, argv in tools.items()}
        rows.append((cmd, t["crash"], t["crashpy"]))
    print(f"dump: {args.dump}   runs: {args.runs}   each command x{args.repeat} per session")
    print(f"| {'what':<30} | {'crash 8.0.6':>11} | {'crashpy':>9} | {'ratio':>6} |")
    print(f"|{'-' * 32}|{'-' * 13}|{'-' * 11}|{'-' * 8}|")
    for what, c, p in rows:
        ratio = f"{p / c:.2f}" if c > 0.0005 else "-"
        print(f"| {what:<30} | {c:>10.3f}s | {p:>8.3f}s | {ratio:>6} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
