"""repeat: run a command again and again until Ctrl-C (crash's `repeat [-seconds] command`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from crashpy.commands.registry import command

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  repeat - repeat a command

SYNOPSIS
  repeat [-seconds] command

DESCRIPTION
  Runs a command over and over, until Ctrl-C stops it or the command fails.

    -seconds   wait this many seconds between two runs; it comes before the
               command.

  A crash dump does not change, so each run prints what the last one did;
  the command earns its keep on memory that moves.  When crashpy reads its
  commands from a file or a pipe (-i, or standard input that is not a
  terminal), nobody can press Ctrl-C, so there the command runs once.

EXAMPLES
  Show jiffies every two seconds until Ctrl-C:

    crash> repeat -2 p jiffies
    jiffies = $1 = 4294666815
    jiffies = $2 = 4294666815
    ^C
    crash>
"""


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "repeat")


@command("repeat", summary="repeat a command", help=HELP)
def cmd_repeat(session: Session, args: list[str]) -> None:
    if not args:
        _usage(session)
        return
    delay = 0
    if args[0].startswith("-"):
        if not args[0][1:].isdigit():
            _usage(session)
            return
        delay = int(args[0][1:])
        args = args[1:]
        if not args:
            _usage(session)
            return
    line = " ".join(f'"{a}"' if " " in a or not a else a for a in args)
    interactive = bool(getattr(session, "interactive", False))
    paging = session.paging
    session.paging = False  # an endless stream cannot wait for a pager's end of input
    try:
        while True:
            failed = session.errors
            session.run_line(line)
            session.out.flush()
            if session.interrupted or session.errors != failed or not interactive:
                break
            if delay:
                time.sleep(delay)
    finally:
        session.paging = paging
