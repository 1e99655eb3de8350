"""bt on every test dump: crashpy against crash 8.0.6 on the same file, frame for frame.

Every task of every dump is traced with `bt`, `bt -f`, `bt -F` and `bt -l` (by task address, so pid 0's
per-cpu idle tasks are each traced), plus a set of options on the panic task and a sleeping task.

One difference is named and checked instead: the active task of the CPU that the panic stopped, with
its reboot IPI or, in nmi.elf, with an NMI (spinning in a kthread with interrupts off).  crash 8.0.6 cannot unwind it ("bt: invalid size request: 0  type: "stack contents""
then "read of stack at fffffe0000014000 failed"): it sizes an IST slot it cannot name (the #MC
stack, unused under QEMU) as 0 bytes and gives up the task there.  crashpy skips that slot and
prints the task's real state in crash's format: the exception RIP in stop_this_cpu from the CPU's
NT_PRSTATUS note, then the reboot IPI's frames and what it interrupted, or the NMI stack in the
cpu_entry_area (smp_stop_nmi_callback ... end_repeat_nmi), the pt_regs of the interrupted
oracle_spin_irqs_off and the kthread's frames.  The same slot makes crash's `bt -E` end with "unrecognized
stack address"; crashpy lists the remaining stacks.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from crashpy.helpers.tasks import task_table
from tests.bt_compare import console_functions, explained
from tests.crashpy_runner import program, run_crashpy
from tests.dump_names import WITH_NMI
from tests.oracle import run_crash
from tools.vmcores import ensure

DUMPS = WITH_NMI

OPTIONS = [
    "bt",
    "bt -p",
    "bt -f",
    "bt -l",
    "bt -s",
    "bt -sx",
    "bt -sd",
    "bt -t",
    "bt -T",
    "bt -o",
    "bt -e",
    "bt -r",
    "bt -R panic",
    "bt -R schedule",
    "bt -R nosuchsymbol",
    "bt 1",
    "bt 2",
    "bt 0",
    "bt -t 2",
    "bt -s 2",
    "bt -l 2",
    "bt -f 2",
    "bt -F 2",
    "bt -FF 2",
    "bt -F",
    "bt -e 2",
    "bt -R schedule 2",
    "bt -g 1",
    "bt 1 2",
    "bt 9999",
    "bt nosuchtask",
    "bt -c 5",
    "bt -c 1",
    "bt -z",
    "bt -v",
    "bt -x -d",
    "bt -I nosuch 2",  # crash 8.0.6 segfaults on a good -I or -S; its error for a bad one is compared
]


@cache
def _paths() -> tuple[Path, dict[str, Path]]:
    built = ensure()
    return built["vmlinux"], built


@cache
def _commands(name: str) -> tuple[str, ...]:
    vmlinux, dumps = _paths()
    table = task_table(program(vmlinux, dumps[name]))
    cmds = list(OPTIONS)
    for opt in ("", "-f ", "-l ", "-F "):
        cmds += [f"bt {opt}{tc.task:x}" for tc in table.contexts]
    cmds += ["bt -a"]
    return tuple(cmds)


@cache
def _outputs(name: str) -> tuple[list[str], list[str]]:
    vmlinux, dumps = _paths()
    cmds = list(_commands(name))
    return run_crash(vmlinux, dumps[name], cmds), run_crashpy(vmlinux, dumps[name], cmds)


def _stopped_cpu_tasks(name: str) -> list[int]:
    """The tasks running on the CPUs the panicking one stopped (one per CPU but the panic's)."""
    vmlinux, dumps = _paths()
    table = task_table(program(vmlinux, dumps[name]))
    return [t for cpu, t in enumerate(table.active) if cpu != table.panic_cpu]


def _console(name: str) -> set[str]:
    _vmlinux, dumps = _paths()
    return console_functions(dumps[name].with_name(name.split(".", 1)[0] + ".console"))


def _crash_failed(text: str) -> bool:
    return "read of stack at fffffe" in text


@pytest.mark.parametrize("name", DUMPS)
def test_bt_equals_crash(name: str, crash_bin: object) -> None:
    crash, ours = _outputs(name)
    cmds = _commands(name)
    stopped = _stopped_cpu_tasks(name)
    mismatches = []
    compared = crash_wrong = 0
    console = _console(name)
    for cmd, want, got in zip(cmds, crash, ours, strict=True):
        if cmd == "bt -a":
            continue
        if _crash_failed(want):
            # the stopped CPU's task (checked in test_bt_stopped_cpu_better_than_crash)
            assert "read of stack" not in got and any(f"{t:x}" in got for t in stopped)
            continue
        compared += 1
        if want != got and explained(want, got, console):
            crash_wrong += 1  # crash's stale or lost frames (tests/bt_compare.py)
        elif want != got:
            mismatches.append(f"--- {cmd}\ncrash:\n{want}\ncrashpy:\n{got}")
    print(f"{name}: {compared - crash_wrong} bt invocations equal crash's, {crash_wrong} differ where crash is wrong")
    assert not mismatches, "\n".join(mismatches[:3])


@pytest.mark.parametrize("name", DUMPS)
def test_bt_a_every_cpu_crash_unwinds(name: str, crash_bin: object) -> None:
    crash, ours = _outputs(name)
    k = _commands(name).index("bt -a")
    want_blocks = crash[k].split("\n\n")
    got_blocks = ours[k].split("\n\n")
    assert len(want_blocks) == len(got_blocks)
    same = 0
    for want, got in zip(want_blocks, got_blocks, strict=True):
        if _crash_failed(want):
            assert want.splitlines()[0] == got.splitlines()[0]  # the same task header
            continue
        assert explained(want.rstrip("\n"), got.rstrip("\n"), _console(name))
        same += 1
    assert same >= 1


@pytest.mark.parametrize("name", DUMPS)
def test_bt_stopped_cpu_better_than_crash(name: str, crash_bin: object) -> None:
    for stopped in _stopped_cpu_tasks(name):
        _check_stopped_cpu(name, stopped)


def _check_stopped_cpu(name: str, stopped: int) -> None:
    crash, ours = _outputs(name)
    k = _commands(name).index(f"bt {stopped:x}")
    if not _crash_failed(crash[k]):
        assert crash[k] == ours[k]
        return
    got = ours[k]
    assert "read of stack" not in got
    lines = got.splitlines()
    assert lines[1].startswith("    [exception RIP: stop_this_cpu+")
    assert not any(line.startswith("bt: ") for line in lines)
    if name == "nmi.elf":
        # stopped by the NMI while spinning with interrupts off: the NMI stack, then the kthread
        assert any("] smp_stop_nmi_callback at " in line for line in lines)
        assert "--- <NMI exception stack> ---" in lines
        after = lines[lines.index("--- <NMI exception stack> ---") + 1 :]
        assert after[0].split("] ", 1)[1].startswith("oracle_spin_irqs_off at ")
        assert after[0].endswith(" [oracle_crash]")
        assert [line.split("] ", 1)[1].split(" at ")[0] for line in after[1:]] == ["kthread", "ret_from_fork"]
        return
    # stopped by the reboot IPI: its handler's frames, then what it interrupted (user mode, or kernel
    # code on the task's stack or on the IRQ stack, depending on where the CPU was)
    assert any("sysvec_reboot at " in line for line in lines)
    assert lines[-1].startswith("    ORIG_RAX: ") or lines[-1].split(" at ")[0].endswith(
        ("ret_from_fork", "kthread", "secondary_startup_64_no_verify")  # the last: an idle CPU
    )


def test_bt_frames_as_data(crash_bin: object) -> None:
    from crashpy.commands.bt import backtrace
    from crashpy.commands.bt_text import BtOptions
    from crashpy.session import Session

    vmlinux, dumps = _paths()
    prog = program(vmlinux, dumps["bug.elf"])
    table = task_table(prog)
    tc = table.by_task[table.panic_task]
    bt = backtrace(Session(prog), tc, BtOptions())
    names = [f.function for f in bt.frames]
    assert names[:4] == ["panic", "do_trap", "do_error_trap", "exc_invalid_op"]
    # after the exception frame, the module's frames (oracle_BUG itself shows only when its return
    # slot still holds a text address, which varies from boot to boot, in crash's output too)
    assert "oracle_trigger_write" in names
    assert next(f for f in bt.frames if f.function == "oracle_trigger_write").module == "oracle_crash"


def test_bt_bad_input_never_traceback(crash_bin: object) -> None:
    vmlinux, dumps = _paths()
    outs = run_crashpy(
        vmlinux, dumps["sysrq.elf"], ["bt -c x", "bt -c 0-9", "bt ffffffffffffffff", "bt -S 0", "bt -D dump"]
    )
    for out in outs:
        assert "Traceback" not in out and "internal error" not in out
        assert out.startswith("bt: ")


def test_bt_start_hooks(crash_bin: object) -> None:
    """-S and -I: crash 8.0.6 dies with SIGSEGV on `bt -S <stack address> <pid>`; crashpy starts the
    scan there (a sleeping task's saved resume point still skips its inactive_task_frame, as crash's
    scan does, so the scan begins 0x30 bytes above the given address)."""
    vmlinux, dumps = _paths()
    table = task_table(program(vmlinux, dumps["sysrq.elf"]))
    sleeper = min((tc for tc in table.contexts if tc.comm == "sleep"), key=lambda tc: tc.pid)
    plain = run_crashpy(vmlinux, dumps["sysrq.elf"], [f"bt {sleeper.pid}"])[0]

    def frames(text: str) -> list[tuple[int, str]]:
        out = []
        for line in text.splitlines():
            if line.startswith((" #", "#")):
                sp, rest = line.split("[", 1)[1].split("] ", 1)
                out.append((int(sp, 16), rest))
        return out

    whole = frames(plain)
    start = whole[1][0]  # schedule's slot: the scan starts past the inactive_task_frame's size above it
    slot, outside = run_crashpy(
        vmlinux, dumps["sysrq.elf"], [f"bt -S {start:x} {sleeper.pid}", f"bt -S ffff {sleeper.pid}"]
    )
    got = frames(slot)
    assert got == [f for f in whole if f[0] >= start + 0x30]
    assert slot.splitlines()[-7:] == plain.splitlines()[-7:]  # the same user-mode registers
    assert outside.splitlines()[1] == "bt: non-process stack address for this task: ffff"


def _cpu_blocks(text: str) -> dict[int, str]:
    """bt -a's text as one block a CPU (by its CPU: field), blank lines at the ends left out."""
    blocks: dict[int, str] = {}
    for block in re.split(r"\n(?=PID: )", text.strip("\n")):
        match = re.match(r"PID: \d+ +TASK: [0-9a-f]+ +CPU: (\d+)", block)
        assert match, block
        blocks[int(match.group(1))] = block.strip("\n")
    return blocks


def test_bt_on_dump_cut_short(crash_bin: object) -> None:
    """sysrq.elf cut at 40%: the per-cpu run queues are past the cut, so the active tasks come from
    the NT_PRSTATUS stack pointers (the task whose stack holds each one).  crash 8.0.6 does not start
    on this file; crashpy's bt of the panic task equals the whole dump's, and so does bt -a's for every
    CPU whose stack pointer lies in a task's stack.  A CPU the panic stopped while it ran on its IRQ
    stack (the reboot IPI came in an interrupt: it depends on the boot) has its stack pointer there;
    the IRQ stack (per-cpu memory) is past the cut too, so nothing left says which task that CPU ran,
    and crashpy says so in one line for that CPU and goes on."""
    from crashpy.dumpfile.notes import prstatus_registers
    from crashpy.helpers.tasks import stack_owner

    vmlinux, dumps = _paths()
    cut = run_crashpy(vmlinux, dumps["sysrq.elf.trunc40"], ["bt", "bt -a"])
    whole = run_crashpy(vmlinux, dumps["sysrq.elf"], ["bt", "bt -a"])
    assert cut[0] == whole[0]
    unknown = [int(m) for m in re.findall(r"^bt: cannot determine active task on cpu (\d+)$", cut[1], re.M)]
    rest = re.sub(r"^bt: cannot determine active task on cpu \d+\n", "", cut[1], flags=re.M)
    got, expected = _cpu_blocks(rest), _cpu_blocks(whole[1])
    assert got == {cpu: block for cpu, block in expected.items() if cpu not in unknown}
    prog = program(vmlinux, dumps["sysrq.elf"])
    regs = prstatus_registers(prog.dump.info.notes)
    for cpu in unknown:
        assert stack_owner(prog, task_table(prog), regs[cpu]["sp"]) is None, cpu
