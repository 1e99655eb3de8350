"""wr: write to memory, which a dump file does not allow (crash 8.0.6's cmd_wr refuses first thing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.errors import CommandError

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  wr - write memory

SYNOPSIS
  wr [-u|-k|-p] [-8|-16|-32|-64] [address|symbol] value

DESCRIPTION
  On a live system crash can store a value into memory; crashpy only ever
  reads dump files, so this command always refuses, before it looks at
  its arguments, as crash does on a dump.  Nothing is written, ever.

     -u  the address would be a user virtual address of the current context.
     -k  the address would be a kernel virtual address.
     -p  the address would be a physical address.
    -8, -16, -32, -64
         the width of the value, in bits (the default is 64).

EXAMPLES
    crash> wr jiffies 0
    wr: not allowed on dumpfiles
"""


@command("wr", summary="write memory", help=HELP)
def cmd_wr(session: Session, args: list[str]) -> None:
    raise CommandError("not allowed on dumpfiles")
