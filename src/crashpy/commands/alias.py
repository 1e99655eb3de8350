"""alias: list, show, define and delete command aliases (crash's built-in ones are always there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import Alias, command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import parse_line

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  alias - command aliases

SYNOPSIS
  alias [alias] [command string]

DESCRIPTION
  Gives a command line a short name.  Without arguments, lists every alias;
  with only a name, shows what that alias stands for.

           alias  one word, the name to type.
  command string  what the name stands for: a command and, if wanted, some of
                  its arguments.  Words typed after the alias are appended.

  The name may not be one of crashpy's command names, and the command string
  must start with one.  Aliases come from four places, and the list shows
  which: the built-in ones, $HOME/.crashpyrc and ./.crashpyrc (both read at
  start-up, the second one later so it wins), and this command (at run time,
  typed or from an input file).  An alias given again is replaced.  An empty
  command string ("") deletes the alias.  Quote a command string that holds
  a pipe or a redirection, so that it becomes part of the alias.

EXAMPLES
  The built-in aliases:

    crash> alias
    ORIGIN   ALIAS    COMMAND
    builtin  man      help
    builtin  ?        help
    ...
    builtin  lsmod    mod
    builtin  last     ps -l

  A new alias, then its use:

    crash> alias pxj p -x jiffies
    ORIGIN   ALIAS    COMMAND
    runtime  pxj      p -x jiffies
    crash> pxj
    jiffies = 0xfffb6c21

  An alias whose command string holds a pipe:

    crash> alias lastlog "log | tail -5"

  Deleting it again:

    crash> alias lastlog ""
    alias deleted: lastlog
"""


def format_aliases(session: Session, only: str | None = None) -> str:
    """crash's alias table: ORIGIN, ALIAS, COMMAND columns; the ORIGIN column as wide as its longest."""
    aliases = list(session.aliases.values())
    width = max([7] + [len(a.origin) for a in aliases if a.origin not in ("builtin", "runtime")])
    lines = ["ORIGIN" + " " * (width - 6) + "  ALIAS    COMMAND"]
    for a in aliases:
        if only is not None and a.name != only:
            continue
        lines.append(f"{a.origin}  " + " " * (width - len(a.origin)) + f"{a.name:<7}  " + "".join(
            w + " " for w in a.words))
    if only is not None and len(lines) == 1:
        lines.append(f"alias does not exist: {only}")
    return "\n".join(lines) + "\n"


def _is_command(session: Session, name: str) -> bool:
    """crash lets an alias stand for one of its commands, or for the external command `clear`."""
    return name in session.commands or name == "clear"


def define_alias(session: Session, name: str, text: str, origin: str) -> bool:
    """Define (or, with an empty `text`, delete) alias `name`; False and a message when refused."""
    if name in session.commands:
        raise CommandError(f"cannot alias existing command name: {name}")
    target = text.split(" ", 1)[0]
    if not _is_command(session, target):
        if not text:
            if session.aliases.pop(name, None) is not None:
                session.println(f"alias deleted: {name}")
            return False
        raise CommandError(f"invalid alias attempt on non-existent command: {target}")
    session.aliases.pop(name, None)  # a new definition goes to the end of the list, as crash's does
    session.aliases[name] = Alias(name, parse_line(text), origin)
    return True


@command("alias", summary="command aliases", help=HELP)
def cmd_alias(session: Session, args: list[str]) -> None:
    if not args:
        session.write(format_aliases(session))
        return
    if len(args) == 1:
        session.write(format_aliases(session, args[0]))
        return
    if define_alias(session, args[0], " ".join(args[1:]), session.alias_origin):
        session.write(format_aliases(session, args[0]))
