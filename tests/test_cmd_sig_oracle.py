"""sig on every test dump: crashpy against crash 8.0.6, same file, one crash session per dump."""

from __future__ import annotations

from functools import cache

import pytest

from tests.crashpy_runner import both_outputs
from tests.dump_names import WITH_NMI

DUMPS = WITH_NMI

SIG = [
    "sig",
    "sig 1",
    "sig 2",
    "sig 0",  # both idle tasks
    "sig -g 1",
    "sig -g 0",  # the idle group once
    "sig -g 2 1",
    "sig 1 2",
    "set 2",
    "sig",  # the new context
    "set -p",
    "sig -l",
    "sig -s 12345",
    "sig -s 0",
    "sig -s ffffffffffffffff",  # wrapped at 80 columns
    "sig -s 0x800A000000000201",
    "sig -s 123456789abcdef0",
    "sig -l -s 1",
    "sig -s 1 -l",
    "foreach user sig",  # every user task's handlers, blocked and queued signals
    "foreach kernel sig -g",
    # errors: crash's one-line messages, never a traceback
    "sig -s zz",
    "sig -s 11111111111111111",
    "sig -s",
    "sig -x",
    "sig 99999",
    "sig bogus",
    "sig -R pid",
    "sig pid",
    "sig 1,2",
]


@cache
def outputs(name: str) -> tuple[list[str], list[str]]:
    return both_outputs(name, SIG)


@pytest.mark.parametrize("name", DUMPS)
def test_sig_matches_crash(name: str) -> None:
    expected, got = outputs(name)
    differ = [c for c, e, g in zip(SIG, expected, got, strict=True) if e != g]
    assert differ == [], differ
    assert got[0].count("\n") > 70  # 64 handlers and the pending data, not an error
    for out in got:
        assert "internal error" not in out and "Traceback" not in out
