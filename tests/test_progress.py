"""The progress line: on a terminal only, after a moment, rewritten in place and cleared at the end."""

from __future__ import annotations

import io

import crashpy.progress as progress_mod
from crashpy.progress import Progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_shown_on_a_terminal_and_cleared(monkeypatch: object) -> None:
    clock = iter([0.0, 1.0, 1.05, 2.0])
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(clock))  # type: ignore[attr-defined]
    tty = _Tty()
    with Progress("foreach bt", 57, tty) as p:  # starts at 0.0
        p.update(10)  # 1.0: shown
        p.update(11)  # 1.05: too soon to redraw
        p.update(30)  # 2.0: shown
    assert tty.getvalue() == "\rforeach bt: 10/57\x1b[K\rforeach bt: 30/57\x1b[K\r\x1b[K"


def test_nothing_when_piped_or_not_allowed() -> None:
    piped = io.StringIO()
    with Progress("x", 3, piped) as p:
        p.update(1)
    assert piped.getvalue() == ""
    tty = _Tty()
    with Progress("x", 3, tty, allowed=False) as p:
        p.update(1)
    assert tty.getvalue() == ""
