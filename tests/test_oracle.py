"""The oracle harness: crash 8.0.6 builds, and one session's output splits right per command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.kernel_facts import symbol as kernel_symbol
from tests.oracle import ORACLE_VERSION, _split, crash_binary, run_crash, run_crash_session

TOKEN = "@@CRASHPY-ORACLE-0123456789abcdef"


def test_split_silent() -> None:
    raw = (
        f"WARNING: something at start-up\n{TOKEN}-0@@\n"
        f"out 1  \n\n{TOKEN}-1@@\n"
        f"no newline{TOKEN}-2@@\n"
        f"{TOKEN}-3@@\n"
    )
    startup, outputs, completed, trailer = _split(raw, ["a", "b", "c"], TOKEN, silent=True)
    assert startup == "WARNING: something at start-up\n"
    assert outputs == ["out 1  \n\n", "no newline", ""]
    assert (completed, trailer) == (3, "")


def test_split_crash_died() -> None:
    raw = f"{TOKEN}-0@@\nfirst\n{TOKEN}-1@@\nsecond, then a fatal error\n"
    startup, outputs, completed, trailer = _split(raw, ["a", "b", "c"], TOKEN, silent=True)
    assert (startup, completed, trailer) == ("", 1, "")
    assert outputs == ["first\n", "second, then a fatal error\n", ""]
    startup, outputs, completed, _ = _split("crash: cannot open dump\n", ["a"], TOKEN, silent=True)
    assert (startup, outputs, completed) == ("crash: cannot open dump\n", [""], 0)


def test_split_not_silent() -> None:
    raw = (
        f"banner\n\ncrash> echo {TOKEN}-0@@\n{TOKEN}-0@@\n"
        f"crash> sys\n  KERNEL: vmlinux\ncrash> echo {TOKEN}-1@@\n{TOKEN}-1@@\n"
        f"crash> !printf x\nxcrash> echo {TOKEN}-2@@\n{TOKEN}-2@@\ncrash> q\n"
    )
    startup, outputs, completed, trailer = _split(raw, ["sys", "!printf x"], TOKEN, silent=False)
    assert (startup, outputs, completed, trailer) == ("banner\n\n", ["  KERNEL: vmlinux\n", "x"], 2, "")


def test_oracle_version() -> None:
    binary = crash_binary()
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert out.startswith(f"\ncrash {ORACLE_VERSION}\n")  # crash prints a blank line first


@pytest.fixture(scope="module")
def sysrq_dump() -> tuple[Path, Path]:
    vmcores = pytest.importorskip("tools.vmcores")
    try:
        paths = vmcores.ensure(["sysrq.elf"])
    except vmcores.BuildError as e:
        pytest.skip(f"test dumps not available: {e}")
    return paths["vmlinux"], paths["sysrq.elf"]


def test_run_crash_splits_per_command(sysrq_dump: tuple[Path, Path]) -> None:
    vmlinux, dump = sysrq_dump
    text = kernel_symbol(vmlinux, "_text")  # where the kernel image starts (nokaslr: its link address)
    commands = [
        "sys",
        "log",
        "rd -64 linux_banner 4",
        "sym no_such_symbol_crashpy",  # an error message lands in its own command's output
        "!printf 'no newline'",  # output without a final newline
        f"sym {text:x}",
        "eval 0x1f9",
    ]
    sys_, log, rd, bad_sym, shell, sym, eval_ = run_crash(vmlinux, dump, commands)
    assert all(commands) and all(o for o in (sys_, log, rd, bad_sym, sym, eval_))
    assert "@@CRASHPY-ORACLE-" not in "".join((sys_, log, rd, bad_sym, shell, sym, eval_))
    assert sys_.lstrip().startswith("KERNEL:") and "PANIC:" in sys_ and "Linux version" not in sys_
    assert "Linux version" in log and "KERNEL:" not in log
    assert rd.startswith("ffffffff") and len(rd.splitlines()) == 2 and "Linux ve" in rd
    assert bad_sym == "symbol not found: no_such_symbol_crashpy\npossible alternatives:\n  (none found)\n"
    assert shell == "no newline"
    assert sym.startswith(f"{text:x} (T) ") and sym.count("\n") == 1
    assert eval_.startswith("hexadecimal: 1f9") and "decimal: 505" in eval_ and eval_.endswith("\n")
    # The same call again is answered from the memo, and --minimal is a different session.
    assert run_crash(vmlinux, dump, commands)[0] == sys_
    session = run_crash_session(vmlinux, dump, ["eval 0x1f9"], minimal=True)
    assert session.ok and session.outputs == (eval_,)


def test_a_kept_open_crash_session_is_stored_as_a_session_of_its_own() -> None:
    """What the prefetcher stores for a session run in a kept-open crash is cut back, on loading from
    the disk cache, into the same outputs: each command's output between its marker and the next."""
    from tests.oracle import _TOKEN_RE, _split
    from tests.oracle_prefetch import _synthetic_session

    session = _synthetic_session(["sym jiffies", "eval 1"], "", ["ffffffff82a079c0 (D) jiffies\n", "x\n"])
    token = _TOKEN_RE.search(session.raw)
    assert token is not None
    startup, outputs, completed, trailer = _split(session.raw, session.commands, token.group(0), True)
    assert (startup, outputs, completed, trailer) == ("", list(session.outputs), 2, "")
