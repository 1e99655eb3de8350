"""help: crash's menu layout and help pages, on a session without a dump."""

from __future__ import annotations

from dataclasses import dataclass

from crashpy.commands.help import CRASH_COMMANDS as crash_names
from crashpy.commands.help import OWN_FOOTER, OWN_MARK, format_menu, menu_names, synopsis
from crashpy.commands.registry import COMMANDS, load_all
from tests.crashpy_runner import run_session

# crash 8.0.6's own menu (x86_64), to check the layout against what crash prints.
CRASH_COMMANDS = sorted(crash_names)


@dataclass
class FakeProg:
    vmlinux_path: str = "/k/vmlinux"
    dump_path: str = "/k/vmcore"


def run(lines: list[str], minimal: bool = False) -> list[str]:
    return run_session(FakeProg(), lines, minimal)  # type: ignore[arg-type]


def test_menu_layout_is_crashs() -> None:
    names = sorted(CRASH_COMMANDS, key=lambda n: (n == "q", n))
    text = format_menu(names, "crash version: 8.0.6    gdb version: 10.2")
    rows = (len(names) + 4) // 5
    lines = text.split("\n")
    assert lines[0] == ""
    assert len(lines[1:]) >= rows
    # top to bottom, then left to right; each name padded to 15 columns
    assert lines[1] == "".join(f"{n:<15}" for n in names[::rows])
    assert lines[rows] == "".join(f"{n:<15}" for n in names[rows - 1 :: rows])
    assert text.endswith(
        "\ncrash version: 8.0.6    gdb version: 10.2\n"
        'For help on any command above, enter "help <command>".\n'
        'For help on input options, enter "help input".\n'
        'For help on output options, enter "help output".\n\n'
    )


def test_menu_names() -> None:
    names = menu_names(load_all())
    assert names[-1] == "q" and "quit" not in names
    assert names[:-1] == sorted(names[:-1])


def test_help_page_and_usage() -> None:
    page, usage, unknown = run(["help rd", "rd", "help nosuchcommand"])
    assert page.startswith("\nNAME\n  rd - read memory\n\nSYNOPSIS\n  rd [-adDsSupxmfNR]")
    assert page.endswith("\n\n") and not page.endswith("\n\n\n")
    assert usage == (
        "Usage:\n"
        "  rd [-adDsSupxmfNR][-8|-16|-32|-64][-o offs][-e addr][-r file][address|symbol]\n"
        "     [count]\n"
        'Enter "help rd" for details.\n'
    )
    assert unknown == 'No help data for "nosuchcommand" is available.\n'


def test_every_command_has_a_synopsis() -> None:
    for name in ("eval", "rd", "sym", "set", "help", "q", "exit"):
        assert synopsis(COMMANDS[name]).startswith(f"  {name}")


def test_own_commands_are_marked() -> None:
    """A command crash does not have goes to a table of its own, marked, and the footer says so."""
    text = format_menu(["alias", "py", "q"], "crashpy version: x")
    assert text.startswith("\nalias          q              \n\npy" + OWN_MARK + " ")
    assert text.endswith(OWN_FOOTER + "\n")
    assert OWN_FOOTER not in format_menu(["alias", "q"], "v")
