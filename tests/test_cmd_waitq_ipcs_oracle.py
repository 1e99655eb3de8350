"""waitq and ipcs: crashpy against crash 8.0.6, text for text, one crash session per dump.

waitq: wait queue heads that are kernel variables (some with kernel threads asleep on them, some
empty), the same heads by address, each NUMA node's kswapd queue (pglist_data.kswapd_wait), the
wait_chldexit queue in the signal_struct of tasks of the dump (parents asleep in wait4() and idle
ones), a symbol that is no wait queue (a function's code: crash's fault; a variable: "empty"), and
bad input; on the makedumpfile -d 31 dumps, a queue head on a page left out.  ipcs: every option, -n with tasks of the dump, ids and addresses, and bad input.  The
test dumps hold no IPC objects, so ipcs prints crash's headers and "(none allocated)" lines.

A difference by design, which these dumps cannot show: crash 8.0.6 reads sem_array.sem_nsems (an int)
as a long, so its NSEMS takes complex_count into the upper half when semaphore operations wait;
crashpy reads the int.
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
from tests.test_address_space_oracle import _excluded_page
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
    "waitq signal_struct.wait_chldexit.head ffffffff81000000",
    "waitq .head ffffffff81000000",
    "waitq signal_struct. ffffffff81000000",
    "waitq pglist_data.kswapd_wait 0",
    "waitq log_wait extra",
    "waitq log_wait+8",
    "waitq -x",
    "waitq init_task",
    "ipcs -n 0",
    "ipcs 0x10",
    "ipcs -1",
    "ipcs -- 5",
    "ipcs -n1",
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
    excluded = _excluded_page(name) if name.endswith("d31.zlib") else None
    if excluded is not None:  # a queue head on a page makedumpfile left out: crash's fault line
        cmds += [f"waitq {excluded:x}", f"waitq signal_struct.wait_chldexit {excluded:x}"]
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


IPC_MEMBERS = [
    ("ipc_namespace", "ids"),
    ("ipc_ids", "in_use"),
    ("ipc_ids", "ipcs_idr"),
    ("idr", "idr_rt"),
    ("kern_ipc_perm", "key"),
    ("kern_ipc_perm", "id"),
    ("kern_ipc_perm", "uid"),
    ("kern_ipc_perm", "mode"),
    ("kern_ipc_perm", "deleted"),
    ("shmid_kernel", "shm_perm"),
    ("shmid_kernel", "shm_segsz"),
    ("shmid_kernel", "shm_nattch"),
    ("shmid_kernel", "shm_file"),
    ("sem_array", "sem_perm"),
    ("sem_array", "sem_nsems"),
    ("msg_queue", "q_perm"),
    ("msg_queue", "q_cbytes"),
    ("msg_queue", "q_qnum"),
    ("file", "f_path.dentry"),
    ("file", "f_op"),
    ("dentry", "d_inode"),
    ("inode", "i_mapping"),
    ("address_space", "nrpages"),
    ("shmem_inode_info", "vfs_inode"),
    ("shmem_inode_info", "swapped"),
]


def test_ipc_object_members_exist() -> None:
    """The test dumps hold no IPC object, so the object readers of helpers/ipc.py never meet one there:
    at least every member they read is in this kernel's types."""
    paths = ensure(["sysrq.elf"])
    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    missing = [f"{s}.{m}" for s, m in IPC_MEMBERS if not prog.has_member(s, m)]
    assert not missing


def test_ipc_object_lines() -> None:
    """An object's line as crash's printf formats lay it out (%08x of an int key, %-5d of the uid read
    as an int, %-5o of the mode's permission bits, shm's status words)."""
    from crashpy.commands.ipcs import header, object_line
    from crashpy.helpers.ipc import SEM_IDS, IpcObject

    shm = IpcObject("shm", 0xFFFF888004A3C000, -2, 32769, 0xFFFFFFFF, 0o1600, False, bytes=4097, nattch=2)
    shm.inode, shm.rss, shm.swap = 0xFFFF888004B00000, 1, 0
    assert object_line(shm) == "ffff888004a3c000 fffffffe 32769      -1    600   4097       2      dest \n"
    assert object_line(shm, True).splitlines()[1:] == [
        "PAGES ALLOCATED/RESIDENT/SWAPPED: 2/1/0",
        "INODE: ffff888004b00000",
    ]
    sem = IpcObject("sem", 0xFFFF888004A3D000, 0x1234, 0, 0, 0o666, False, nsems=3)
    assert object_line(sem) == "ffff888004a3d000 00001234 0          0     666   3         \n"
    msg = IpcObject("msg", 0xFFFF888004A3E000, 7, 1, 1000, 0o644, False, bytes=10, messages=1)
    assert object_line(msg) == "ffff888004a3e000 00000007 1          1000  644   10           1           \n"
    assert header(SEM_IDS) == "SEM_ARRAY        KEY      SEMID      UID   PERMS NSEMS     \n"
