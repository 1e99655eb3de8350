"""`p` and the gdb print commands crash passes through, on real dumps: crashpy against crash 8.0.6.

Each table runs as one session in both (the value history numbers `$N` must agree too). Addresses are
found through symbols so that the tables hold on KASLR dumps as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashpy_runner import crash_differences

P_COMMANDS = [
    # globals of every kind
    "p jiffies",
    "p jiffies_64",
    "p system_state",
    "p panic_on_oops",
    "p nr_threads",
    "p max_pfn",
    "p tick_do_timer_cpu",
    "p avenrun",
    "p modules",
    "p linux_banner",
    "p saved_command_line",
    "p init_uts_ns.name",
    "p init_uts_ns.name.release",
    "p nr_cpu_ids",
    "p -x nr_cpu_ids",
    "p -d jiffies",
    "p init_nsproxy",
    "p boot_cpu_data",
    "p init_task.comm",
    "p init_task.pid",
    "p init_task.stack",
    "p init_task.tasks",
    "p init_task.sched_class",
    "p *init_task.sched_class",
    "p init_task.sched_reset_on_fork",
    "p init_task.cpus_ptr",
    "p init_task.thread",
    "p init_task.pid_links",
    "p init_task.se",
    "p -x init_task.se",
    "p *init_task.fs",
    "p init_mm.pgd",
    "p &init_mm",
    "p &init_task",
    "p &init_uts_ns",
    "p ext4_file_operations",
    "p *init_task.signal",
    "p init_task",
    # functions
    "p schedule",
    "p &schedule",
    "p *schedule",
    # per-CPU
    "p runqueues",
    "p runqueues:1",
    "p -x runqueues:0",
    "p irq_stat",
    "p irq_stat:1",
    "p irq_stat:",  # an empty cpuspec: the current context's cpu (the panic task's)
    "p cpu_number:a",
    "p jiffies:1",
    # expressions
    "p 0x1f9",
    "p sizeof(struct task_struct)",
    "p sizeof(int)",
    "p sizeof(init_task)",
    "p sizeof init_task.comm",
    "p (1 << 40)",
    "p 0x7fffffff + 1",
    "p 0xffffffff + 1",
    "p 4294967295",
    "p (int)-1",
    "p (1 - 2)",
    "p 1 == 1",
    "p 10/3",
    "p 10 % 3",
    "p 1.5",
    "p (char)65",
    "p 1 ? 2 : 3",
    "p (long)&init_task",
    "p &init_task.tasks",
    "p &init_task.comm[3]",
    "p init_task.comm[0]",
    "p *init_task.comm@4",
    "p init_task.comm + 1",
    "p &((struct task_struct *)0)->tasks",
    "p (unsigned long)&((struct task_struct*)0)->comm",
    "p ((struct task_struct *)((char *)init_task.tasks.next - 2192))->comm",
    "p *(struct list_head *)&init_task",
    "p init_task.on_cpu + 1",
    "p jiffies + 100",
    "p PIDTYPE_SID",
    "p (enum pid_type)1",
    "p $",
    "p $1",
    "p $$2",
    # what crash refuses
    "p foo",
    "p init_task.foo",
    "p init_task.comm.foo",
    "p *(int *)0",
    "p 10 / 0",
    "p 1 +",
    "p 1 - 2",
    "p -1",
    "p",
    "p -x -d jiffies",
]

GDB_COMMANDS = [
    "p/x jiffies",
    "p/x init_task.comm",
    "p/x init_task.se",
    "p/d init_task.stack",
    "p/u (char)-1",
    "p/t 255",
    "p/o 8",
    "p/c 65",
    "p/x -1",
    "p/a init_task.stack",
    "p/a schedule",
    "p/s init_task.comm",
    "p/d PIDTYPE_SID",
    "p/x runqueues:1",
    "print jiffies",
    "output init_task.pid",
    "gdb p init_task.comm",
    "p/q jiffies",
]

# Where crashpy differs from crash, and why.
KNOWN_DIFFERENCES: dict[str, str] = {}


def compare(paths: dict[str, Path], dump: str, commands: list[str]) -> list[tuple[str, str, str]]:
    return crash_differences(paths["vmlinux"], paths[dump], commands)


@pytest.mark.parametrize("dump", ["sysrq.elf", "kaslr.elf", "la57.elf"])
def test_p_matches_crash(paths: dict[str, Path], dump: str) -> None:
    bad = compare(paths, dump, P_COMMANDS)
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)


def test_gdb_print_matches_crash(paths: dict[str, Path]) -> None:
    bad = compare(paths, "sysrq.elf", GDB_COMMANDS)
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)


@pytest.mark.parametrize("command", sorted(KNOWN_DIFFERENCES))
def test_known_differences(paths: dict[str, Path], command: str) -> None:
    bad = compare(paths, "sysrq.elf", [command])
    if bad:
        pytest.xfail(KNOWN_DIFFERENCES[command])
