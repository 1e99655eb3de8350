"""The REPL in a real pseudo-terminal (pexpect): completion, history, pipes, redirection, Ctrl-C, alias,
the pager, the history file.  Generous timeouts; nothing here measures time."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_cli import ROOT

pexpect = pytest.importorskip("pexpect")

PROMPT = "crash> "
TIMEOUT = 180
PROGRESS = re.compile(r"\r[^\r\n]*\x1b\[K")


class Repl:
    """One crashpy session in a pty; TERM=dumb so that prompt_toolkit writes the prompt as plain text."""

    def __init__(self, args: list[str], home: Path, env: dict[str, str] | None = None) -> None:
        full_env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "HOME": str(home),
            "TERM": "dumb",
            "CRASHPY_HISTORY": str(home / "history"),
            **(env or {}),
        }
        if "CRASHPAGER" not in (env or {}):
            full_env.pop("CRASHPAGER", None)
        self.child = pexpect.spawn(sys.executable, ["-m", "crashpy", *args], env=full_env, cwd=str(home),
                                   encoding="utf-8", timeout=TIMEOUT, dimensions=(50, 200))  # fmt: skip
        self.child.expect_exact(PROMPT)

    @staticmethod
    def _text(raw: str) -> str:
        """What the terminal shows: crashpy's progress line (`\rbuilding the symbol index: n/m\x1b[K`, on
        a terminal when work takes a moment, as on a loaded machine) is erased by its own `\r\x1b[K`."""
        return PROGRESS.sub("", raw).replace("\r\n", "\n").replace("\r", "")

    def run(self, line: str) -> str:
        """Type `line` and Enter; what was printed up to the next prompt (the echo of the line dropped)."""
        self.child.send(line + "\r")
        self.child.expect_exact(PROMPT)
        text = self._text(self.child.before)
        first, _, rest = text.partition("\n")
        # prompt_toolkit may render the accepted line a second time when the machine is slow
        while rest.startswith(line + "\n") or rest.startswith(PROMPT + line + "\n"):
            rest = rest.partition("\n")[2]
        return rest

    def recall(self, line: str, recalled: str) -> str:
        """Type a history recall; crash echoes the recalled line after a prompt before running it."""
        self.child.send(line + "\r")
        self.child.expect_exact(f"{PROMPT}{recalled}\r\n")
        self.child.expect_exact(PROMPT)
        return self._text(self.child.before)

    def close(self) -> int:
        self.child.sendline("q")
        self.child.expect(pexpect.EOF)
        self.child.close()
        return int(self.child.exitstatus)


@pytest.fixture
def repl(tmp_path: Path, dumps: dict[str, Path]) -> Iterator[Repl]:
    r = Repl(["-s", str(dumps["vmlinux"]), str(dumps["sysrq.elf"])], tmp_path)
    yield r
    if r.child.isalive():
        r.child.terminate(force=True)


def test_completion(repl: Repl) -> None:
    assert "init_task = $1 = {" in repl.run("p init_ta\t")  # a unique symbol: completed at once
    assert repl.run("struct task_struct.pi_to\tinit_task") == "  pi_top_task = 0x0,\n"
    # several candidates: their common part first, then (Tab again) the list of them
    repl.child.send("p jiffies_6\t\t")
    repl.child.expect_exact("jiffies_64_to_clock_t")
    assert "jiffies_64 = " in repl.run("")
    assert repl.run("lsmo\t").startswith("     MODULE       NAME")  # an alias completes as a command


def test_history_recall_and_file(repl: Repl, tmp_path: Path) -> None:
    assert "decimal: 17" in repl.run("eval 0x11")
    assert repl.recall("!!", "eval 0x11").startswith("hexadecimal: 11")
    assert "decimal: 5" in repl.run("eval 5")
    assert "decimal: 17" in repl.recall("r 1", "eval 0x11")
    assert "decimal: 5" in repl.recall("!3", "eval 5")
    assert "decimal: 5" in repl.recall("r ev", "eval 5")
    assert repl.run("h") == "[1] eval 0x11\n[2] eval 0x11\n[3] eval 5\n[4] eval 0x11\n[5] eval 5\n[6] eval 5\n"
    assert repl.close() == 0
    assert "+eval 0x11" in (tmp_path / "history").read_text()  # up-arrow history across sessions


def test_pipes_redirection_shell(repl: Repl, tmp_path: Path) -> None:
    assert repl.run("eval 0x1f9 | grep octal") == "      octal: 771\n"
    target = tmp_path / "out.txt"
    assert repl.run(f"eval 0x1f9 > {target}") == ""
    assert repl.run(f"eval 0x1f9 >> {target}") == ""
    assert target.read_text().count("decimal: 505") == 2
    assert repl.run("!echo from the shell") == "from the shell\n"


def test_ctrl_c(repl: Repl) -> None:
    repl.child.sendline("repeat eval 0x42")
    repl.child.expect_exact("decimal: 66")
    repl.child.expect_exact("decimal: 66")  # it runs again and again
    repl.child.sendintr()
    repl.child.expect_exact(PROMPT)
    assert "decimal: 67" in repl.run("eval 0x43")  # the session goes on
    repl.child.send("eval 1")
    repl.child.sendintr()  # Ctrl-C at the prompt drops the line typed so far
    repl.child.expect_exact(PROMPT)
    assert "decimal: 2" in repl.run("eval 2")
    assert repl.close() == 0


def test_alias(repl: Repl) -> None:
    assert repl.run("alias zz eval") == "ORIGIN   ALIAS    COMMAND\nruntime  zz       eval \n"
    assert "decimal: 505" in repl.run("zz 0x1f9")
    assert repl.run("px 10") == "$1 = 0xa\n"


def test_ctrl_d_ends_the_session(repl: Repl) -> None:
    repl.child.send("\x04")  # Ctrl-D
    repl.child.expect(pexpect.EOF)
    repl.child.close()
    assert repl.child.exitstatus == 0


def _fake_pager(tmp_path: Path) -> str:
    pager = tmp_path / "pager.sh"
    pager.write_text("#!/bin/sh\nsed 's/^/PAGED: /'\n")
    pager.chmod(0o755)
    return str(pager)


def test_pager(tmp_path: Path, dumps: dict[str, Path]) -> None:
    r = Repl(["--no_crashrc", str(dumps["vmlinux"]), str(dumps["sysrq.elf"])], tmp_path,
             env={"CRASHPAGER": _fake_pager(tmp_path)})  # fmt: skip
    try:
        assert r.run("set scroll") == f"PAGED: scroll: on (CRASHPAGER: {tmp_path / 'pager.sh'})\n"
        assert r.run("eval 0x1f9").splitlines()[1] == "PAGED:     decimal: 505  "
        assert r.run("eval 0x1f9 | grep octal") == "      octal: 771\n"  # a pipe is not paged
        r.run("sf")
        assert r.run("eval 0x1f9").splitlines()[1] == "    decimal: 505  "
        r.run("sn")
        assert r.run("eval 0x1f9").splitlines()[1] == "PAGED:     decimal: 505  "
        assert r.close() == 0
    finally:
        if r.child.isalive():
            r.child.terminate(force=True)


def test_no_scroll_and_silent(tmp_path: Path, dumps: dict[str, Path]) -> None:
    files = [str(dumps["vmlinux"]), str(dumps["sysrq.elf"])]
    for flags in (["--no_scroll"], ["-s"]):
        r = Repl([*flags, *files], tmp_path, env={"CRASHPAGER": _fake_pager(tmp_path)})
        try:
            assert r.run("set scroll") == f"scroll: off (CRASHPAGER: {tmp_path / 'pager.sh'})\n"
            assert r.run("eval 0x1f9").splitlines()[1] == "    decimal: 505  "
            assert r.close() == 0
        finally:
            if r.child.isalive():
                r.child.terminate(force=True)


def test_banner_and_crashpyrc_on_a_terminal(tmp_path: Path, dumps: dict[str, Path]) -> None:
    (tmp_path / ".crashpyrc").write_text("alias hh eval\n")
    r = Repl(["--no_scroll", str(dumps["vmlinux"]), str(dumps["sysrq.elf"])], tmp_path)
    try:
        banner = r.child.before  # up to the prompt of the rc file's echoed command, as crash echoes it
        assert "crashpy " in banner and "KERNEL: " in banner and "PANIC: " in banner
        r.child.expect_exact(PROMPT)  # the prompt that waits for input
        assert r.child.before.startswith("alias hh eval")
        assert "decimal: 505" in r.run("hh 0x1f9")
        assert r.close() == 0
    finally:
        if r.child.isalive():
            r.child.terminate(force=True)
