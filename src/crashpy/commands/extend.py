"""extend: crash's extension libraries (shared objects with commands), which crashpy cannot load.

crash 8.0.6's cmd_extend (extensions.c) lists the loaded libraries, loads or unloads them, or shows
the shared objects in its search directories.  crashpy loads none: the listing is empty, unloading
finds nothing loaded, and a load gets crash's own answers up to the point where crash would dlopen()
a real shared object, where crashpy says it cannot.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.helpers.numbers import getopt

if TYPE_CHECKING:
    from crashpy.session import Session

HELP = """\
NAME
  extend - extend the crash command set

SYNOPSIS
  extend [shared-object ...] | [-u [shared-object ...]] | -s

DESCRIPTION
  crash can add commands from shared objects ("extensions").  crashpy is
  written in Python and cannot load them: its own way to add commands is
  the Python API (see docs/python-api.md).  This command answers as crash
  does where it can.

    shared-object  crash would load it: crashpy finds the file the same
                   way (the current directory, $CRASH_EXTENSIONS, the
                   extensions directories) and checks it is a shared
                   object, then says it cannot load it.
    -u [shared-object ...]
                   unload them (or every one): none is ever loaded.
    -s             list the shared objects in the extensions directories.

  Without arguments, lists the loaded extensions: there are none, so it
  prints nothing.

EXAMPLES
    crash> extend nosuch.so
    extend: nosuch.so: No such device or address
"""

ENXIO = "No such device or address"


def _search_dirs() -> list[str]:
    dirs = []
    env = os.environ.get("CRASH_EXTENSIONS")
    if env:
        dirs.append(env)
    return [*dirs, "/usr/lib64/crash/extensions", "/usr/lib/crash/extensions", "./extensions"]


def _in_library(lib: str) -> str | None:
    for d in _search_dirs():
        path = f"{d}{'' if d.endswith('/') else '/'}{lib}"
        if os.path.exists(path):
            return path
    return None


def _is_shared_object(path: str) -> bool:
    """crash's is_shared_object() for x86_64: an ELF file of type ET_DYN for x86_64 (or i386 ELF32 none)."""
    if os.path.isdir(path):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1500)
    except OSError:
        return False
    if len(head) < 1500 or head[:4] != b"\x7fELF" or head[6] != 1:
        return False
    little = head[5] == 1
    e_type = int.from_bytes(head[16:18], "little" if little else "big")
    e_machine = int.from_bytes(head[18:20], "little" if little else "big")
    return head[4] == 2 and e_type == 3 and e_machine == 62


def _show_all(session: Session) -> None:
    dirs = ["./"]
    env = os.environ.get("CRASH_EXTENSIONS")
    if env:
        dirs.append(env)
    dirs += ["/usr/lib64/crash/extensions/", "/usr/lib/crash/extensions/", "./extensions/"]
    for d in dirs:
        try:
            entries = os.listdir(d)
        except OSError:
            continue
        for name in entries:
            path = f"{d}{'' if d.endswith('/') else '/'}{name}"
            if _is_shared_object(path):
                session.println(path)


def _load(session: Session, lib: str) -> None:
    if lib[:1] not in (".", "/"):
        if os.path.exists(lib):
            path = f"./{lib}"
        else:
            found = _in_library(lib)
            if found is None:
                session.println(f"extend: {lib}: {ENXIO}")
                return
            path = found
    else:
        path = lib
    if not _is_shared_object(path):
        session.println(f"extend: {path}: not an ELF format object file")
        return
    session.println(f"extend: {path}: crashpy cannot load crash extension libraries")


def _unload(session: Session, lib: str) -> None:
    path = lib
    if lib[:1] not in (".", "/") and not os.path.exists(lib):
        path = _in_library(lib) or lib
    if not os.path.exists(path):
        session.println(f"extend: {path}: {ENXIO}")
        return
    session.println(f"extend: {path}: not loaded")


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "extend")


@command("extend", summary="extend the crash command set", help=HELP)
def cmd_extend(session: Session, args: list[str]) -> None:
    parsed = getopt(args, "lus")
    errors = iter(parsed.errors)
    argerrs = 0
    mode = ""
    for c, _ in parsed.opts:
        if c == "?":
            session.println(f"extend: {next(errors, 'invalid option')}")
            argerrs += 1
            continue
        clash = {"s": "ul", "l": "us", "u": "ls"}[c]  # the order crash checks them in
        other = next((m for m in clash if m in mode), None)
        if other is not None:
            session.println(f"extend: -{c} and -{other} are mutually exclusive")
            argerrs += 1
        else:
            mode += c
    if argerrs:
        _usage(session)
        return
    if "s" in mode:
        _show_all(session)
        return
    if "u" in mode:
        if not parsed.args:
            return  # nothing is loaded, so nothing is unloaded
        for lib in parsed.args:
            _unload(session, lib)
        return
    if not parsed.args:
        if "l" in mode:
            session.println("extend: -l requires one or more extension library arguments")
            _usage(session)
        return
    for lib in parsed.args:
        _load(session, lib)
