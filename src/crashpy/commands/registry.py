"""Command registration: each command is a decorated function with its crash help text beside it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crashpy.session import Session

CommandFunc = Callable[["Session", list[str]], None]


@dataclass
class Command:
    name: str
    func: CommandFunc
    summary: str  # one line, for `help` listings
    help: str  # crash's `help <cmd>` text
    minimal: bool = False  # allowed in --minimal mode
    aliases: tuple[str, ...] = field(default_factory=tuple)


COMMANDS: dict[str, Command] = {}
LOAD_ERRORS: dict[str, str] = {}  # command module -> why it failed to import (a bug; tests assert none)


def command(
    name: str, *, summary: str, help: str, minimal: bool = False, aliases: tuple[str, ...] = ()
) -> Callable[[CommandFunc], CommandFunc]:
    """Register `func(session, argv)` as crash command `name` (argv excludes the command name)."""

    def register(func: CommandFunc) -> CommandFunc:
        cmd = Command(name, func, summary, help, minimal, aliases)
        COMMANDS[name] = cmd
        for alias in aliases:
            COMMANDS[alias] = cmd
        return func

    return register


def load_all() -> dict[str, Command]:
    """Import every command module so that each registers itself."""
    import importlib
    import pkgutil

    import crashpy.commands as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name != "registry":
            try:
                importlib.import_module(f"crashpy.commands.{mod.name}")
            except Exception as e:  # one broken command must not take the others down
                LOAD_ERRORS[mod.name] = f"{type(e).__name__}: {e}"
    return COMMANDS
