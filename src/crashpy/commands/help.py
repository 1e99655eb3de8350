"""help: the command menu, and each command's help page from the registry (crash's help.c layout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from crashpy.commands.registry import COMMANDS, Command
from crashpy.commands.registry import command as register
from crashpy.helpers.numbers import getopt
from crashpy.version import __version__

if TYPE_CHECKING:
    from crashpy.session import Session

HELP_COLUMNS = 5
PROGRAM_NAME = "crashpy"


# crash 8.0.6's command menu on x86_64 (help.c and global_data.c's command table): the names crashpy's
# menu lays out as crash does; a command crashpy has and crash has not is crashpy's own (OWN_MARK).
CRASH_COMMANDS = frozenset(
    """* alias ascii bpf bt btop dev dis eval exit extend files foreach fuser gdb help ipcs irq kmem list
    log mach mod mount net p ps pte ptob ptov q rd repeat runq sbitmapq search set sig struct swap sym
    sys task timer tree union vm vtop waitq whatis wr""".split()
)
OWN_MARK = "+"
OWN_FOOTER = f'Commands marked "{OWN_MARK}" are crashpy\'s own: crash 8.0.6 has no command of that name.\n'


def menu_names(commands: Mapping[str, Command]) -> list[str]:
    """Every command name crashpy has, in crash's menu order: alphabetical, but "q" last."""
    return sorted((n for n, c in commands.items() if c.name == n), key=lambda n: (n == "q", n))


def _columns(names: list[str]) -> list[str]:
    """Lines of names in HELP_COLUMNS columns of 15, top to bottom then left to right."""
    rows = (len(names) + HELP_COLUMNS - 1) // HELP_COLUMNS
    out = []
    for i in range(rows):
        line = []
        k = i
        for _ in range(HELP_COLUMNS):
            line.append(f"{names[k]:<15}")
            k += rows
            if k >= len(names):
                break
        out.append("".join(line) + "\n")
    return out


def format_menu(names: list[str], version_line: str) -> str:
    """crash's display_help_screen(): crash's command names in columns, top to bottom then left to
    right; the names crash has not (crashpy's own) follow in a table of their own, each marked, and the
    footer says what the mark means.  Without such names the text is crash's, line for line."""
    theirs = [n for n in names if n in CRASH_COMMANDS]
    own = [n + OWN_MARK for n in names if n not in CRASH_COMMANDS]
    out = ["\n", *_columns(theirs)]
    if own:
        out += ["\n", *_columns(own)]
    out.append("\n" + version_line + "\n")
    out.append('For help on any command above, enter "help <command>".\n')
    out.append('For help on input options, enter "help input".\n')
    out.append('For help on output options, enter "help output".\n')
    if own:
        out.append(OWN_FOOTER)
    out.append("\n")
    return "".join(out)


def synopsis(cmd: Command) -> str:
    """The SYNOPSIS lines of a command's help text, as written there (indented)."""
    lines = cmd.help.splitlines()
    try:
        start = lines.index("SYNOPSIS") + 1
    except ValueError:
        return f"  {cmd.name}"
    block: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line)
    return "\n".join(block) if block else f"  {cmd.name}"


def help_page(cmd: Command) -> str:
    """`help <cmd>`: a blank line, the page, a blank line."""
    return "\n" + cmd.help.rstrip("\n") + "\n\n"


def print_usage(session: Session, name: str) -> None:
    """crash's cmd_usage(SYNOPSIS): the short usage a command prints for bad arguments."""
    cmd = COMMANDS.get(name)
    if cmd is None or not cmd.help:
        session.println(f'No usage data for the "{name}" command is available.')
        return
    session.println("Usage:")
    session.println(synopsis(cmd))
    session.println(f'Enter "help {name}" for details.')


# `help -z`: the list of help's own options, as crash prints it.
HELP_OPTIONS = "".join(
    f"{line}\n"
    for line in (
        "help options:",
        " -a - alias data",
        " -b - shared buffer data",
        " -B - build data",
        " -c - numargs cache",
        " -d - device table",
        " -D - dumpfile contents/statistics",
        " -e - extension table data",
        " -f - filesys table",
        " -g - gdb data",
        " -h - hash_table data",
        " -H - hash_table data (verbose)",
        " -k - kernel_table",
        " -K - kernel_table (verbose)",
        " -L - LKCD page cache environment",
        " -M <num> machine specific",
        " -m - machdep_table",
        " -N - net_table",
        " -n - dumpfile contents/statistics",
        " -o - offset_table and size_table",
        " -p - program_context",
        " -r - dump registers from dumpfile header",
        " -s - symbol table data",
        " -t - task_table",
        " -T - task_table plus context_array",
        " -v - vm_table",
        " -V - vm_table (verbose)",
        " -z - help options",
    )
)

HELP = """\
NAME
  help - get help

SYNOPSIS
  help [command | all] [-<option>]

DESCRIPTION
  Without an argument, lists every command this session offers.  With a
  command's name, shows that command's manual page.  "all" shows the pages of
  every command.

    -z  list the options below.

  crash's internal tables (help -a, -b, -B, -c, -d, -D, -e, -f, -g, -h, -H,
  -k, -K, -L, -M <num>, -m, -N, -n, -o, -p, -r, -s, -t, -T, -v, -V) are not
  part of crashpy: these options are refused.
"""


# `help input` and `help output`: how lines are typed and where their output goes (the menu points here).
INPUT_HELP = """\
Commands are read a line at a time: in a terminal with a line editor and a
history kept across sessions (~/.crashpy_history, or $CRASHPY_HISTORY), else
from standard input or from the file named with -i.

  h                  list the lines entered so far, numbered.
  r, !!              run the last line again.
  r N, !N            run line N again.
  r text             run the last line that starts with "text" again.
  !command           run a shell command; "!" alone starts a shell.
  # ...              a comment: the line is kept in the history, nothing runs.

A line whose first word is no command but a kernel variable, a structure or
union name or a type name is handed to p, struct, union or whatis as
appropriate.  Aliases (see "help alias") are expanded first.
"""

OUTPUT_HELP = """\
A command's output can be sent on, as in a shell:

  command | shell-command    the output becomes the shell command's input,
                             for example "log | grep virtio".
  command > file             the output replaces the file's content.
  command >> file            the output is added at the end of the file.

"set scroll on" (alias "sn") pages long output through less, more or the
program in $CRASHPAGER (see "set scroll"); "set scroll off" (alias "sf")
writes it straight out.  "set radix 10" (alias "dec") and "set radix 16"
(alias "hex") choose the radix gdb-style values are printed in.  Many
commands also take --json, to write their rows as a JSON document instead of
text (docs/json.md).
"""

TOPICS = {"input": INPUT_HELP, "output": OUTPUT_HELP}


@register("help", summary="get help", help=HELP, minimal=True)
def cmd_help(session: Session, args: list[str]) -> None:
    parsed = getopt(args, "efNDdmM:ngcaBbHhkKsvVoptTzLOr")
    for err in parsed.errors:
        session.println(f"help: {err}")
    if parsed.errors:
        session.write(help_page(COMMANDS["help"]))
        return
    if parsed.opts:
        opt = parsed.opts[0][0]
        if opt == "z":
            session.write(HELP_OPTIONS)
            return
        session.println(f"help: -{opt}: crash's internal tables are not available in crashpy")
        session.errors += 1
        return
    if not parsed.args:
        version = f"{PROGRAM_NAME} version: {__version__:<6}   gdb version: (none)"
        session.write(format_menu(menu_names(session.commands), version))
        return
    for name in parsed.args:
        if name == "all":
            for n in menu_names(session.commands):
                session.write(help_page(session.commands[n]))
            continue
        if name in TOPICS:
            session.write("\n" + TOPICS[name] + "\n")
            continue
        cmd = session.commands.get(name)
        if cmd is None:
            session.println(f'No help data for "{name}" is available.')
            continue
        session.write(help_page(cmd))
