"""autopsy on every test dump: the kind, the culprit, the file:line the kernel recorded, the task.

Each guest run crashes a known way (tools/trigger/oracle_crash.c, tools/vmcores.py), so the expected
culprit is the trigger's own function; file:line is read from the trigger's source, so the check holds
for any build of it.  Other facts (the CPU of a soft lockup, the blocked task's pid) come from the
dump's own log.  The signature must be equal for the same bug (with and without KASLR, 4- and
5-level paging, ELF and compressed) and differ across kinds.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.crashpy_runner import program, run_crashpy

TRIGGER = Path(__file__).resolve().parent.parent / "tools" / "trigger" / "oracle_crash.c"


def _source_line(function: str, statement: str) -> int:
    """The line of `statement` inside `function` in the trigger module's source."""
    lines = TRIGGER.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"static noinline \w+ {function}\(", line))
    return next(i for i in range(start, len(lines)) if statement in lines[i]) + 1


# dump -> (kind, culprit function (compiler suffixes aside), its module, file:line or None, task comm)
EXPECTED: dict[str, tuple[str, str, str | None, str | None, str]] = {
    "sysrq.elf": ("sysrq", "sysrq_handle_crash", None, None, "init"),
    "sysrq.d31.zlib": ("sysrq", "sysrq_handle_crash", None, None, "init"),
    "kaslr.elf": ("sysrq", "sysrq_handle_crash", None, None, "init"),
    "scale.d31.zlib": ("sysrq", "sysrq_handle_crash", None, None, "init"),
    "swap.elf": ("sysrq", "sysrq_handle_crash", None, None, "init"),
    "bug.elf": ("bug", "oracle_BUG", "oracle_crash", "BUG", "init"),
    "la57bug.elf": ("bug", "oracle_BUG", "oracle_crash", "BUG", "init"),
    "la57bug.d31.zlib": ("bug", "oracle_BUG", "oracle_crash", "BUG", "init"),
    "null.elf": ("null-deref", "oracle_null_write", "oracle_crash", None, "init"),
    "panic.elf": ("panic", "oracle_panic", "oracle_crash", None, "init"),
    "nmi.elf": ("panic", "oracle_nmi", "oracle_crash", None, "init"),
    "warn.d31.zlib": ("warn", "oracle_warn", "oracle_crash", "WARN", "init"),
    "softlockup.d31.zlib": ("soft-lockup", "oracle_softlockup", "oracle_crash", None, "init"),
    "hung.d31.zlib": ("hung-task", "oracle_wait_for_mutex", "oracle_crash", None, "oracle_waiter"),
    "list.d31.zlib": ("list-corruption", "oracle_list_corrupt", "oracle_crash", None, "init"),
    "gpf.d31.zlib": ("gpf", "oracle_gpf", "oracle_crash", None, "init"),
    "stack.d31.zlib": ("stack-overflow", "oracle_recurse", "oracle_crash", None, "init"),
    "oom.d31.zlib": ("oom", None, None, None, "hog"),  # type: ignore[dict-item]  # the allocation site varies
}
SOURCE_LINES = {"BUG": ("oracle_BUG", "BUG();"), "WARN": ("oracle_warn", "WARN_ON(1);")}


@functools.cache
def _autopsy(vmlinux: Path, dump: Path) -> Any:
    from crashpy.analysis.autopsy import autopsy

    return autopsy(program(vmlinux, dump))


def _plain(name: str) -> str:
    from crashpy.analysis.signature import plain_name

    return plain_name(name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_autopsy_finds_kind_culprit_line_and_task(dumps: dict[str, Path], name: str) -> None:
    kind, function, module, line_of, comm = EXPECTED[name]
    ev = _autopsy(dumps["vmlinux"], dumps[name])
    assert ev.kind == kind, ev.evidence
    assert ev.task is not None and ev.task.comm == comm
    assert ev.evidence and ev.signature and ev.backtrace
    if function is not None:
        assert ev.culprit is not None and _plain(ev.culprit.function) == function
        assert ev.culprit.module == module
    if line_of is not None:
        fn, statement = SOURCE_LINES[line_of]
        assert ev.culprit.source == f"oracle_crash.c:{_source_line(fn, statement)}"
        assert ev.culprit.source_from == "__bug_table"
    if module is not None:
        assert ev.module is not None and ev.module.name == module
        assert "O" in ev.module.taints and "out-of-tree module" in ev.module.taint_names


def test_null_write_fault(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["null.elf"])
    assert ev.fault is not None and ev.fault.address == 0 and ev.fault.access == "write"
    assert ev.exception == "page fault"
    assert any(d.marked for d in ev.disassembly)
    marked = next(d for d in ev.disassembly if d.marked)
    assert marked.address == ev.registers["ip"] and "(%r" in marked.text
    # the register that held the NULL pointer is among those the instruction read, with value 0
    assert 0 in ev.registers_used.values()


def test_gpf_names_the_poison(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["gpf.d31.zlib"])
    assert ev.fault is not None and ev.fault.address == 0xDEAD000000000100
    assert ev.fault.access == "write" and "LIST_POISON1" in ev.fault.note


def test_soft_lockup_cpu_and_watchdog(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["softlockup.d31.zlib"])
    console = dumps["softlockup.console"].read_text(errors="replace")
    cpu = int(re.search(r"soft lockup - CPU#(\d+) stuck", console).group(1))  # type: ignore[union-attr]
    assert ev.details["cpu"] == cpu and ev.task is not None and ev.task.cpu == cpu
    # the watchdog's own timestamps point at the same CPU
    stuck = ev.details["watchdog_seconds"]
    assert max(stuck, key=lambda c: stuck[c]) == cpu
    assert ev.exception == "timer interrupt"


def test_hung_task_lock_and_owner(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["hung.d31.zlib"])
    lock = ev.details["waits_on"]
    assert lock["type"] == "mutex" and lock["symbol"] == "oracle_mutex [oracle_crash]"
    assert lock["owner_task"]["comm"] == "oracle_holder"
    assert "oracle_hold" in lock["owner_backtrace"]
    assert ev.details["detected_by"]["comm"] == "khungtaskd"


def test_list_corruption_nodes(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["list.d31.zlib"])
    assert ev.details["operation"] == "list_del"
    symbols = {n["symbol"] for n in ev.details["nodes"]}
    assert any(s and s.startswith("oracle_nodes") for s in symbols), symbols
    assert any(s and s.startswith("oracle_decoy") for s in symbols), symbols


def test_oom_largest_user(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["oom.d31.zlib"])
    assert ev.details["largest"][0]["comm"] == "hog"
    assert ev.details["memory"]["free_kb"] < ev.details["memory"]["total_kb"]


def test_stack_overflow_recursion(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["stack.d31.zlib"])
    assert ev.exception == "double fault"
    assert ev.details["recursing_function"] == "oracle_recurse" and ev.details["frames_of_it"] > 10


def test_signature_same_bug_same_key(dumps: dict[str, Path]) -> None:
    def sig(name: str) -> str:
        return str(_autopsy(dumps["vmlinux"], dumps[name]).signature)

    assert sig("bug.elf") == sig("la57bug.elf") == sig("la57bug.d31.zlib")  # KASLR, 5-level, compressed
    assert sig("sysrq.elf") == sig("kaslr.elf") == sig("sysrq.d31.zlib") == sig("swap.elf")
    kinds = ["sysrq.elf", "bug.elf", "null.elf", "panic.elf", "nmi.elf", *(n for n in EXPECTED if ".d31" in n
                                                                          and n.split(".")[0] in
                                                                          ("warn", "softlockup", "hung", "list",
                                                                           "gpf", "stack", "oom"))]
    assert len({sig(n) for n in kinds}) == len(kinds)


def test_autopsy_command_text_and_json(dumps: dict[str, Path]) -> None:
    text, doc = run_crashpy(dumps["vmlinux"], dumps["bug.elf"], ["autopsy", "autopsy --json"])
    first = text.splitlines()[0]
    line = _source_line("oracle_BUG", "BUG();")
    assert first == f"     KIND: bug -- BUG() in oracle_BUG [oracle_crash] at oracle_crash.c:{line}"
    assert "DISASSEMBLY:" in text and "\n=> 0x" in text and "ud2" in text
    data = json.loads(doc)
    assert data["command"] == "autopsy" and data["kind"] == "bug"
    assert data["culprit"]["source"] == f"oracle_crash.c:{line}"
    assert data["signature"] in text
    assert re.fullmatch(r"0x[0-9a-f]+", data["task"]["address"])


def test_autopsy_usage_error(dumps: dict[str, Path]) -> None:
    (out,) = run_crashpy(dumps["vmlinux"], dumps["bug.elf"], ["autopsy -x"])
    assert out.strip() == "autopsy: usage: autopsy [--json]" or "usage: autopsy [--json]" in out


def test_cli_autopsy_prints_and_exits(dumps: dict[str, Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    run = subprocess.run([sys.executable, "-m", "crashpy", "--autopsy", str(dumps["vmlinux"]),
                          str(dumps["null.elf"])], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("     KIND: null-deref -- NULL pointer dereference in oracle_null_write")
    run = subprocess.run([sys.executable, "-m", "crashpy", "--autopsy", "--json", str(dumps["vmlinux"]),
                          str(dumps["null.elf"])], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["fault"]["address"] == "0x0"


def test_truncated_dump_does_not_stop_autopsy(dumps: dict[str, Path]) -> None:
    ev = _autopsy(dumps["vmlinux"], dumps["sysrq.d31.zlib.trunc40"])
    assert ev.kind in ("sysrq", "panic", "unknown")
