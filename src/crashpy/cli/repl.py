"""The interactive prompt (prompt_toolkit), with history and command-name completion."""

from __future__ import annotations

import os

from crashpy.session import ExitSession, Session


def interactive(session: Session) -> None:
    """Read and run commands until `q`, `exit` or end of input."""
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    hist = os.path.expanduser("~/.crashpy_history")
    try:
        history = FileHistory(hist)
    except OSError:  # pragma: no cover
        history = None
    words = sorted(session.commands)
    ps: PromptSession[str] = PromptSession(history=history, completer=WordCompleter(words, sentence=True))
    while True:
        try:
            line = ps.prompt("crash> " if not session.minimal else "crash> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            session.println()
            return
        try:
            session.run_line(line)
        except ExitSession:
            return
