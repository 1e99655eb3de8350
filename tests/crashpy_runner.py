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
