"""crash's history recall at the prompt: `h`, `r`, `!!`, `r N`, `!N`, `r prefix` (cmdline.c's pseudo commands).

The numbers count the lines entered in this session, from 1, as crash's do; the history file that the
up-arrow key walks (~/.crashpy_history) is separate and spans sessions.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

PROMPT = "crash> "


@dataclass
class Recall:
    """What a typed line turned into: the command to run (None: nothing) and what to print first."""

    line: str | None
    text: str = ""


@dataclass
class CommandHistory:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        if line and line[0].isprintable():
            self.lines.append(line)

    def listing(self) -> str:
        return "".join(f"[{i}] {line}\n" for i, line in enumerate(self.lines, 1))

    def _entry(self, typed: str, ref: str) -> Recall:
        """The entry `ref` names: a number (1 = the first line of the session) or a line's start."""
        ref = ref.strip()
        if ref.isdigit():
            idx = int(ref)
            if idx == 0:
                return Recall(None, f"invalid repeat request: {typed}\n")
            if idx > len(self.lines):
                return Recall(None, f"crash: command {idx} not entered yet!\n")
            line = self.lines[idx - 1]
            return Recall(line, f"{PROMPT}{line}\n")
        for line in reversed(self.lines):
            if line.startswith(ref):
                return Recall(line, f"{PROMPT}{line}\n")
        return Recall(None, f"invalid repeat request: {typed}\n")

    def expand(self, typed: str) -> Recall:
        """The command a typed line stands for; lines that are not recall requests come back as they are."""
        s = typed.strip()
        if s == "h" or s.startswith("hi"):
            if not self.lines:
                return Recall(None, "crash: no commands entered!\n")
            return Recall(None, self.listing())
        is_r = s == "r" or s == "!!" or (s[:1] == "r" and s[1:].strip().isdigit()) or s.startswith("r ")
        is_bang = s[:1] == "!" and s[1:].strip().isdigit() and not shutil.which(s[1:].strip())
        if not (is_r or is_bang):
            return Recall(typed)
        if not self.lines:
            return Recall(None, "crash: no commands entered!\n")
        if s in ("r", "!!"):
            line = self.lines[-1]
            return Recall(line, f"{PROMPT}{line}\n")
        return self._entry(s, s[1:])


def history_path() -> str:
    """Where the up-arrow history lives: $CRASHPY_HISTORY, or ~/.crashpy_history."""
    return os.environ.get("CRASHPY_HISTORY") or os.path.expanduser("~/.crashpy_history")
