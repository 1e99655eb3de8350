"""Side-by-side timings: crashpy vs crash 8.0.6 on the same dump, start-up and each command, as a ratio.

    python3 benchmarks/bench.py [--dump sysrq.d31.zlib] [--runs 3]
    python3 benchmarks/bench.py --per-task --dump sysrq.d31.zlib --dump scale.d31.zlib
    python3 benchmarks/bench.py --memory --dump sysrq.d31.zlib --dump scale.d31.zlib
    python3 benchmarks/bench.py --system --dump sysrq.d31.zlib --dump scale.d31.zlib
    python3 benchmarks/bench.py --triage
    python3 benchmarks/bench.py --no-vmlinux --dump sysrq.d31.zlib --dump scale.d31.zlib

Start-up: wall time of `tool -s vmlinux dump` running just `q` (median of --runs). Commands: one live
session per tool; each command is written to its standard input followed by `echo <marker>` (crash
hands `echo` to the shell; crashpy does the same), and the time from writing the command to reading
the marker, less the time of the marker alone (the same round trip with no command, median of 10),
is that command's time. Each command runs --runs times in a row; the first run (cold caches) and the
median of all are shown.

--per-task times the commands whose cost grows with the number of tasks (ps, ps -t, runq, bt -a,
foreach bt) on each --dump, each command in a fresh session of each tool, so that its first run
pays for everything it needs (the task table too), and divides by the dump's task count (the lines
of crash's `ps`); it also shows each tool's start-up (to its first prompt) plus that first run, as
crash builds at start-up what crashpy builds on first use. --dump may be given more than once.

--no-vmlinux times start-up followed by `sys` and `bt` (`tool -s ... dump`, the commands on standard
input, median of --runs): crash with the debug vmlinux, crashpy with it, and crashpy with the dump
alone (kallsyms, BTF and ORC read from it); crashpy both with its disk caches empty (a fresh
CRASHPY_CACHE each run) and warm.
"""

from __future__ import annotations

import argparse
import os
import secrets
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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
    "p jiffies",
    "p init_task.comm",
    "whatis task_struct",
    "struct task_struct init_task",
    "dis pull_rt_task",
    "dis -l pull_rt_task",
    "ps",
    "ps -t",
    "bt",
    "bt -a",
    "foreach bt",
    "list -H ftrace_events",
    "list task_struct.tasks -s task_struct.pid,comm -h init_task",
    "kmem -i",
    "kmem -v",
    "kmem -n",
    "kmem -z",
    "mach",
    "swap",
    "vm",
    "vm -p",
    "search init_task",
    "search -p init_task",
    "search -t init_task",
]
# The commands whose cost grows with the number of tasks (--per-task).
PER_TASK_COMMANDS = ["ps", "ps -t", "runq", "bt -a", "foreach bt", "foreach vm"]
# The memory commands (--memory); {task} is the panic task's task_struct (a slab object in the direct
# map), {value} the address of init_task (a value with a bounded number of hits in kernel memory).
MEMORY_COMMANDS = [
    "kmem -i",
    "kmem -s",
    "kmem -S",
    "kmem -f",
    "kmem {task}",
    "search -k {value}",
    "vm",
    "foreach vm",
    "vtop {task}",
]
# The system commands (--system): files, sockets, interrupts, timers, mounts and module debuginfo;
# {debug_modules} is the -dbg package's module tree for the dump's kernel.
SYSTEM_COMMANDS = [
    "foreach files",
    "foreach net -s",
    "irq -s",
    "timer",
    "timer -r",
    "mount",
    "dev -d",
    "mod -S {debug_modules}",
]


def env() -> dict[str, str]:
    """The tools' environment: crashpy from this tree, its modules compiled once (as a pip install
    leaves them), not at every start-up as PYTHONDONTWRITEBYTECODE (set on some CI machines) would."""
    run = {**os.environ, "TERM": "dumb", "PYTHONPATH": str(ROOT / "src")}
    run.pop("PYTHONDONTWRITEBYTECODE", None)
    return run


def startup_time(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, input="q\n", text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env(), check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class LiveSession:
    """A tool reading commands from a pipe; run() times one command up to its marker."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env())
        self.buf = b""
        self.run("")  # wait until it is ready

    def run(self, command: str) -> tuple[float, bytes]:
        marker = f"MARK{secrets.token_hex(6)}"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        t0 = time.perf_counter()
        self.proc.stdin.write(f"{command}\necho {marker}\n".encode())
        self.proc.stdin.flush()
        fd = self.proc.stdout.fileno()
        while marker.encode() not in self.buf:
            ready, _, _ = select.select([fd], [], [], 600)
            if not ready:
                raise TimeoutError(command)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError(f"session ended during {command!r}: {self.buf[-500:]!r}")
            self.buf += chunk
        elapsed = time.perf_counter() - t0
        out, _, self.buf = self.buf.partition(marker.encode() + b"\n")
        return elapsed, out

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"q\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def tool_argv(vmlinux: str, dump: str) -> dict[str, list[str]]:
    from tests.oracle import crash_binary

    return {
        "crash": [str(crash_binary()), "-s", "--no_crashrc", "--no_scroll", vmlinux, dump],
        "crashpy": [sys.executable, "-m", "crashpy", "-s", vmlinux, dump],
    }


def time_commands(sessions: dict[str, LiveSession], commands: list[str], runs: int,
                  base: dict[str, float]) -> list[tuple[str, list[tuple[float, float]], dict[str, bytes]]]:
    """(command, [(first, median) per tool], {tool: output of the first run}) for each command."""
    rows = []
    for cmd in commands:
        cells = []
        outputs: dict[str, bytes] = {}
        for name, session in sessions.items():
            times = []
            for _ in range(runs):
                t, out = session.run(cmd)
                times.append(max(t - base[name], 1e-5))
                outputs.setdefault(name, out)
                if b"command not found" in out or b"internal error" in out:
                    raise RuntimeError(f"{name}: {cmd}: {out[:300]!r}")
            cells.append((times[0], statistics.median(times)))
        rows.append((cmd, cells, outputs))
    return rows


def marker_time(session: LiveSession) -> float:
    return statistics.median(session.run("")[0] for _ in range(10))


def bench_dump(dump_name: str, runs: int) -> int:
    from tools.vmcores import ensure

    paths = ensure([dump_name])
    tools = tool_argv(str(paths["vmlinux"]), str(paths[dump_name]))
    start = {name: startup_time(argv, runs) for name, argv in tools.items()}
    sessions = {name: LiveSession(argv) for name, argv in tools.items()}
    base = {name: marker_time(s) for name, s in sessions.items()}
    rows = time_commands(sessions, COMMANDS, runs, base)
    for s in sessions.values():
        s.close()
    print(f"dump: {dump_name}   runs: {runs}   machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"marker round trip subtracted: crash {base['crash'] * 1000:.1f} ms, crashpy {base['crashpy'] * 1000:.1f} ms")
    print("| what | crash 8.0.6 | crashpy | ratio |")
    print("|---|---:|---:|---:|")
    c, p = start["crash"], start["crashpy"]
    print(f"| start-up to prompt (then q) | {c:.3f} s | {p:.3f} s | {p / c:.2f} |")
    for cmd, ((c1, cm), (p1, pm)), _out in rows:
        print(f"| `{cmd}` first / median | {c1 * 1000:.1f} / {cm * 1000:.1f} ms | {p1 * 1000:.1f} / {pm * 1000:.1f} ms"
              f" | {p1 / c1:.2f} / {pm / cm:.2f} |")
    print()
    return 0


def bench_per_task(dump_names: list[str], runs: int, only: list[str] | None = None) -> int:
    """The PER_TASK_COMMANDS (or `only` these commands, after ps, which counts the tasks) on each dump,
    each in fresh sessions; per-task milliseconds of both tools."""
    from tools.vmcores import ensure

    print(f"runs: {runs}   machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start")
    print("| dump | tasks | command | crash 8.0.6 first / median | crashpy first / median "
          "| crash ms/task first | crashpy ms/task first | ratio first / median "
          "| start-up + first: crash / crashpy | same output |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for dump_name in dump_names:
        paths = ensure([dump_name])
        tools = tool_argv(str(paths["vmlinux"]), str(paths[dump_name]))
        ntasks = 0
        for cmd in ["ps", *[c for c in only if c != "ps"]] if only else PER_TASK_COMMANDS:
            ready: dict[str, float] = {}
            sessions: dict[str, LiveSession] = {}
            for name, argv in tools.items():
                t0 = time.perf_counter()
                sessions[name] = LiveSession(argv)
                ready[name] = time.perf_counter() - t0
            base = {name: marker_time(s) for name, s in sessions.items()}
            ((_, cells, outputs),) = time_commands(sessions, [cmd], runs, base)
            for s in sessions.values():
                s.close()
            if cmd == "ps":
                ntasks = outputs["crash"].count(b"\n") - 1  # less the header line
            (c1, cm), (p1, pm) = cells
            n = max(ntasks, 1)
            same = "yes" if outputs["crash"] == outputs["crashpy"] else "no"
            if same == "no" and b"bt: read of stack at" in outputs["crash"]:
                same = "no: crash cannot read the stopped CPUs' stacks"
            whole = f"{ready['crash'] + c1:.2f} / {ready['crashpy'] + p1:.2f} s"
            median_ratio = f"{pm / cm:.2f}" if min(cm, pm) >= 0.001 else "-"  # not below 1 ms
            print(f"| {dump_name} | {ntasks} | `{cmd}` | {c1 * 1000:.0f} / {cm * 1000:.0f} ms "
                  f"| {p1 * 1000:.0f} / {pm * 1000:.0f} ms | {c1 * 1000 / n:.3f} | {p1 * 1000 / n:.3f} "
                  f"| {p1 / c1:.2f} / {median_ratio} | {whole} | {same} |", flush=True)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


def memory_placeholders(vmlinux: Path, dump: Path) -> dict[str, str]:
    from crashpy.helpers.tasks import task_table
    from tests.crashpy_runner import program

    prog = program(vmlinux, dump)
    table = task_table(prog)
    return {"task": f"{table.active[table.panic_cpu]:x}", "value": f"{prog.symbol_address('init_task'):x}"}


def system_placeholders(vmlinux: Path, dump: Path) -> dict[str, str]:
    from tools.vmcores import ensure

    modules_dir = Path(ensure(["modules_dir"])["modules_dir"])
    kernel = modules_dir.parent.parent.parent  # <kernel>/lib/modules/<release>
    return {"debug_modules": str(kernel / "usr" / "lib" / "debug" / "lib" / "modules" / modules_dir.name)}


def dump_sizes(vmlinux: Path, dump: Path) -> str:
    """What the memory commands' cost grows with: pages of memory, slab caches, slabs, VMAs."""
    from tests.oracle import run_crash

    kmem_i, kmem_s, foreach_vm = run_crash(vmlinux, dump, ["kmem -i", "kmem -s", "foreach vm"])
    pages = next(line.split()[2] for line in kmem_i.splitlines() if "TOTAL MEM" in line)
    caches = kmem_s.splitlines()[1:]
    slabs = sum(int(line.split()[4]) for line in caches if len(line.split()) >= 6)
    vmas = 0
    in_table = False
    for line in foreach_vm.splitlines():
        if line.strip().startswith("VMA "):
            in_table = True
        elif not line.strip() or line.startswith("PID:"):
            in_table = False
        elif in_table:
            vmas += 1
    return f"{pages} pages, {len(caches)} slab caches, {slabs} slabs, {vmas} VMAs"


def bench_fresh(dump_names: list[str], runs: int, templates: list[str],
               placeholders: Callable[[Path, Path], dict[str, str]]) -> int:
    """Each command template on each dump, each in fresh sessions of both tools (the first run pays
    for everything the command needs); placeholders(vmlinux, dump) fills the templates."""
    from tools.vmcores import ensure

    print(f"runs: {runs}   machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start")
    print("| dump | command | crash 8.0.6 first / median | crashpy first / median | ratio first / median "
          "| output lines | same output |")
    print("|---|---|---:|---:|---:|---:|---|")
    for dump_name in dump_names:
        paths = ensure([dump_name])
        tools = tool_argv(str(paths["vmlinux"]), str(paths[dump_name]))
        values = placeholders(paths["vmlinux"], paths[dump_name])
        print(f"| {dump_name}: {dump_sizes(paths['vmlinux'], paths[dump_name])} | | | | | | |", flush=True)
        for template in templates:
            cmd = template.format(**values)
            sessions = {name: LiveSession(argv) for name, argv in tools.items()}
            base = {name: marker_time(s) for name, s in sessions.items()}
            ((_, cells, outputs),) = time_commands(sessions, [cmd], runs, base)
            for s in sessions.values():
                s.close()
            (c1, cm), (p1, pm) = cells
            same = "yes" if outputs["crash"] == outputs["crashpy"] else "no"
            lines = outputs["crash"].count(b"\n")
            median_ratio = f"{pm / cm:.2f}" if min(cm, pm) >= 0.001 else "-"
            print(f"| {dump_name} | `{template}` | {c1 * 1000:.0f} / {cm * 1000:.0f} ms "
                  f"| {p1 * 1000:.0f} / {pm * 1000:.0f} ms | {p1 / c1:.2f} / {median_ratio} | {lines} | {same} |",
                  flush=True)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


# The ten dumps crashpy triage is timed on (--triage), as tests/test_triage.py runs them.
TRIAGE_DUMPS = ["bug.elf", "null.elf", "sysrq.d31.zlib", "la57bug.d31.zlib", "warn.d31.zlib",
                "softlockup.d31.zlib", "hung.d31.zlib", "list.d31.zlib", "gpf.d31.zlib", "stack.d31.zlib"]


def bench_triage(runs: int) -> int:
    """`crashpy triage --json` over TRIAGE_DUMPS on 1 and 2 worker processes and on a Dask LocalCluster
    of 2 workers: wall time of the whole command (median of --runs), and whether the JSON is the same."""
    from tools.vmcores import ensure

    paths = ensure(TRIAGE_DUMPS)
    debuginfo = str(Path(paths["vmlinux"]).parent.parent)
    base = [sys.executable, "-m", "crashpy", "triage", "--json", "--debuginfo", debuginfo]
    dumps = [str(paths[n]) for n in TRIAGE_DUMPS]
    print(f"runs: {runs}   machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start")
    print("| how | wall time (median) | per dump | same JSON as 1 worker |")
    print("|---|---:|---:|---|")
    reference: bytes | None = None
    for label, extra in (("1 worker process", ["--workers", "1"]), ("2 worker processes", ["--workers", "2"]),
                         ("Dask LocalCluster, 2 workers", ["--local-cluster", "2"])):
        times = []
        out = b""
        for _ in range(runs):
            start = time.monotonic()
            out = subprocess.run([*base, *extra, *dumps], capture_output=True, env=env(), check=False).stdout
            times.append(time.monotonic() - start)
        reference = reference if reference is not None else out
        t = statistics.median(times)
        same = "yes" if out == reference and out else "no"
        print(f"| {label} | {t:.2f} s | {t / len(dumps) * 1000:.0f} ms | {same} |", flush=True)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


def bench_no_vmlinux(dump_names: list[str], runs: int) -> int:
    """Start-up plus `sys` and `bt`: crash and crashpy with the debug vmlinux, crashpy without it."""
    import tempfile

    from tests.oracle import crash_binary
    from tools.vmcores import ensure

    def timed(argv: list[str], cold: bool) -> float:
        times = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as fresh:
                run_env = {**env(), "CRASHPY_CACHE": fresh} if cold else env()
                t0 = time.perf_counter()
                subprocess.run(argv, input="sys\nbt\nq\n", text=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=run_env, check=False)
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    print(f"runs: {runs}   machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the start")
    print("| dump | crash 8.0.6 + vmlinux | crashpy + vmlinux, cold / warm caches "
          "| crashpy, dump alone, cold / warm caches | alone / crash (warm) |")
    print("|---|---:|---:|---:|---:|")
    for dump_name in dump_names:
        paths = ensure([dump_name])
        vmlinux, dump = str(paths["vmlinux"]), str(paths[dump_name])
        crash = timed([str(crash_binary()), "-s", "--no_crashrc", "--no_scroll", vmlinux, dump], False)
        with_cold = timed([sys.executable, "-m", "crashpy", "-s", vmlinux, dump], True)
        with_warm = timed([sys.executable, "-m", "crashpy", "-s", vmlinux, dump], False)
        alone_cold = timed([sys.executable, "-m", "crashpy", "-s", dump], True)
        alone_warm = timed([sys.executable, "-m", "crashpy", "-s", dump], False)
        print(f"| {dump_name} | {crash:.2f} s | {with_cold:.2f} / {with_warm:.2f} s | {alone_cold:.2f} / "
              f"{alone_warm:.2f} s | {alone_warm / crash:.2f} |", flush=True)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", action="append", help="a test dump's name (tools/vmcores.py); repeat for several")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--per-task", action="store_true",
                    help="ps, ps -t, runq, bt -a, foreach bt and foreach vm in fresh sessions, per task, on each --dump")
    ap.add_argument("--only", action="append",
                    help="with --per-task: time only this command (after ps); repeat for several")
    ap.add_argument("--memory", action="store_true",
                    help="kmem -i/-s/-S/-f, kmem <address>, search -k, vm, foreach vm and vtop in fresh "
                         "sessions on each --dump")
    ap.add_argument("--system", action="store_true",
                    help="foreach files, foreach net -s, irq -s, timer, timer -r, mount, dev -d and mod -S "
                         "in fresh sessions on each --dump")
    ap.add_argument("--triage", action="store_true",
                    help="crashpy triage over ten dumps on 1 and 2 worker processes and on a Dask LocalCluster")
    ap.add_argument("--no-vmlinux", action="store_true",
                    help="start-up, sys and bt: crash and crashpy with the debug vmlinux, crashpy with the dump alone")
    args = ap.parse_args()
    if args.no_vmlinux:
        return bench_no_vmlinux(args.dump or ["sysrq.d31.zlib"], args.runs)
    if args.triage:
        return bench_triage(args.runs)
    dumps = args.dump or ["sysrq.d31.zlib"]
    if args.per_task:
        return bench_per_task(dumps, args.runs, args.only)
    if args.memory:
        return bench_fresh(dumps, args.runs, MEMORY_COMMANDS, memory_placeholders)
    if args.system:
        return bench_fresh(dumps, args.runs, SYSTEM_COMMANDS, system_placeholders)
    for dump_name in dumps:
        bench_dump(dump_name, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
