"""waitq and ipcs: crashpy against crash 8.0.6, text for text, one crash session per dump.

waitq: wait queue heads that are kernel variables (some with kernel threads asleep on them, some
empty), the same heads by address, each NUMA node's kswapd queue (pglist_data.kswapd_wait), the
wait_chldexit queue in the signal_struct of tasks of the dump (parents asleep in wait4() and idle
ones), a symbol that is no wait queue (a function's code: crash's fault; a variable: "empty"), and
bad input.  ipcs: every option, -n with tasks of the dump, ids and addresses, and bad input.  The
test dumps hold no IPC objects, so ipcs prints crash's headers and "(none allocated)" lines.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING

import pytest

from crashpy.errors import CrashpyError
from crashpy.helpers.tasks import task_table
from crashpy.helpers.wait import waiting_entries
from tests.crashpy_runner import crash_differences, describe, program, run_crashpy
from tools.vmcores import ensure

if TYPE_CHECKING:
    from crashpy.program import Program

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "la57.elf", "scale.d31.zlib"]

WAIT_SYMBOLS = [
    "log_wait",
    "oom_reaper_wait",
    "kauditd_wait",
    "ksm_thread_wait",
    "khugepaged_wait",
    "jiffies",
]

BAD_INPUT = [
    "waitq",
    "waitq a b c",
    "waitq nosuch",
    "waitq zzz",
    "waitq 0",
    "waitq 1234",
    "waitq kthreadd",
    "waitq signal_struct.wait_chldexit",
    "waitq signal_struct.nosuch ffffffff81000000",
    "waitq nosuch_struct.head ffffffff81000000",
    "waitq signal_struct.wait_chldexit zz",
    "ipcs -x",
    "ipcs -n",
    "ipcs -n 99999",
    "ipcs -n zz",
    "ipcs zz",
    "ipcs 1 zz",
    "ipcs -s -x",
]

IPCS = ["ipcs", "ipcs -s", "ipcs -m", "ipcs -M", "ipcs -q", "ipcs -smq", "ipcs -M -s", "ipcs -n 1"]
IPCS += ["ipcs 0", "ipcs -M 5", "ipcs -q 0 1", "ipcs -s ffff888000000000", "ipcs -n 1 -m 7"]


def _signal(prog: Program, task: int) -> int:
    return prog.read_u64(task + prog.offsetof("task_struct", "signal"))


def _chldexit_heads(prog: Program) -> list[int]:
    """The signal_structs of up to 4 thread-group leaders with a child waiter and 4 without."""
    off = prog.offsetof("signal_struct", "wait_chldexit")
    busy: list[int] = []
    idle: list[int] = []
    for tc in task_table(prog).contexts:
        if tc.pid != tc.tgid or tc.pid == 0:
            continue
        sig = _signal(prog, tc.task)
        try:
            waiting = bool(waiting_entries(prog, sig + off))
        except CrashpyError:  # a queue crashpy cannot read is still compared with crash
            waiting = True
        (busy if waiting else idle).append(sig)
        if len(busy) >= 4 and len(idle) >= 4:
            break
    return busy[:4] + idle[:4]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    cmds = [f"waitq {s}" for s in WAIT_SYMBOLS if prog.has_symbol(s)]
    cmds += [f"waitq {prog.symbol_address(s):x}" for s in WAIT_SYMBOLS[:3] if prog.has_symbol(s)]
    node_data = prog.symbol_address("node_data")
    for i in range(2):
        pgdat = prog.read_u64(node_data + 8 * i)
        if pgdat:
            cmds.append(f"waitq pglist_data.kswapd_wait {pgdat:x}")
    cmds += [f"waitq signal_struct.wait_chldexit {sig:x}" for sig in _chldexit_heads(prog)]
    table = task_table(prog)
    user = [tc for tc in table.contexts if tc.mm][:2]
    cmds += [f"ipcs -n {tc.pid}" for tc in user] + [f"ipcs -s -n {tc.task:x}" for tc in user]
    return cmds + IPCS + BAD_INPUT


@pytest.mark.parametrize("name", DUMPS)
def test_waitq_ipcs_match_crash(name: str) -> None:
    paths = ensure([name])
    bad = crash_differences(paths["vmlinux"], paths[name], commands(name))
    assert not bad, describe(bad)


def test_some_queue_has_waiters() -> None:
    """The comparison above is not only of empty queues: on sysrq.elf kernel threads sleep on some."""
    paths = ensure(["sysrq.elf"])
    out = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], ["waitq oom_reaper_wait", "waitq kauditd_wait"])
    assert all(text.startswith("PID: ") for text in out), out


def test_json_documents() -> None:
    paths = ensure(["sysrq.elf"])
    text, doc_text, ipcs_doc = run_crashpy(
        paths["vmlinux"],
        paths["sysrq.elf"],
        ["waitq oom_reaper_wait", "waitq oom_reaper_wait --json", "ipcs --json"],
    )
    doc = json.loads(doc_text)
    assert [f"PID: {t['pid']:<7}" for t in doc["tasks"]] == [line[:12] for line in text.splitlines()]
    ipcs = json.loads(ipcs_doc)
    assert ipcs["shm"] == [] and ipcs["sem"] == [] and ipcs["msg"] == []
