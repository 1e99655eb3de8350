"""dis on real dumps: crashpy against crash 8.0.6 on the same file, byte for byte.

All commands of a dump run in one session on each side, in the order listed: crash's symbol look-ups
remember where the last one ended (symbols.c symval_hash_search), which decides the name printed for
an address that several symbols share (`<_stext>` or `<startup_64>`), so the order is compared too.
"""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

import pytest

from tests.crashpy_runner import program, run_crashpy
from tests.kernel_facts import function_end as kernel_function_end
from tests.kernel_facts import symbol as kernel_symbol

# The functions on the test dumps' backtraces, entry code, retpolines, alternatives (memcpy,
# memset), static calls and keys, ftrace NOPs, BUG/WARN sites.
FUNCTIONS = [
    "sysrq_handle_crash", "__handle_sysrq", "write_sysrq_trigger", "proc_reg_write", "vfs_write",
    "ksys_write", "__x64_sys_write", "do_syscall_64", "entry_SYSCALL_64", "startup_64", "panic",
    "__schedule", "schedule", "native_safe_halt", "default_idle", "default_idle_call", "do_idle",
    "cpu_startup_entry", "__list_add_valid", "__list_del_entry_valid", "copy_process", "memcpy",
    "memset", "memmove", "__x86_indirect_thunk_rax", "__x86_indirect_thunk_r11",
    "__x86_return_thunk", "do_exit", "make_task_dead", "oops_end", "die", "do_trap",
    "do_error_trap", "exc_invalid_op", "handle_bug", "asm_exc_invalid_op", "page_fault_oops",
    "exc_page_fault", "asm_exc_page_fault", "do_user_addr_fault", "kernel_init", "ret_from_fork",
    "__crash_kexec", "crash_kexec", "native_machine_crash_shutdown", "crash_save_cpu",
    "smp_call_function_single", "mutex_lock", "_raw_spin_lock", "_raw_spin_lock_irqsave",
    "__cond_resched", "schedule_timeout", "kmem_cache_alloc", "kfree", "_printk", "vprintk_emit",
    "__warn", "report_bug", "find_bug", "load_module", "finish_task_switch", "switch_mm_irqs_off",
    "__switch_to_asm", "__switch_to", "native_write_cr4", "rcu_note_context_switch",
    "irq_enter_rcu", "sysvec_apic_timer_interrupt", "asm_sysvec_apic_timer_interrupt",
    "native_sched_clock", "ktime_get", "arch_cpu_idle", "swapgs_restore_regs_and_return_to_usermode",
]  # fmt: skip

# Options, counts, offsets, ranges and errors, on top of `dis` and `dis -l` of every function.
EXTRA = [
    "dis -x sysrq_handle_crash",
    "dis -d sysrq_handle_crash",
    "dis -r sysrq_handle_crash+10",
    "dis -f sysrq_handle_crash+10",
    "dis -lr sysrq_handle_crash+10",
    "dis -lf __handle_sysrq+100",
    "dis sysrq_handle_crash 3",
    "dis sysrq_handle_crash+5 2",
    "dis sysrq_handle_crash+5",
    "dis -x __schedule 20",
    "dis -r panic+150",
    "dis -r panic+150 5",
    "dis {text:#x} 5",
    "dis (sysrq_handle_crash+5) 2",
    "dis -s sysrq_handle_crash",
    "dis foo",
    "dis 0x1234",
    "dis 0x1234 3",
    "dis",
    "dis -z foo",
    "dis -r -f panic",
    "dis -d -x panic",
    "dis -b",
    "dis sysrq_handle_crash 0",
    "dis -x -l panic 12",
]

# User space of the panic task (crash's current context): the same process on the sysrq dumps;
# {user_rip} is where it entered the kernel (the user RIP of its backtrace).
USER = ["dis -u {user_rip:#x} 12", "dis -u 0x1000 2", "dis -u 0x400000"]

FRAME_RE = re.compile(r"^ *#\d+ \[[0-9a-f]+\] \S+ at ([0-9a-f]+)$", re.M)  # not a module's ([name])
RIP_RE = re.compile(r"^ +RIP: ([0-9a-f]{16}) ", re.M)


@cache
def bt_addresses(vmlinux: Path, bug_dump: Path) -> list[str]:
    """The kernel return addresses on the bug dump's backtrace as crash shows them (the same kernel
    text on every dump without KASLR): `dis -r` from each function's start up to the call, as one
    reads a backtrace."""
    from tests.oracle import run_crash

    (bt,) = run_crash(vmlinux, bug_dump, ["bt"])
    found = FRAME_RE.findall(bt)
    assert len(found) >= 8, bt
    return found


@cache
def user_rip(vmlinux: Path, sysrq_dump: Path) -> int:
    """The user-mode RIP of the sysrq dumps' panic task (the echo writing to /proc/sysrq-trigger)."""
    from tests.oracle import run_crash

    (bt,) = run_crash(vmlinux, sysrq_dump, ["bt"])
    rip = int(RIP_RE.findall(bt)[-1], 16)
    assert 0 < rip < 0x800000000000, bt
    return rip

DUMPS = ["sysrq.elf", "kaslr.elf", "bug.elf", "sysrq.d31.zlib", "la57bug.elf", "la57.d31.zlib"]


def _random_functions(vmlinux: Path, dump: Path, n: int) -> list[str]:
    """`n` text symbols picked at random (fixed seed) among the unique names of vmlinux's .symtab."""
    from crashpy.symbols.crash_view import crash_symtab

    prog = program(vmlinux, dump)
    table = crash_symtab(prog)
    assert prog.image is not None and prog.image.symtab is not None
    raw, strtab = prog.image.symtab.rows(), prog.image.symtab.strtab
    names = set()
    for st_name, st_info, _o, _s, _v, size in raw:
        if st_info & 0xF == 2 and size:
            name = strtab[st_name : strtab.index(b"\0", st_name)].decode()
            if "." not in name and table.name_count(name) == 1:
                names.add(name)
    return random.Random(5).sample(sorted(names), n)


def commands_for(vmlinux: Path, dump: Path, name: str) -> list[str]:
    cmds = []
    for f in FUNCTIONS:
        cmds += [f"dis {f}", f"dis -l {f}"]
    cmds += [c.format(text=kernel_symbol(vmlinux, "_text")) for c in EXTRA]
    if name.startswith("sysrq"):
        cmds += [c.format(user_rip=user_rip(vmlinux, dump.with_name("sysrq.elf"))) for c in USER]
    # the bug dump's return addresses (no KASLR), moved by this dump's KASLR offset
    slide = program(vmlinux, dump).kaslr_offset
    returns = [f"{int(a, 16) + slide:x}" for a in bt_addresses(vmlinux, dump.with_name("bug.elf"))]
    start, end = kernel_symbol(vmlinux, "vfs_write") + slide, kernel_function_end(vmlinux, "vfs_write") + slide
    cmds += [f"dis -f {a}" for a in returns if start < int(a, 16) < end]  # vfs_write's call on
    cmds += [f"dis -r {a}" for a in returns] + [f"dis -lr {a} 6" for a in returns]
    if name == "sysrq.elf":
        cmds += [f"dis {f}" for f in _random_functions(vmlinux, dump, 400)]
    return cmds


@cache
def outputs(vmlinux: Path, dump: Path, name: str) -> tuple[list[str], list[str], list[str]]:
    from tests.oracle import run_crash

    commands = commands_for(vmlinux, dump, name)
    return commands, run_crash(vmlinux, dump, commands), run_crashpy(vmlinux, dump, commands)


@pytest.mark.parametrize("name", DUMPS)
def test_dis_matches_crash(paths: dict[str, Path], name: str) -> None:
    commands, expected, got = outputs(paths["vmlinux"], paths[name], name)
    mismatched = [c for c, e, g in zip(commands, expected, got, strict=True) if e != g]
    for command, exp, mine in zip(commands, expected, got, strict=True):
        assert mine == exp, f"{command!r} differs (all that differ: {mismatched})"


def test_every_function_is_disassembled(paths: dict[str, Path]) -> None:
    """The list is real: each function exists on this kernel and prints more than one line."""
    commands, expected, _got = outputs(paths["vmlinux"], paths["sysrq.elf"], "sysrq.elf")
    out = dict(zip(commands, expected, strict=True))
    assert len(FUNCTIONS) >= 40
    for f in FUNCTIONS:
        assert out[f"dis {f}"].count("\n") > 1, f
        assert out[f"dis -l {f}"].count(": ") > 1, f
