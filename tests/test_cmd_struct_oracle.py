"""`struct`, `union` and `*` on real dumps: crashpy against crash 8.0.6, one session per dump.

Addresses come from the dump itself (through crashpy's expression evaluator), so the same table runs on
KASLR dumps; `{name}` in a command is replaced by the address of that expression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashpy_runner import program, run_crashpy

ADDRESSES = {
    "init": "&init_task",
    "task": "(char *)init_task.tasks.next - 2192",
    "tasks": "&init_task.tasks",
    "rcu": "&init_task.rcu_read_unlock_special",
    "mm": "((struct task_struct *)((char *)init_task.tasks.next - 2192))->mm",
    "files": "((struct task_struct *)((char *)init_task.tasks.next - 2192))->files",
    "page": "(struct page *)0xffffea0000040000",
}

COMMANDS = [
    "struct list_head",
    "struct list_head -o",
    "struct task_struct -o",
    "struct task_struct",
    "struct task_struct.tasks",
    "struct task_struct.rcu_users",
    "struct task_struct.pid",
    "struct task_struct.comm -o",
    "struct task_struct.pid,comm",
    "struct list_head.prev -o",
    "struct hlist_node -o",
    "struct cpumask_t",
    "struct cpumask",
    "struct mm_struct",
    "struct page",
    "struct task_struct {init}",
    "struct task_struct {task}",
    "struct task_struct init_task",
    "struct task_struct.pid,comm,tgid {init}",
    "struct task_struct.pid,comm {task}",
    "struct task_struct.se {init}",
    "struct task_struct.se.avg {init}",
    "struct task_struct.se.avg.util_est {init}",
    "struct task_struct.se.load.weight,pid {init}",
    "struct task_struct.thread_info {init}",
    "struct task_struct.pid_links {init}",
    "struct task_struct.pid_links[1] {init}",
    "struct task_struct.thread.sp {init}",
    "struct task_struct.rcu_users {init}",
    "struct task_struct.sched_reset_on_fork,in_iowait {init}",
    "struct task_struct.mm,active_mm {task}",
    "struct task_struct.comm init_task",
    "struct task_struct.pid,comm -o {init}",
    "struct task_struct -o init_task",
    "struct -x task_struct.se {init}",
    "struct list_head {init}",
    "struct list_head {init} 2",
    "struct list_head -x {init}",
    "struct list_head -o {init}",
    "struct list_head {tasks} -c 2",
    "struct list_head {tasks} -2",
    "struct list_head.next {init}",
    "struct list_head -r {init}",
    "struct list_head -r -v {tasks}",
    "struct task_struct.comm -r {init}",
    "struct list_head -l task_struct.tasks {tasks}",
    "struct task_struct.pid -l task_struct.tasks {tasks}",
    "struct task_struct.comm -l 2192 {tasks}",
    "struct rq.nr_running runqueues:1",
    "struct rq.nr_running,nr_switches runqueues:a",
    "struct rq.cpu runqueues:0-1",
    "struct rq.cfs.nr_running runqueues:1",
    "struct rq runqueues:1",
    "struct mm_struct {mm}",
    "struct mm_struct.mmap_base init_mm",
    "struct mm_struct init_mm",
    "struct files_struct {files}",
    "struct page {page}",
    "union rcu_special",
    "union rcu_special {rcu}",
    "union rcu_special.b {rcu}",
    "union rcu_special.s {rcu}",
    "* list_head {tasks}",
    "* rcu_special {rcu}",
    "* pid_t",
    # -p: pointer members followed one level
    "struct task_struct.parent,real_cred,comm,sched_class -p {init}",
    "struct list_head -p {tasks}",
    "struct task_struct -p {task}",
    "struct task_struct.stack,mm,fs -p {task}",
    # what crash refuses
    "struct foo",
    "struct task_struct.foo",
    "struct task_struct.foo {init}",
    "struct task_struct ffff",
    "struct pid_t",
    "struct rcu_special",
    "struct list_head jiffies:1",
    "struct list_head foo",
    "struct",
    "struct task_struct.",
    "union list_head",
]


def commands_for(paths: dict[str, Path], dump: str, commands: list[str]) -> list[str]:
    from crashpy.expr import evaluate

    prog = program(paths["vmlinux"], paths[dump])
    where = {k: f"{int(evaluate(prog, f'(unsigned long)({v})').value_()):x}" for k, v in ADDRESSES.items()}
    return [c.format(**where) for c in commands]


@pytest.mark.parametrize("dump", ["sysrq.elf", "kaslr.elf", "la57.elf"])
def test_struct_matches_crash(paths: dict[str, Path], dump: str) -> None:
    from tests.oracle import run_crash

    commands = commands_for(paths, dump, COMMANDS)
    expected = run_crash(paths["vmlinux"], paths[dump], commands)
    got = run_crashpy(paths["vmlinux"], paths[dump], commands)
    bad = [(c, e, g) for c, e, g in zip(commands, expected, got, strict=True) if e != g]
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)


def test_struct_on_compressed_dump(paths: dict[str, Path]) -> None:
    """On a makedumpfile -d 31 dump: kernel data is there; excluded pages fail the same way."""
    from tests.oracle import run_crash

    commands = commands_for(
        paths,
        "sysrq.d31.zlib",
        ["struct task_struct.pid,comm {task}", "struct mm_struct.mmap_base,pgd {mm}", "struct list_head {tasks}"],
    )
    expected = run_crash(paths["vmlinux"], paths["sysrq.d31.zlib"], commands)
    got = run_crashpy(paths["vmlinux"], paths["sysrq.d31.zlib"], commands)
    assert got == expected


def test_datatype_commands(paths: dict[str, Path]) -> None:
    """A symbol or type name typed as a command (crash's is_datatype_command) and what it becomes; run
    through the rewritten command line, the output is crash's."""
    import io

    from crashpy.commands.struct import is_datatype_command
    from crashpy.session import Session
    from tests.oracle import run_crash

    prog = program(paths["vmlinux"], paths["sysrq.elf"])
    session = Session(prog, io.StringIO())
    init = f"{prog.symbol_address('init_task'):x}"
    cases = {
        f"task_struct {init}": f"struct task_struct {init}",
        "jiffies": "p jiffies",
        "pid_t": "whatis pid_t",
        "cpumask_t": "whatis cpumask_t",
        f"u32 {init}": f"rd -32 {init}",
        "u64 jiffies": "p jiffies",
        "enum pid_type": "whatis enum pid_type",
        f"list_head {init}": f"struct list_head {init}",
    }
    for typed, rewritten in cases.items():
        assert is_datatype_command(session, typed.split()) == rewritten.split(), typed
    assert is_datatype_command(session, ["nosuchthing"]) is None
    expected = run_crash(paths["vmlinux"], paths["sysrq.elf"], list(cases))
    got = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], list(cases.values()))
    assert got == expected
