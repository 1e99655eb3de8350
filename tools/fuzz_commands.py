"""The command fuzzer (tools/fuzz.py commands): crash's commands with random and boundary arguments.

Every command crashpy knows (its registry), but the ones that leave the session or run code of the
user's (q, exit, py, !, extend's loading), each with a few arguments drawn from: its own option
letters and others, boundary and overflowing numbers, negative numbers, known and unknown symbols,
types and members, deep and recursive expressions, cpu and pid lists, and addresses in every hole of
the x86_64 address space (user space, the non-canonical gap, the guard holes between the kernel's
regions, the end of memory). All run in one session on a real dump, in a process of its own; each
command has the time limit, and the process's peak memory is measured at the end.
"""

from __future__ import annotations

import random
import resource
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.fuzz import MEMORY_LIMIT, TIME_LIMIT, CappedOutput, CaseTimeout, Outcome, OutputLimit, _context

SKIP = {"q", "quit", "exit", "py", "!", "extend"}

NUMBERS = [
    "0", "1", "-1", "2", "7", "4096", "0x7fffffff", "0x80000000", "0xffffffff", "4294967296", "-2147483649",
    "0x7fffffffffffffff", "0x8000000000000000", "0xffffffffffffffff", "18446744073709551616",
    "99999999999999999999999999", "-0", "0x", "08", "1e9", "0b101", "12abc",
]
ADDRESSES = [
    "0", "0x1000", "0x400000", "0x7ffffffff000", "0x7fffffffffff",  # user space
    "0x800000000000", "0x0000800000000000", "0x7fffffffffffff00",  # past user space: the non-canonical gap
    "0xffff800000000000", "0xffff87ffffffffff",  # the guard hole before the direct map
    "0xffff888000000000", "0xffff888fffffffff", "0xffffc87fffffffff",  # the direct map and past its end
    "0xffffc90000000000", "0xffffe8ffffffffff",  # vmalloc
    "0xffffea0000000000", "0xffffeaffffffffff",  # vmemmap
    "0xfffffe0000000000", "0xffffff0000000000",  # cpu entry area, %esp fixup stacks
    "0xffffffff80000000", "0xffffffff81000000", "0xffffffffa0000000",  # kernel text map
    "0xffffffffc0000000", "0xfffffffffeffffff",  # modules
    "0xffffffffff600000", "0xfffffffffffff000", "0xffffffffffffffff",  # vsyscall, the last page
]
SYMBOLS = ["init_task", "jiffies", "schedule", "modules", "linux_banner", "runqueues", "panic", "nosuch_symbol",
           "init_task+8", "schedule+0x10000", "_end", "__per_cpu_start"]
TYPES = ["task_struct", "struct list_head", "union thread_union", "page", "nosuch_type", "struct nosuch",
         "task_struct.comm", "task_struct.nosuch", "task_struct.tasks.next", "int", "char *"]
EXPRESSIONS = ["(1+2)", "(1/0)", "(-1)", "(0xffffffffffffffff+1)", "(" * 64 + "1" + ")" * 64,
               "(" * 3000 + "1" + ")" * 3000, "init_task.tasks.next->next", "*(long *)0", "&init_task",
               "sizeof(struct task_struct)", "init_task.comm[99999]", "$1", "$$", "(char)256", "1 ? 2 : 3"]
OTHER = ["-", "--", "-1", "-x", "-d", "-a", "-s", "-l", "-u", "-k", "-p", "-c", "-C", "-f", "-F", "-g", "-m",
         "-t", "-r", "-R", "-S", "-v", "-V", "-z", "-n", "-o", "-i", "-e", "-h", "-x -d", "0-1000", "0,1,99",
         "all", "cpu", "0-", "-0", "99999", "1 2 3 4 5 6 7 8 9", "\\", "'", '"', "%", "*", ",", ".", "..",
         "comm", "init", "swapper/0", "| head -2", "-%", "-\u00e9"]


def commands() -> list[str]:
    from crashpy.commands.registry import MODULES

    return sorted(name for name in MODULES if name not in SKIP)


def command_lines(count: int, seed: int, names: list[str]) -> Iterator[str]:
    rng = random.Random(seed)
    pools = [NUMBERS, ADDRESSES, SYMBOLS, TYPES, EXPRESSIONS, OTHER]
    for _ in range(count):
        name = rng.choice(names)
        args = []
        for _k in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            args.append(rng.choice(rng.choice(pools)))
        yield " ".join([name, *args])


def _alarm(_signum: int, _frame: object) -> None:
    raise CaseTimeout()


def _child(count: int, seed: int, vmlinux: str, dump: str, conn: Any) -> None:
    from crashpy.loader import open_program
    from crashpy.session import Session

    prog = open_program(vmlinux, [dump])
    out = CappedOutput()
    session = Session(prog, out)
    signal.signal(signal.SIGALRM, _alarm)
    results = []
    for line in command_lines(count, seed, commands()):
        out.seek(0)
        out.truncate()
        t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
        try:
            session.run_line(line)
            text = out.getvalue()
            bad = next((ln for ln in text.splitlines() if "internal error" in ln), None)
            result, detail = ("internal-error", bad) if bad else ("ok", "")
        except OutputLimit:
            result, detail = "ok", "output cut at the limit"
            session = Session(prog, out)
        except CaseTimeout:
            result, detail = "timeout", f"over {TIME_LIMIT:.0f} s"
            session = Session(prog, out)  # a command stopped half-way: a fresh session, as a user's Ctrl-C
        except BaseException as e:  # noqa: BLE001 - what a user would have seen as a traceback
            result, detail = "traceback", f"{type(e).__name__}: {e}"
            session = Session(prog, out)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        results.append((line, result, detail, time.monotonic() - t0))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    conn.send((results, rss))


def fuzz_commands(count: int, seed: int, vmlinux: Path, dump: Path) -> list[Outcome]:
    """`count` random command lines on `dump`, in one session in a process of its own."""
    ctx = _context()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(count, seed, str(vmlinux), str(dump), send))
    proc.start()
    send.close()
    limit = count * TIME_LIMIT + 60
    if not recv.poll(limit):
        proc.kill()
        return [Outcome("the whole run", "timeout", f"no answer in {limit:.0f} s")]
    try:
        results, rss = recv.recv()
    except EOFError:
        return [Outcome("the whole run", "traceback", f"the process died (exit {proc.exitcode})")]
    proc.join(5)
    outcomes = [Outcome(line, result, detail, secs, rss) for line, result, detail, secs in results]
    if rss > MEMORY_LIMIT:
        outcomes.append(Outcome("the whole run", "memory", f"{rss >> 20} MiB"))
    return outcomes
