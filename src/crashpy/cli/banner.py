"""What crashpy prints at start-up without -s: a short banner, then `sys` as crash does."""

from __future__ import annotations

from crashpy.errors import CrashpyError
from crashpy.session import Session
from crashpy.version import __version__


def print_banner(session: Session) -> None:
    session.println()
    session.println(f"crashpy {__version__}: the crash utility, in Python")
    session.println()
    if session.minimal:
        session.println("NOTE: minimal mode commands: log, dis, rd, sym, eval, set, extend and exit")
        session.println()
        return
    session.run_line("sys")
    try:
        from crashpy.commands.set import format_context

        session.write(format_context(session, session.current_context(), indent=5))
    except CrashpyError:  # no task table (damaged dump): sys alone, as before
        pass
    session.println()
