"""Session: one crash session over a Program: runs command lines, prints errors in crash's words."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from crashpy.commands.registry import COMMANDS, Alias, Command, ExitSession
from crashpy.errors import AddressSpace, CommandError, CrashpyError
from crashpy.helpers.numbers import parse_line
from crashpy.program import Program

if TYPE_CHECKING:
    from crashpy.expr.gdb import Gdb
    from crashpy.helpers.tasks import TaskContext, TaskTable

# Commands crash hands to the shell when it has no command of that name (main.c is_external_command).
EXTERNAL_COMMANDS = {"vi", "pwd", "grep", "cat", "more", "less", "echo", "ls", "clear"}

# crash's built-in aliases (cmdline.c alias_init): name -> the command line it stands for.
BUILTIN_ALIASES = (
    ("man", "help"),
    ("?", "help"),
    ("quit", "q"),
    ("sf", "set scroll off"),
    ("sn", "set scroll on"),
    ("hex", "set radix 16"),
    ("dec", "set radix 10"),
    ("g", "gdb"),
    ("px", "p -x"),
    ("pd", "p -d"),
    ("for", "foreach"),
    ("size", "*"),
    ("dmesg", "log"),
    ("lsmod", "mod"),
    ("last", "ps -l"),
)


# Commands never handed to the pager: an endless stream (repeat), a console that talks with the user (py).
UNPAGED_COMMANDS = {"repeat", "py", "python"}

# What crash allows in --minimal mode.
MINIMAL_COMMANDS = {"log", "dis", "rd", "sym", "eval", "set", "extend", "help", "exit", "q"}


@dataclass
class Settings:
    """crash's settable variables, as `set -v` shows them (the defaults of `crash` with piped output)."""

    scroll: bool = False
    scroll_command: str = "none"  # less | more | none | CRASHPAGER
    refresh: bool = True
    print_max: int = 256
    print_array: bool = False
    console: str | None = None
    debug: int = 0
    core: bool = False
    hash: bool = True
    silent: bool = False
    edit: str = "vi"
    unwind: bool = False
    zero_excluded: bool = False
    null_stop: bool = False
    gdb: bool = False
    scope: int = 0
    offline_hide: bool = False
    redzone: bool = True
    error: str = "default"


def split_redirect(line: str) -> tuple[str, str, str]:
    """Split crash's way: the first `|`, `!`, `>` or `>>` outside parentheses and quotes (`->` is no
    redirection) ends the command; returns (command, "|" or ">" or ">>" or "", the rest)."""
    depth = 0
    quoted = False
    for i, ch in enumerate(line):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in "\"'":
            quoted = not quoted
        if depth or quoted:
            continue
        if ch in "|!":
            return line[:i].rstrip(), "|", line[i + 1 :].strip()
        if ch == ">" and not (i > 0 and line[i - 1] == "-"):
            if line[i + 1 : i + 2] == ">":
                return line[:i].rstrip(), ">>", line[i + 2 :].strip()
            return line[:i].rstrip(), ">", line[i + 1 :].strip()
    return line, "", ""


class Session:
    """The command loop's state: the program, the output stream, crash's settings (`set`), the current
    task context, and gdb's state (value history)."""

    def __init__(self, prog: Program, out: TextIO | None = None, *, minimal: bool = False) -> None:
        self.prog = prog
        self.out: TextIO = out if out is not None else sys.stdout
        self.minimal = minimal
        self.commands = COMMANDS  # a command's module is imported when it is first looked up
        self.radix = 10
        self.settings = Settings(refresh=not minimal)  # minimal mode has no task table to refresh
        self.current_cmd = ""
        self.current_line = ""  # the command line as typed, for commands that read it whole (py, p)
        self.errors = 0  # commands that failed (an error line); a non-interactive run exits 3 if any
        self.interrupted = False  # Ctrl-C stopped the last command
        self.json_all = False  # crashpy --json: every command with a JSON form prints it
        self.paging = False  # the output is a terminal a pager may take over (set by the REPL)
        self.interactive = False  # a person at a terminal types the commands (set by the REPL)
        self.state: dict[str, object] = {}
        self.aliases: dict[str, Alias] = {
            name: Alias(name, parse_line(text), "builtin") for name, text in BUILTIN_ALIASES
        }
        self.alias_origin = "runtime"  # what `alias` records as the origin of new aliases
        self.context_task: int | None = None  # the current context's task_struct (`set`); None: the panic task
        self.active_override: dict[int, int] = {}  # {cpu: task} that `set -a` made the active task of a cpu
        self._gdb: Gdb | None = None

    def write(self, text: str) -> None:
        self.out.write(text)

    # ---- gdb inside the session ------------------------------------------------------------------

    @property
    def gdb(self) -> Gdb:
        """gdb as crash embeds it: the value history (kept for the session) and crash's readmem callback
        over this session's program."""
        from crashpy.expr.gdb import Gdb, GdbMemory

        prog = self.prog
        g = self._gdb
        if g is None or g.memory.prog is not prog:
            from crashpy.helpers.crash_reads import read_as_crash

            def read_kernel(addr: int, size: int, what: str) -> bytes:
                return read_as_crash(prog, addr, size, AddressSpace.KVADDR, what)

            memory = GdbMemory(prog, read_kernel, lambda: self.current_cmd)
            if g is None:
                g = self._gdb = Gdb(memory)
            else:
                g.memory = memory
        return g

    # ---- the task context (crash's `set`) ----------------------------------------------------------

    def task_table(self) -> TaskTable:
        """The task table, or one line in crash's manner when the dump's task list cannot be read."""
        from crashpy.helpers.tasks import task_table

        try:
            return task_table(self.prog)
        except CommandError:
            raise
        except Exception as e:  # the session's top level: a damaged dump or a program without a kernel
            # (a stand-in without a task list) has no contexts to show: one line, never a traceback
            raise CommandError(f"cannot read the task list: {e}") from None

    def current_context(self) -> TaskContext:
        """The current task context: the panic task until `set` changes it."""
        table = self.task_table()
        task = self.context_task
        if task is not None and task in table.by_task:
            return table.by_task[task]
        return table.panic_context()

    @property
    def current_cpu(self) -> int:
        """The cpu an empty cpuspec (`p sym:`, `struct name addr:`) stands for: the current context's,
        as crash's CURRENT_CONTEXT()->processor (0 when no task can be read)."""
        try:
            return self.current_context().cpu
        except CrashpyError:
            return 0

    def active_set(self) -> list[int]:
        """The active task of each cpu (rq->curr), as changed by `set -a` in this session."""
        active = list(self.task_table().active)
        for cpu, task in self.active_override.items():
            if 0 <= cpu < len(active):
                active[cpu] = task
        return active

    def active_tasks(self) -> set[int]:
        """crash's is_task_active(): the panic task, and each cpu's active task."""
        return {*self.active_set(), self.task_table().panic_task}

    def println(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def lookup(self, name: str) -> Command | None:
        cmd = self.commands.get(name)
        if cmd is None:
            return None
        if self.minimal and cmd.name not in MINIMAL_COMMANDS:
            return None
        return cmd

    def resolve_alias(self, line: str) -> str:
        """`line` with a leading alias replaced by what it stands for (crash resolves one level)."""
        head, _, rest = line.partition(" ")
        alias = self.aliases.get(head)
        if alias is None:
            return line
        rest = rest.strip()
        return " ".join(alias.words) + (" " + rest if rest else "")

    def pager_command(self) -> str | None:
        """The shell command `set scroll` pages through, or None when output is not paged."""
        if not self.paging:
            return None
        s = self.settings
        if not s.scroll or s.silent:
            return None
        if s.scroll_command == "CRASHPAGER":
            return os.environ.get("CRASHPAGER") or None
        if s.scroll_command == "less":
            return "less -E -X" if shutil.which("less") else None
        if s.scroll_command == "more":
            return "more" if shutil.which("more") else None
        return None

    def run_line(self, line: str) -> None:
        """Run one command line: `cmd args [| shell]`, `cmd > file`, `cmd >> file`, or `!shell`."""
        line = line.strip()
        self.interrupted = False
        if not line or line.startswith("#"):
            return
        if line in ("!", "|") or line[0] in "!|":
            self.out.flush()
            subprocess.run(line[1:].strip() or "/bin/sh", shell=True)
            return
        line = self.resolve_alias(line)
        cmdpart, kind, target = split_redirect(line)
        if kind == "":
            pager = self.pager_command()
            if pager is None or cmdpart.split(" ", 1)[0] in UNPAGED_COMMANDS:
                self.run_command(cmdpart, self.out)
                return
            paged = io.StringIO()
            self.run_command(cmdpart, paged)
            text = paged.getvalue()
            if text:
                self.out.flush()
                try:
                    subprocess.run(pager, shell=True, input=text, text=True)
                except OSError:
                    self.write(text)
            return
        if not target:
            self.println(f"no shell command after '{kind}'" if kind == "|" else f"no file name after {kind}")
            return
        buf = io.StringIO()
        self.run_command(cmdpart, buf)
        text = buf.getvalue()
        if kind in (">", ">>"):
            try:
                with open(target, "a" if kind == ">>" else "w") as f:
                    f.write(text)
            except OSError:
                self.println(f"unable to open {target}")
            return
        self.out.flush()
        result = subprocess.run(target, shell=True, input=text, text=True, stdout=subprocess.PIPE)
        self.write(result.stdout)

    def _datatype_command(self, argv: list[str]) -> list[str] | None:
        """crash's fallback for an unknown command: a type or variable name (`task_struct <addr>`,
        `jiffies`) is rewritten as the struct/union/p/whatis/rd command crash runs for it."""
        from crashpy.commands.struct import is_datatype_command

        return is_datatype_command(self, argv)

    def run_external(self, argv: list[str]) -> None:
        """Run `argv` through the shell as crash does, quoting words that hold blanks."""
        line = " ".join(f'"{a}"' if " " in a else a for a in argv)
        self.out.flush()
        result = subprocess.run(line, shell=True, text=True, stdout=subprocess.PIPE)
        self.write(result.stdout)

    def run_command(self, cmdline: str, out: TextIO) -> None:
        argv = parse_line(cmdline)
        if not argv:
            return
        name, args = argv[0], argv[1:]
        cmd = self.lookup(name)
        saved = self.out
        self.out = out
        self.current_cmd = name
        try:
            if cmd is None and name in EXTERNAL_COMMANDS:
                self.run_external(argv)
                return
            rewritten = None
            if cmd is None and not self.minimal:
                rewritten = self._datatype_command(argv)
                if rewritten:
                    name, args = rewritten[0], rewritten[1:]
                    self.current_cmd = name
                    cmd = self.lookup(name)
            if cmd is None:
                if self.minimal:
                    self.println(f"crash: {name}: command not available in minimal mode")
                    self.println("NOTE: minimal mode commands: log, dis, rd, sym, eval, set, extend and exit")
                else:
                    self.println(f"crash: command not found: {name}")
                self.errors += 1
                return
            # the text as typed, for commands that read it whole (py, p); a bare type or symbol name
            # stands for the command it was rewritten to
            self.current_line = " ".join([name, *args]) if rewritten else cmdline
            if "--json" in args or self.json_all:  # the command's data as JSON (crashpy/jsonout.py)
                from crashpy.jsonout import render, supports

                if supports(cmd.name):
                    self.write(render(self, cmd.name, args))
                    return
            cmd.func(self, args)
        except ExitSession:
            raise
        except CrashpyError as e:
            self.println(f"{name}: {e}")
            self.errors += 1
        except KeyboardInterrupt:
            # crash's answer to Ctrl-C: the command stops, a new line, and the session goes on.
            self.interrupted = True
            sys.stderr.write("\n")
        except Exception as e:  # a bug: still one line, never a traceback
            self.println(f"{name}: internal error: {type(e).__name__}: {e}")
            self.errors += 1
        finally:
            self.out = saved
