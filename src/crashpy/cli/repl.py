"""The interactive prompt (prompt_toolkit): persistent history, crash's history recall, tab completion,
the pager, and Ctrl-C that stops a command without ending the session."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from crashpy.cli.history import PROMPT, CommandHistory, history_path
from crashpy.session import ExitSession, Session

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.key_binding import KeyBindings


def _key_bindings(session: Session) -> KeyBindings:
    """Tab as crash's readline has it: complete as far as the candidates agree, list them when they
    do not.  It runs at once, so keys typed after the Tab see the completed word."""
    import os

    from prompt_toolkit.application import run_in_terminal
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    from crashpy.cli.complete import complete, current_word

    kb = KeyBindings()

    @kb.add("tab")
    def _tab(event: KeyPressEvent) -> None:
        buf = event.current_buffer
        before = buf.document.text_before_cursor
        word = current_word(before)
        try:
            cands = complete(session, before)
        except Exception:  # completion must never take the prompt down
            cands = []
        if not cands:
            event.app.output.bell()
            return
        common = os.path.commonprefix(cands)
        if len(common) > len(word):
            buf.insert_text(common[len(word) :])
        if len(cands) == 1:
            buf.insert_text(" ")
        elif len(common) <= len(word):
            width = max(len(c) for c in cands) + 2
            per_line = max(1, 100 // width)
            rows = ["".join(c.ljust(width) for c in cands[i : i + per_line]).rstrip()
                    for i in range(0, len(cands), per_line)]
            run_in_terminal(lambda: print("\n".join(rows)))

    return kb


def _prompt_session(session: Session) -> PromptSession[str]:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    history: FileHistory | InMemoryHistory
    try:
        path = history_path()
        with open(path, "a"):
            pass
        history = FileHistory(path)
    except OSError:  # an unwritable home: history for this session only
        history = InMemoryHistory()
    return PromptSession(history=history, key_bindings=_key_bindings(session))


def run_typed_line(session: Session, recall: CommandHistory, typed: str) -> None:
    """One line as typed at the prompt: history recall first (crash's `r`, `!!`, `h`), then the command."""
    got = recall.expand(typed)
    if got.text:
        session.write(got.text)
    if got.line is None:
        return
    recall.add(got.line.strip())
    session.run_line(got.line)


def interactive(session: Session) -> None:
    """Read and run commands until `q`, `exit` or end of input (Ctrl-D)."""
    ps = _prompt_session(session)
    session.interactive = True
    session.paging = sys.stdout.isatty()
    recall = CommandHistory()
    while True:
        try:
            line = ps.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            session.println()
            return
        try:
            run_typed_line(session, recall, line)
        except ExitSession:
            return
        except KeyboardInterrupt:  # outside a command: in a pipe's shell or the pager
            sys.stderr.write("\n")
        sys.stdout.flush()
