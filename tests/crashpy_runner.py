"""Run crashpy commands in-process on a real dump, one output string per command (like tests/oracle.py)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from crashpy.loader import open_program
from crashpy.program import Program
from crashpy.session import Session


@cache
def program(vmlinux: Path, dump: Path, minimal: bool = False) -> Program:
    """One Program per dump for the whole test session (its caches are what a user's session has)."""
    return open_program(str(vmlinux), [str(dump)], check=not minimal)


def run_crashpy(vmlinux: Path, dump: Path, commands: list[str], minimal: bool = False) -> list[str]:
    """What crashpy prints for each command, run in one session."""
    return run_session(program(vmlinux, dump, minimal), commands, minimal)


def run_session(prog: Program, commands: list[str], minimal: bool = False) -> list[str]:
    """What one session over `prog` (a real Program or a stand-in) prints for each command."""
    out = io.StringIO()
    session = Session(prog, out, minimal=minimal)
    results = []
    for cmd in commands:
        out.seek(0)
        out.truncate()
        session.run_line(cmd)
        results.append(out.getvalue())
    return results


def crash_differences(vmlinux: Path, dump: Path, commands: list[str]) -> list[tuple[str, str, str]]:
    """(command, crash's output, crashpy's output) for each command whose outputs differ: crash 8.0.6
    runs them all in one session (tests/oracle.py), crashpy in one session of its own."""
    from tests.oracle import run_crash

    expected = run_crash(vmlinux, dump, commands)
    got = run_crashpy(vmlinux, dump, commands)
    return [(c, e, g) for c, e, g in zip(commands, expected, got, strict=True) if e != g]


def describe(bad: list[tuple[str, str, str]]) -> str:
    """An assertion message for crash_differences()' answer."""
    return "\n\n".join(f"{c}\n--- crash\n{e}--- crashpy\n{g}" for c, e, g in bad)


def both_outputs(name: str, commands: list[str]) -> tuple[list[str], list[str]]:
    """crash 8.0.6's and crashpy's outputs of `commands` on the test dump `name`, one session each."""
    from tests.oracle import run_crash
    from tools.vmcores import ensure

    paths = ensure([name])
    vmlinux, dump = paths["vmlinux"], paths[name]
    return run_crash(vmlinux, dump, commands), run_crashpy(vmlinux, dump, commands)
