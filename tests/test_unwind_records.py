"""The unwinder returns data (crashpy.unwind): frames and exception frames as records, the same ones
`bt`'s text, `bt --json` and the Python API's backtrace() are written from."""

from __future__ import annotations

import io
import json
from pathlib import Path

from crashpy.api import Kernel
from crashpy.helpers.tasks import task_table
from crashpy.session import Session
from crashpy.unwind import Backtrace, ExceptionFrame, Frame, StackWords, UnwindOptions, unwind
from tests.crashpy_runner import program


def _panic_trace(vmlinux: Path, dumps: dict[str, Path], options: UnwindOptions | None = None) -> Backtrace:
    prog = program(vmlinux, dumps["bug.elf"])
    table = task_table(prog)
    return unwind(prog, table.by_task[table.panic_task], options)


def test_frames_as_records(vmlinux: Path, dumps: dict[str, Path]) -> None:
    bt = _panic_trace(vmlinux, dumps)
    frames = bt.frames
    assert bt.error is None and frames
    assert [f.level for f in frames] == list(range(len(frames)))
    assert [f.function for f in frames[:4]] == ["panic", "do_trap", "do_error_trap", "exc_invalid_op"]
    for f in frames:
        assert isinstance(f, Frame)
        assert f.sp % 8 == 0 and f.pc >= 0xFFFFFFFF80000000
        assert f.source is None  # only when asked
    # the stack slots rise from the innermost frame on the task's stack
    process = [f.sp for f in frames[4:]]
    assert process == sorted(process)
    # a module's frame names its module; vmlinux's do not
    mod = next(f for f in frames if f.function == "oracle_trigger_write")
    assert mod.module == "oracle_crash" and mod.offset > 0
    assert frames[0].module is None


def test_exception_frames_as_records(vmlinux: Path, dumps: dict[str, Path]) -> None:
    bt = _panic_trace(vmlinux, dumps)
    eframes = bt.exception_frames
    assert eframes
    # the BUG's invalid-opcode trap: a kernel-mode pt_regs whose RIP is in the module's function
    trap = eframes[0]
    assert isinstance(trap, ExceptionFrame) and not trap.user_mode and not trap.from_note
    assert trap.regs["cs"] == 0x10 and trap.function is not None and trap.function.startswith("oracle_")
    assert set(trap.regs) >= {"ip", "sp", "flags", "orig_ax", "ax", "bx", "r15", "ss"}
    # the system call from user space at the top of the stack
    user = eframes[-1]
    assert user.user_mode and user.regs["cs"] & 3 == 3 and user.function is None
    assert user.address + 168 == max(f.sp for f in bt.frames) // 16384 * 16384 + 16384
    # entries keep bt's order: the trap's frame comes right before its exception frame
    k = bt.entries.index(trap)
    assert isinstance(bt.entries[k - 1], Frame) and bt.entries[k - 1].function == "asm_exc_invalid_op"


def test_options_gather_more(vmlinux: Path, dumps: dict[str, Path]) -> None:
    plain = _panic_trace(vmlinux, dumps)
    full = _panic_trace(vmlinux, dumps, UnwindOptions(stack_words=True, source_lines=True))
    assert [(f.sp, f.pc) for f in full.frames] == [(f.sp, f.pc) for f in plain.frames]
    assert any(isinstance(e, StackWords) and e.words for e in full.entries)
    vmlinux_frames = [f for f in full.frames if f.module is None]
    assert all(f.source and ": " in f.source for f in vmlinux_frames[:3])
    assert all(f.source is None for f in full.frames if f.module is not None)


def test_text_json_and_api_agree(vmlinux: Path, dumps: dict[str, Path]) -> None:
    prog = program(vmlinux, dumps["bug.elf"])
    bt = _panic_trace(vmlinux, dumps)
    out = io.StringIO()
    session = Session(prog, out)
    session.run_line("bt -p")
    text = out.getvalue()
    for f in bt.frames:
        mod = f" [{f.module}]" if f.module else ""
        assert f"#{f.level} [{f.sp:x}] {f.function} at {f.pc:x}{mod}" in text
    for e in bt.exception_frames:
        assert f"RIP: {e.regs['ip']:016x}  RSP: {e.regs['sp']:016x}" in text
    out.seek(0)
    out.truncate()
    session.run_line("bt --json -p")
    row = json.loads(out.getvalue())["tasks"][0]
    assert [(int(f["sp"], 16), f["function"], f["module"]) for f in row["frames"]] == [
        (f.sp, f.function, f.module) for f in bt.frames
    ]
    assert [int(e["registers"]["ip"], 16) for e in row["exception_frames"]] == [
        e.regs["ip"] for e in bt.exception_frames
    ]
    api = Kernel.of(prog).backtrace()
    assert [(f.sp, f.pc, f.function) for f in api] == [(f.sp, f.pc, f.function) for f in bt.frames]


def test_bt_text_from_records_without_a_dump() -> None:
    """bt's text is written from records alone (commands/bt_text.py): no dump needed."""
    from typing import Any, cast

    from crashpy.commands.bt_text import BtOptions, backtrace_lines, mentions
    from crashpy.unwind import StackChange

    regs = {name: 0 for name in ("ip", "sp", "cs", "ss", "flags", "orig_ax", "bp", "ax", "bx", "cx", "dx")}
    regs.update({name: 0 for name in ("si", "di", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")})
    regs.update(ip=0xFFFFFFFF81000010, sp=0xFFFFC90000013F00, cs=0x10, ss=0x18, flags=0x246, orig_ax=0xFFFFFFFFFFFFFFFF)
    bt = Backtrace(
        entries=[
            Frame(0, 0xFFFFC90000013D10, 0xFFFFFFFF819CD21A, "panic", offset=0x2E9),
            ExceptionFrame(0xFFFFC90000013E00, regs, False, "native_safe_halt", 0x10),
            StackChange("IRQ", exception=False),
            Frame(11, 0xFFFFC90000013F58, 0xFFFFFFFFC020E1EC, "oracle_trigger_write", "oracle_crash", 0xCC),
        ],
        error="read of stack at ffff failed",
    )
    prog = cast(Any, None)
    lines = backtrace_lines(prog, bt, BtOptions(), 10)
    assert lines[0] == " #0 [ffffc90000013d10] panic at ffffffff819cd21a"
    assert lines[1] == "    [exception RIP: native_safe_halt+16]"
    assert lines[2] == "    RIP: ffffffff81000010  RSP: ffffc90000013f00  RFLAGS: 00000246"
    assert lines[8] == "    ORIG_RAX: ffffffffffffffff  CS: 0010  SS: 0018"
    assert lines[9] == "--- <IRQ stack> ---"
    assert lines[10] == "#11 [ffffc90000013f58] oracle_trigger_write at ffffffffc020e1ec [oracle_crash]"
    assert lines[-1] == "bt: read of stack at ffff failed"
    hexed = backtrace_lines(prog, bt, BtOptions(symbol_offset=True, radix=16), 10)
    assert hexed[0] == " #0 [ffffc90000013d10] panic+0x2e9 at ffffffff819cd21a"
    assert mentions(bt, "panic") and mentions(bt, "ffffffff81000010") and not mentions(bt, "schedule")
