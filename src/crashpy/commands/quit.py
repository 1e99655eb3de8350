"""q / exit: end the session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import ExitSession, command

if TYPE_CHECKING:
    from crashpy.session import Session

# crash's SYNOPSIS line for a command without arguments ends in two blanks.
HELP_Q = (
    "NAME\n  q - exit this session\n\nSYNOPSIS\n  q  \n\n"
    + """\
DESCRIPTION
  Ends the current crashpy session.

NOTE
  "exit" does the same.
"""
)

HELP_EXIT = (
    "NAME\n  exit - exit this session\n\nSYNOPSIS\n  exit  \n\n"
    + """\
DESCRIPTION
  Ends the current crashpy session.

NOTE
  "q" does the same.
"""
)


@command("q", summary="exit this session", help=HELP_Q, minimal=True, aliases=("quit",))
def cmd_q(session: Session, args: list[str]) -> None:
    raise ExitSession()


@command("exit", summary="exit this session", help=HELP_EXIT, minimal=True)
def cmd_exit(session: Session, args: list[str]) -> None:
    raise ExitSession()
