"""Every command module imports, registers, and carries help text."""

from __future__ import annotations

from crashpy.commands.registry import LOAD_ERRORS, load_all


def test_every_command_module_loads() -> None:
    commands = load_all()
    assert LOAD_ERRORS == {}
    for name in ("sys", "log", "rd", "sym", "eval", "set", "help", "q", "exit"):
        assert name in commands, name
    for cmd in commands.values():
        assert cmd.help.strip(), cmd.name
