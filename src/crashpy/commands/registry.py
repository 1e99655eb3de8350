"""Command registration: each command is a decorated function with its crash help text beside it.

Start-up imports no command module: MODULES names the module of every command name (aliases too),
and COMMANDS imports a command's module the first time the command is looked up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crashpy.session import Session

CommandFunc = Callable[["Session", list[str]], None]
# A command's `--json` document (crashpy/jsonout.py adds "command" and "schema_version").
JsonFunc = Callable[["Session", list[str]], dict[str, Any]]


class ExitSession(Exception):  # noqa: N818 - not an error: `q` / `exit` leave the session
    """`q` / `exit`: leave the session."""


@dataclass
class Alias:
    """One alias: `name` stands for `words` (the command and its leading arguments)."""

    name: str
    words: list[str]
    origin: str  # "builtin", "runtime", "$HOME/.crashpyrc" or ".crashpyrc", as `alias` lists it


@dataclass
class Command:
    name: str
    func: CommandFunc
    summary: str  # one line, for `help` listings
    help: str  # crash's `help <cmd>` text
    minimal: bool = False  # allowed in --minimal mode
    aliases: tuple[str, ...] = field(default_factory=tuple)
    json: JsonFunc | None = None  # `cmd --json`: the same rows as the text, as a JSON document


_GDB_FORMATS = "abcdefghijklmnopqrstuvwxyz"

# Every command name (aliases too) -> its module under crashpy/commands/, in the order the modules
# register them; tests/test_commands_load.py checks it against what the modules register.
MODULES: dict[str, str] = {
    "alias": "alias",
    "ascii": "ascii",
    "irq": "irq",
    "timer": "timer",
    "ps": "ps",
    "bt": "bt",
    "dis": "dis",
    "eval": "eval",
    "foreach": "foreach",
    "help": "help",
    "p": "p",
    "gdb": "p",
    "print": "p",
    "output": "p",
    "ptype": "p",
    "ptype/o": "p",
    **{f"{n}/{f}": "p" for n in ("p", "print", "output") for f in _GDB_FORMATS},
    "whatis": "whatis",
    "struct": "struct",
    "union": "struct",
    "*": "struct",
    "kmem": "kmem",
    "list": "list",
    "log": "log",
    "mach": "mach",
    "mod": "mod",
    "py": "py",
    "autopsy": "autopsy",
    "python": "py",
    "q": "quit",
    "quit": "quit",
    "exit": "quit",
    "rd": "rd",
    "repeat": "repeat",
    "runq": "runq",
    "set": "set",
    "sig": "sig",
    "swap": "mach",
    "sym": "sym",
    "sys": "sys",
    "task": "task",
    "tree": "tree",
    "vtop": "vtop",
    "pte": "vtop",
    "vm": "vm",
    "ptov": "ptov",
    "btop": "ptov",
    "ptob": "ptov",
    "search": "search",
    "waitq": "waitq",
    "ipcs": "ipcs",
    "dev": "dev",
    "sbitmapq": "sbitmapq",
    "bpf": "bpf",
    "wr": "wr",
    "extend": "extend",
    "net": "net",
    "files": "files",
    "fuser": "fuser",
    "mount": "mount",
}

# The commands whose `--json` document comes from their rows (the others see --json as any argument);
# bt's document is still written in crashpy/jsonout.py.
JSON_COMMANDS = frozenset({
    "sys", "ps", "mod", "log", "task", "kmem", "vtop", "vm", "search", "waitq", "ipcs", "irq",
    "timer",
    "dev",
    "net",
    "files",
    "mount",
    "autopsy",
})

_REGISTERED: dict[str, Command] = {}

# What the layers above the commands plug in (a command may not import them): "py.namespace",
# the `py` command's globals, comes from crashpy.api.
PROVIDERS: dict[str, Callable[..., Any]] = {}


class _Commands(Mapping[str, Command]):
    """Every command by name (aliases too); a command's module is imported when it is first looked up."""

    def __getitem__(self, name: str) -> Command:
        cmd = _REGISTERED.get(name)
        if cmd is None:
            module = MODULES.get(name)
            if module is None:
                raise KeyError(name)
            importlib.import_module(f"crashpy.commands.{module}")
            cmd = _REGISTERED[name]
        return cmd

    def __contains__(self, name: object) -> bool:
        return name in MODULES or name in _REGISTERED

    def __iter__(self) -> Iterator[str]:
        yield from MODULES
        yield from (name for name in _REGISTERED if name not in MODULES)

    def __len__(self) -> int:
        return len(MODULES) + sum(1 for name in _REGISTERED if name not in MODULES)


COMMANDS: Mapping[str, Command] = _Commands()


def command(
    name: str,
    *,
    summary: str,
    help: str,
    minimal: bool = False,
    aliases: tuple[str, ...] = (),
    json: JsonFunc | None = None,
) -> Callable[[CommandFunc], CommandFunc]:
    """Register `func(session, argv)` as crash command `name` (argv excludes the command name)."""

    def register(func: CommandFunc) -> CommandFunc:
        cmd = Command(name, func, summary, help, minimal, aliases, json)
        _REGISTERED[name] = cmd
        for alias in aliases:
            _REGISTERED[alias] = cmd
        return func

    return register


def registered() -> dict[str, Command]:
    """The commands the imported modules registered so far, by name (aliases too)."""
    return dict(_REGISTERED)


def load_all() -> Mapping[str, Command]:
    """Import every command module (for listings of all of them: `help all`, tests)."""
    for module in dict.fromkeys(MODULES.values()):
        importlib.import_module(f"crashpy.commands.{module}")
    return COMMANDS
