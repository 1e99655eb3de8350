"""`whatis` and gdb's `ptype`/`whatis` on real dumps: crashpy against crash 8.0.6, in one session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashpy_runner import crash_differences

COMMANDS = [
    # structs, unions, enums, typedefs
    "whatis task_struct",
    "whatis struct list_head",
    "whatis sched_entity",
    "whatis -o task_struct",
    "whatis -o list_head",
    "whatis work_struct",
    "whatis file_operations",
    "whatis rcu_special",
    "whatis union rcu_special",
    "whatis struct page",
    "whatis pid_type",
    "whatis enum pid_type",
    "whatis hrtimer_restart",
    "whatis PIDTYPE_SID",
    "whatis HRTIMER_NORESTART",
    "whatis irqreturn_t",
    "whatis pid_t",
    "whatis u64",
    "whatis atomic_t",
    "whatis cpumask_t",
    "whatis work_func_t",
    "whatis bool",
    "whatis int",
    "whatis task_struct.pid",
    # symbols
    "whatis jiffies",
    "whatis linux_banner",
    "whatis init_task",
    "whatis saved_command_line",
    "whatis boot_cpu_data",
    "whatis sys_call_table",
    "whatis schedule",
    "whatis _printk",
    "whatis irq_stat",
    "whatis runqueues",
    "whatis avenrun",
    # expressions through gdb
    "whatis init_task.tasks",
    "whatis &init_task",
    "whatis sizeof(int)",
    # these make crash's gdb expand every symbol table: later look-ups of a variable may find a
    # declaration instead of the definition (`whatis linux_banner` then says `const char linux_banner[];`)
    "whatis -m pid_links",
    "whatis -r 3264",
    # gdb's ptype
    "ptype struct list_head",
    "ptype struct list_head *",
    "ptype struct task_struct",
    "ptype struct file_operations",
    "ptype union rcu_special",
    "ptype enum pid_type",
    "ptype atomic_t",
    "ptype work_func_t",
    "ptype int",
    "ptype unsigned long",
    "ptype init_task.se",
    "ptype init_task.tasks",
    "ptype jiffies",
    "ptype schedule",
    "ptype _printk",
    "ptype/o struct list_head",
    "ptype/o struct hlist_node",
    "ptype/o struct rq",
    "ptype/o struct sched_entity",
    # what crash refuses
    "whatis foo",
    "whatis struct foo",
    "whatis cpu_online_mask",
    "ptype foo",
    "ptype struct foo",
    "ptype struct rcu_special",
    "ptype/o struct rcu_special",
    "whatis",
]

KNOWN_DIFFERENCES = {
    "ptype/o struct task_struct": "BTF cannot tell `u8 x[0]` from a flexible `u8 x[]`: gdb prints [0] from DWARF",
}


def compare(paths: dict[str, Path], commands: list[str], dump: str = "sysrq.elf") -> list[tuple[str, str, str]]:
    return crash_differences(paths["vmlinux"], paths[dump], commands)


@pytest.mark.parametrize("dump", ["sysrq.elf", "la57.elf"])  # 4- and 5-level paging, KASLR off and on
def test_whatis_and_ptype_match_crash(paths: dict[str, Path], dump: str) -> None:
    bad = compare(paths, COMMANDS, dump)
    assert not bad, "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)


@pytest.mark.parametrize("command", sorted(KNOWN_DIFFERENCES))
def test_known_differences(paths: dict[str, Path], command: str) -> None:
    if compare(paths, [command]):
        pytest.xfail(KNOWN_DIFFERENCES[command])
