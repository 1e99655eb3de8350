"""ascii: the characters a hexadecimal value holds, or the ASCII chart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import htoll

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  ascii - translate a hexadecimal string to ASCII

SYNOPSIS
  ascii value ...

DESCRIPTION
  Reads each argument as a hexadecimal number (a leading 0x is optional) and prints it,
  zero-padded to 16 digits, followed by its eight bytes from the lowest to the highest as
  characters.  Printable bytes appear as themselves, control bytes by their ASCII names in
  angle brackets (<NUL>, <LF>, <DEL>...), and bytes above 0x7f as two hex digits in angle
  brackets.  With no argument it prints a chart of the 7-bit ASCII codes: the column is the
  high digit of a code, the row its low digit.

EXAMPLES
  A word read from memory that holds text:

    crash> ascii 6f6c6c6568
    0000006f6c6c6568: hello<NUL><NUL><NUL>
"""

_NAMES = (
    "NUL SOH STX ETX EOT ENQ ACK BEL BS HT LF VT FF CR SO SI "
    "DLE DC1 DC2 DC3 DC4 NAK SYN ETB CAN EM SUB ESC FS GS RS US"
).split()

# The chart as crash 8.0.6 prints it, its slips included (0x27 and 0x60 swapped, '_' for 0x2d and
# '-' for 0x5f), so that the text is the same.
_CHART_COLUMNS = (
    _NAMES[:16],
    _NAMES[16:],
    ["SP", "!", '"', "#", "$", "%", "&", "`", "(", ")", "*", "+", ",", "_", ".", "/"],
    list("0123456789:;<=>?"),
    list("@ABCDEFGHIJKLMNO"),
    ["P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "[", "\\", "]", "^", "-"],
    ["'", *"abcdefghijklmno"],
    [*"pqrstuvwxyz{|}~", "DEL"],
)


def chart_lines() -> list[str]:
    lines = ["", "      0    1   2   3   4   5   6   7", "    +-------------------------------"]
    for row in range(16):
        cells = [col[row] for col in _CHART_COLUMNS]
        text = f"{row:X} | {cells[0]:>3} {cells[1]:>3}  {cells[2]:<3}"
        text += "".join(f" {c:<3}" for c in cells[3:6]) + f" {cells[6]}" + ("   " if len(cells[7]) == 1 else "  ") + cells[7]
        lines.append(f"  {text}".rstrip())
    lines.append("")
    return lines


def byte_text(c: int) -> str:
    if 0x20 <= c < 0x7F:
        return chr(c)
    if c > 0x7F:
        return f"<{c:02x}>"
    return "<DEL>" if c == 0x7F else f"<{_NAMES[c]}>"


def value_line(value: int) -> str:
    return f"{value:016x}: " + "".join(byte_text(value >> (8 * i) & 0xFF) for i in range(8))


@command("ascii", summary="translate a hexadecimal value to ASCII", help=HELP)
def cmd_ascii(session: Session, args: list[str]) -> None:
    if not args:
        for line in chart_lines():
            session.println(line)
        return
    for arg in args:
        notes: list[str] = []
        value = htoll(arg, notes)
        if value is None:
            raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
        session.println(value_line(value))
