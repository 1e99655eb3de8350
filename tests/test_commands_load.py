"""Every command module imports, registers, and carries help text; start-up imports none of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from crashpy.commands.registry import JSON_COMMANDS, MODULES, load_all, registered


def test_every_command_module_loads() -> None:
    commands = load_all()
    for name in ("sys", "log", "rd", "sym", "eval", "set", "help", "q", "exit"):
        assert name in commands, name
    for cmd in commands.values():
        assert cmd.help.strip(), cmd.name


def test_the_name_table_is_what_the_modules_register() -> None:
    """registry.MODULES (which start-up reads instead of importing the modules) names every command
    and alias, each with the module that registers it."""
    load_all()
    found = {name: cmd.func.__module__.rsplit(".", 1)[1] for name, cmd in registered().items()}
    assert found == MODULES


def test_start_up_imports_no_command_module() -> None:
    """A session's start-up imports the registry alone; `sym` imports its module, and only it."""
    code = (
        "import io, sys\n"
        "from crashpy.session import Session\n"
        "class Stub:\n"
        "    pass\n"
        "s = Session(Stub(), io.StringIO())\n"
        "before = sorted(m for m in sys.modules if m.startswith('crashpy.commands.'))\n"
        "s.lookup('sym')\n"
        "after = sorted(m for m in sys.modules if m.startswith('crashpy.commands.'))\n"
        "print(before, sorted(set(after) - set(before)))\n"
    )
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == "['crashpy.commands.registry'] ['crashpy.commands.sym']"


def test_json_commands_are_those_with_a_document() -> None:
    """registry.JSON_COMMANDS (which `--json` reads without importing the modules) names the commands
    that register a JSON document beside their text."""
    commands = load_all()
    assert {cmd.name for cmd in commands.values() if cmd.json is not None} == JSON_COMMANDS
