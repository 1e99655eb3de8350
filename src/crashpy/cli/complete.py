"""Tab completion at the prompt: command names and aliases, options, symbols, struct/union names,
`struct.member` paths and pids.  Everything it needs is read on first use and cached on the Program."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from crashpy.errors import CrashpyError
from crashpy.session import EXTERNAL_COMMANDS, Session

# Commands whose arguments name a struct or union first.
TYPE_COMMANDS = {"struct", "union", "*", "whatis", "ptype", "size"}
# Commands that take pids.
PID_COMMANDS = {"ps", "set", "task", "bt", "foreach", "files", "vm", "net", "sig", "kmem"}
_SYNOPSIS_OPTION = re.compile(r"(?<![\w-])-([A-Za-z]+|[0-9]+)")
MAX_MATCHES = 500


def command_names(session: Session) -> list[str]:
    return sorted(set(session.commands) | set(session.aliases) | EXTERNAL_COMMANDS)


def command_options(session: Session, name: str) -> list[str]:
    """The one-letter options the command's SYNOPSIS shows (`-a`, `-T`, ...)."""
    cmd = session.commands.get(name)
    if cmd is None:
        return []
    text = cmd.help
    start = text.find("SYNOPSIS")
    end = text.find("DESCRIPTION", start)
    synopsis = text[start:end] if start >= 0 else ""
    found: set[str] = set()
    for m in _SYNOPSIS_OPTION.findall(synopsis):
        found.update([f"-{m}"] if m.isdigit() else (f"-{c}" for c in m))  # -64 is one; -Tt is -T, -t
    return sorted(found)


def symbol_names(session: Session, prefix: str) -> list[str]:
    """vmlinux symbol names that start with `prefix` (a sorted name list, made on first use)."""
    prog = session.prog
    image = getattr(prog, "image", None)
    if image is None or not prefix:
        return []

    def names() -> list[str]:
        symtab = image.symtab
        if symtab is None:
            return []
        entries, strtab = symtab.rows(), symtab.strtab
        seen: set[int] = set()
        out: set[str] = set()
        for st_name, info, _other, shndx, _value, _size in entries:
            if not st_name or not shndx or (info & 0xF) in (3, 4) or st_name in seen:
                continue  # unnamed, undefined, section and file symbols
            seen.add(st_name)
            name = strtab[st_name : strtab.find(b"\0", st_name)].decode("ascii", "replace")
            if "." not in name:  # compiler-made local names (foo.cold, foo.isra.0) are not typed at crash>
                out.add(name)
        return sorted(out)

    every: list[str] = prog.cache("completion_symbols", names)
    lo = bisect.bisect_left(every, prefix)
    hi = bisect.bisect_left(every, prefix + "\x7f", lo)
    return every[lo : min(hi, lo + MAX_MATCHES)]


def type_names(session: Session, prefix: str) -> list[str]:
    """struct and union names that start with `prefix`."""

    def names() -> list[str]:
        btf = session.prog.btf
        return sorted(set(btf.type_names("struct")) | set(btf.type_names("union")))

    try:
        every: list[str] = session.prog.cache("completion_types", names)
    except CrashpyError:  # no BTF: nothing to offer
        return []
    return [n for n in every if n.startswith(prefix)][:MAX_MATCHES]


def member_paths(session: Session, word: str) -> list[str]:
    """`task_struct.se.vr` -> `task_struct.se.vruntime`: members of the struct named before the dots."""
    head, _, partial = word.rpartition(".")
    type_name, *path = head.split(".")
    try:
        t = session.prog.btf.lookup_type(type_name)
        if path:
            t = t.lookup_member(".".join(path)).type
        members = t.members()
    except CrashpyError:  # no such type or member, or a type without members
        return []
    out: list[str] = []
    for m in members:
        if m.name and m.name.startswith(partial):
            out.append(f"{head}.{m.name}")
    return out


def pids(session: Session, prefix: str) -> list[str]:
    try:
        from crashpy.helpers.tasks import task_table

        table = task_table(session.prog)
    except CrashpyError:  # no task table (damaged dump, no kernel): no pids to offer
        return []
    return sorted({str(tc.pid) for tc in table.contexts if str(tc.pid).startswith(prefix)}, key=int)


def complete(session: Session, text_before_cursor: str) -> list[str]:
    """The words that could replace the last word of `text_before_cursor`."""
    words = text_before_cursor.split()
    if text_before_cursor.endswith(" "):
        words.append("")
    if len(words) <= 1:
        prefix = words[0] if words else ""
        names = [n for n in command_names(session) if n.startswith(prefix)]
        if names or not prefix:
            return names
        # a bare type or symbol name is a command too (crash runs `task_struct addr`, `jiffies`)
        if "." in prefix:
            return member_paths(session, prefix)
        return type_names(session, prefix) + symbol_names(session, prefix)
    cmd = words[0]
    alias = session.aliases.get(cmd)
    if alias is not None and alias.words:
        cmd = alias.words[0]
    word = words[-1]
    if word.startswith("-"):
        return [o for o in command_options(session, cmd) if o.startswith(word)]
    if "." in word and not word[0].isdigit():
        return member_paths(session, word)
    if word.isdigit() or (word == "" and cmd in PID_COMMANDS):
        return pids(session, word) if cmd in PID_COMMANDS else []
    if cmd in TYPE_COMMANDS:
        return type_names(session, word) or symbol_names(session, word)
    return symbol_names(session, word)


def current_word(text_before_cursor: str) -> str:
    """The word the cursor ends (empty after a blank)."""
    if not text_before_cursor or text_before_cursor[-1].isspace():
        return ""
    return text_before_cursor.split()[-1]


class CrashCompleter(Completer):
    """prompt_toolkit's Completer over complete() (for menus; the REPL's Tab calls complete() itself)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor
        word = current_word(before)
        for cand in complete(self.session, before)[:MAX_MATCHES]:
            yield Completion(cand, start_position=-len(word))
