"""eval and the shared number parsing (helpers/numbers.py), without a dump."""

from __future__ import annotations

import pytest

from crashpy.commands.eval import format_number
from crashpy.helpers.numbers import (
    calculate,
    can_eval,
    crash_args,
    decimal,
    eval_expression,
    getopt,
    hexadecimal,
    htol,
    parse_line,
    stol,
)

SYMS = {"jiffies": 0xFFFFFFFF82A09900, "linux_banner": 0xFFFFFFFF8211FFE0}


def ev(s: str) -> int | None:
    return eval_expression(s, SYMS.get)


def test_format_number_examples() -> None:
    assert format_number(128 << 20) == (
        "hexadecimal: 8000000  (128MB)\n"
        "    decimal: 134217728  \n"
        "      octal: 1000000000\n"
        "     binary: 0000000000000000000000000000000000001000000000000000000000000000\n"
    )
    assert format_number(1 << 32).startswith("hexadecimal: 100000000  (4GB)\n    decimal: 4294967296  \n")
    assert format_number(5).startswith("hexadecimal: 5  \n")
    assert format_number(1025).startswith("hexadecimal: 401  \n")
    assert format_number(3072).startswith("hexadecimal: c00  (3KB)\n")


def test_format_number_negative_and_bits() -> None:
    text = format_number(-5 & (2**64 - 1), bits=True)
    lines = text.splitlines()
    assert lines[1] == "    decimal: 18446744073709551611  (-5)"
    assert lines[2] == "      octal: 1777777777777777777773"
    assert lines[4].startswith("   bits set: 63 62 61 ")
    # crash wraps the bit list once a line reaches 77 columns, indenting by the header's width
    assert all(len(line) <= 80 for line in lines[4:])
    assert lines[5].startswith(" " * 13)
    assert text.endswith("4 3 1 0 \n")
    assert format_number(0x41DC065, bits=True).endswith("   bits set: 26 20 19 18 16 15 14 6 5 2 0 \n")


def test_number_strings() -> None:
    assert decimal("123") and decimal("1 2") and not decimal("12a")
    assert hexadecimal("ffff") and hexadecimal("0x10") and not hexadecimal("1 2") and not hexadecimal("g")
    assert htol("0x10") == 16 and htol("ffffffff81000000") == 0xFFFFFFFF81000000
    notes: list[str] = []
    assert htol("11112222333344445", notes) is None
    assert notes == ['input string too large: "11112222333344445" (17 vs 16)']
    assert stol("10") == 10 and stol("a") == 10 and stol("0x10") == 16
    notes = []
    assert stol("zz", notes) is None and notes == ["not a valid number: zz"]


def test_calculate_suffixes_and_complement() -> None:
    assert calculate("4k") == 4096
    assert calculate("2m") == 2 << 20
    assert calculate("1G") == 1 << 30
    assert calculate("~0") == 2**64 - 1
    assert calculate("jiffies", SYMS.get) == SYMS["jiffies"]
    assert calculate("~jiffies", SYMS.get) == ~SYMS["jiffies"] & (2**64 - 1)
    assert calculate("5 ") == 5  # crash strips what it checks


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("(1 << 32)", 1 << 32),
        ("(128 * 1m)", 128 << 20),
        ("(0x100 >> 4)", 0x10),
        ("(7 % 4)", 3),
        ("(6 ^ 3)", 5),
        ("(6 | 9)", 15),
        ("(6 & 3)", 2),
        ("(2 # 10)", 1024),
        ("(jiffies + 8)", SYMS["jiffies"] + 8),
        ("(jiffies - linux_banner)", SYMS["jiffies"] - SYMS["linux_banner"]),
        ("(-5)", 2**64 - 5),
        ("(0 - 1)", 2**64 - 1),
        ("(10)", 10),
        ("(a)", 10),
    ],
)
def test_eval_expression(expr: str, value: int) -> None:
    assert ev(expr) == value


@pytest.mark.parametrize("expr", ["(foo)", "(1 < 2)", "(1 +)", "((1) + 2)", "(1 + 2", "(5 - -3)"])
def test_eval_expression_malformed(expr: str) -> None:
    assert ev(expr) is None


def test_can_eval() -> None:
    assert can_eval("(x)") and can_eval("a+b") and not can_eval("+b") and not can_eval("abc")


def test_parse_line_groups_parentheses_and_quotes() -> None:
    assert parse_line("eval (1 + 2)") == ["eval", "(1 + 2)"]
    assert parse_line("eval 1 + (2 * 3)x y") == ["eval", "1", "+", "(2 * 3)x", "y"]
    assert parse_line('sym "foo bar" baz') == ["sym", "foo bar", "baz"]
    assert parse_line("rd  -64\tlinux_banner  4 ") == ["rd", "-64", "linux_banner", "4"]
    assert crash_args(["(1", "<<", "32)"]) == ["(1 << 32)"]
    assert crash_args(["-b", "5"]) == ["-b", "5"]


def test_getopt_permutes_like_glibc() -> None:
    r = getopt(["linux_banner", "-64", "4", "-x"], "Raxme:r:pfudDusSNo:81:3:6:")
    assert r.opts == [("6", "4"), ("x", None)] and r.args == ["linux_banner", "4"]
    r = getopt(["-o", "8", "addr", "-z"], "o:x")
    assert r.opts == [("o", "8"), ("?", None)] and r.errors == ["invalid option -- 'z'"]
    r = getopt(["-e"], "e:")
    assert r.errors == ["option requires an argument -- 'e'"]
    assert getopt(["--", "-x"], "x").args == ["-x"]
