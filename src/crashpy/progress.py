"""A progress line for long work (building the symbol index, foreach over every task): shown on a
terminal only, on one line rewritten in place, after the work has taken a moment; nothing at all when
the stream is not a terminal (piped or redirected), so scripted output never holds it."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

DELAY = 0.3  # seconds of work before the line appears
INTERVAL = 0.1  # seconds between redraws


class Progress:
    """`with Progress("foreach", total) as p: ... p.update(n)` shows `foreach: n/total` on a tty."""

    def __init__(
        self, what: str, total: int | None = None, stream: TextIO | None = None, *, allowed: bool = True
    ) -> None:
        self.what = what
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False
        try:
            self.enabled = allowed and bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < DELAY or now - self.last < INTERVAL:
            return
        self.last = now
        count = f"{done}/{self.total}" if self.total else str(done)
        self.stream.write(f"\r{self.what}: {count}\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
