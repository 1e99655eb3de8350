"""Help pages are crashpy's own words: crash's layout and synopsis, but none of crash's sentences.

crash's help text (help.c) is GPL prose we must not copy.  A crashpy help page keeps crash's shape
(NAME, SYNOPSIS, DESCRIPTION with the same options in the same order, EXAMPLES) and crash's SYNOPSIS
(the command's interface) and NAME summary, but says everything else in its own words.  This test
asks the oracle crash for `help <command>` of every registered command (one session) and checks that
(a) the SYNOPSIS block is crash's, where crash has the command, and (b) no other line of 30 characters
or more (stripped) of crashpy's page is a line of crash's page for that command.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest

from crashpy.commands.registry import load_all
from tests.crashpy_runner import run_crashpy

MIN_LEN = 30

# Lines that are pure interface, not prose, and so may be the same as crash's.
ALLOWED = {
    # eval: the list of operators the expression language has.
    "+  -  &  |  ^  *  %  /  <<  >>",
}

# Commands whose help text still repeats crash's and is being rewritten by its owner; take a name out
# once its page passes (strict: a page that passes while listed here fails, as a reminder).
PENDING: dict[str, str] = {}

NAMES = sorted({cmd.name for cmd in load_all().values()})


@cache
def pages() -> tuple[dict[str, str], dict[str, str]]:
    """`help <name>` for every registered command: (crash's pages, crashpy's pages), one session each."""
    vmcores = pytest.importorskip("tools.vmcores")
    try:
        found = vmcores.ensure(["sysrq.elf"])
    except vmcores.BuildError as e:
        pytest.skip(f"test dumps not available: {e}")
    from tests.oracle import ORACLE_VERSION, cache_root, run_crash

    if not (cache_root() / f"crash-{ORACLE_VERSION}" / "crash").exists() and not os.environ.get(
        "CRASHPY_BUILD_ORACLE"
    ):
        pytest.skip("crash 8.0.6 not built yet; tests/oracle.py builds it")
    vmlinux: Path = found["vmlinux"]
    dump: Path = found["sysrq.elf"]
    commands = [f"help {name}" for name in NAMES]
    theirs = run_crash(vmlinux, dump, commands)
    mine = run_crashpy(vmlinux, dump, commands)
    return dict(zip(NAMES, theirs, strict=True)), dict(zip(NAMES, mine, strict=True))


def section(page: str, header: str) -> list[str]:
    """The lines under `header` up to the first blank line ([] if the page has no such header)."""
    lines = page.split("\n")
    if header not in lines:
        return []
    block: list[str] = []
    for line in lines[lines.index(header) + 1 :]:
        if not line.strip():
            break
        block.append(line)
    return block


def copied_lines(theirs: str, mine: str) -> list[str]:
    """crashpy's long lines (not NAME or SYNOPSIS) that are, stripped, lines of crash's page."""
    interface = {line.strip() for line in section(mine, "NAME") + section(mine, "SYNOPSIS")}
    crash_lines = {line.strip() for line in theirs.split("\n")}
    return [
        s
        for s in (line.strip() for line in mine.split("\n"))
        if len(s) >= MIN_LEN and s in crash_lines and s not in interface and s not in ALLOWED
    ]


def test_copied_lines_are_found() -> None:
    theirs = "\nNAME\n  x - y\n\nDESCRIPTION\n  This command does something rather useful.\n"
    mine = "\nNAME\n  x - y\n\nDESCRIPTION\n    This command does something rather useful.\n  Ours.\n"
    assert copied_lines(theirs, mine) == ["This command does something rather useful."]
    assert copied_lines(theirs, theirs.replace("useful", "handy")) == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=PENDING[n])) if n in PENDING else n
        for n in NAMES
    ],
)
def test_help_is_in_own_words(name: str) -> None:
    crash_pages, my_pages = pages()
    theirs, mine = crash_pages[name], my_pages[name]
    assert "SYNOPSIS" in mine.split("\n"), f"help {name} has no SYNOPSIS"
    if "SYNOPSIS" in theirs.split("\n"):  # crash has this command: same interface
        assert section(mine, "SYNOPSIS") == section(theirs, "SYNOPSIS"), f"help {name}: SYNOPSIS differs"
    copied = copied_lines(theirs, mine)
    assert not copied, f"help {name} repeats crash's help text:\n" + "\n".join(copied)
