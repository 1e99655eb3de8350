"""mount: the mounts of a mount namespace (crash's filesys.c cmd_mount, show_mounts, get_mount_list)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import fs
from crashpy.helpers.numbers import getopt, hexadecimal, htol, parse_line
from crashpy.helpers.tasks import TaskContext, str_to_context, task_table

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  mount - mounted filesystem data

SYNOPSIS
  mount [-f][-i] [-n pid|task] [mount|vfsmount|superblock|dev|dir|dentry|inode]

DESCRIPTION
  Lists the mounts of a mount namespace, one line each: the struct mount,
  its super block, the file system type, the device name and the directory
  it is mounted on.  The namespace is pid 1's unless -n names another task.
  Arguments pick the mounts to show: a struct mount, vfsmount or super
  block address, a device name or a directory.

           -f  also list each mount's open files (kernels whose super
               blocks keep a list of them).
           -i  also list each mount's dirty inodes (kernels whose super
               blocks keep a list of them).
  -n pid|task  the mount namespace of this task.

  --json       the same rows as a JSON document.

EXAMPLES
  The mount on /proc, as JSON:

    crash> mount --json /proc
    {
      "command": "mount",
      "schema_version": 1,
      "namespace_pid": 1,
      "mounts": [
        {
          "mount": "ffff888003dc0000",
          "superblock": "ffff888004600000",
          "type": "proc",
          "devname": "proc",
          "dirname": "/proc"
        }
      ]
    }
"""

DEVLEN = len("DEVNAME") + 2
MOUNT_HEADER = (
    f"{mkstring('MOUNT', 16, 'c')} {mkstring('SUPERBLK', 16, 'c')} {mkstring('TYPE', 6, 'l')} "
    f"{mkstring('DEVNAME', DEVLEN, 'l')} DIRNAME\n"
)


def mount_line(row: fs.MountRow) -> str:
    """crash's show_mounts() line for one mount."""
    kind = f"{row.type:<6} " if row.type is not None else "unknown "
    dev = mkstring(row.devname if row.devname is not None else "(unknown)", DEVLEN, "l") + " "
    middle = kind + dev
    while len(middle) > 17 and middle[-2] == " ":
        middle = middle[:-1]
    return f"{row.mount:16x} {row.superblock:16x} {middle}{row.dirname:<10}\n"


def _default_task(prog: Program) -> TaskContext:
    """crash's namespace context: pid 1, or the next pid that exists."""
    table = task_table(prog)
    for tc in sorted(table.contexts, key=lambda t: t.pid):
        if tc.pid >= 1:
            return tc
    return table.contexts[0]


def _task(prog: Program, arg: str) -> TaskContext:
    kind, _, tc = str_to_context(task_table(prog), arg)
    if kind == "invalid" or tc is None:
        raise CommandError(f"invalid task or pid value: {arg}")
    return tc


def _missing_list(prog: Program, option: str) -> tuple[str, str] | None:
    """-f and -i need lists super blocks lost long ago: crash's two lines when they are gone."""
    member = "s_files" if option == "f" else "s_dirty"
    if prog.has_member("super_block", member):
        return None
    return (
        f"the super_block.{member} linked list does not exist in this kernel",
        f"-{option} option not supported or applicable on this architecture or kernel",
    )


def _check_list(session: Session, option: str) -> None:
    missing = _missing_list(session.prog, option)
    if missing is None:
        raise CommandError(f"-{option} is not implemented by crashpy (a kernel with super_block lists)")
    session.println(f"mount: {missing[0]}")
    raise CommandError(missing[1])


def _pathcmp(a: str, b: str) -> bool:
    """crash's pathcmp(): equal but for repeated and trailing slashes."""

    def norm(s: str) -> str:
        s = re.sub("/+", "/", s)
        return s[:-1] if s.endswith("/") else s

    return norm(a) == norm(b)


def _selected(prog: Program, line: str, spec: str) -> bool:
    words = parse_line(line)
    for i, word in enumerate(words):
        if _pathcmp(word, spec):
            return True
        if i == 0 and len(words) == 5 and hexadecimal(spec) and hexadecimal(word):
            if htol(spec) == (htol(word) or 0) + fs.fs_layout(prog).mnt:
                return True
    return False


def _rows(prog: Program, mounts: list[int]) -> Iterator[fs.MountRow | str]:
    """Each mount's row (a warning line for one without a super block), one at a time: a fault ends
    the listing after the rows already made."""
    for mount in mounts:
        try:
            yield fs.mount_row(prog, mount)
        except fs.MountWithoutSuperblock as e:
            yield f"WARNING: {e}"


@command("mount", summary="mounted filesystem data", help=HELP, json=lambda s, a: mount_document(s, a))
def cmd_mount(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    prog = session.prog
    parsed = getopt(args, "ifn:")
    namespace = _default_task(prog)
    files = False
    errors = iter(parsed.errors)
    for opt, val in parsed.opts:  # in crash's order: the first failing option ends the command
        if opt == "i":
            _check_list(session, "i")
        elif opt == "f":
            files = True
        elif opt == "n":
            namespace = _task(prog, val or "")
        else:
            session.println(f"mount: {next(errors, '')}")
    if parsed.errors:
        print_usage(session, "mount")
        return
    if files:
        _check_list(session, "f")
    mounts = fs.mount_list(prog, namespace.task)
    if not parsed.args:
        session.write(MOUNT_HEADER)
        for row in _rows(prog, mounts):
            session.write(row + "\n" if isinstance(row, str) else mount_line(row))
        return
    # crash builds this search from a listing with each mount's open files, and fails on kernels whose
    # super blocks have no s_files list; crashpy searches the mount lines themselves.
    header = False
    rows = list(_rows(prog, mounts))
    for spec in parsed.args:
        if spec.startswith("0x") and hexadecimal(spec):
            spec = spec[2:]
        for row in rows:
            if isinstance(row, str):
                continue
            line = mount_line(row)
            if _selected(prog, line, spec):
                if not header:
                    session.write(MOUNT_HEADER)
                    header = True
                session.write(line)


def mount_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`mount --json`: the namespace's mounts (or those the arguments pick)."""
    prog = session.prog
    parsed = getopt([a for a in args if a != "--json"], "ifn:")
    if parsed.errors:
        raise CommandError(parsed.errors[0])
    namespace = _default_task(prog)
    for opt, val in parsed.opts:
        if opt in "if":
            missing = _missing_list(prog, opt)
            raise CommandError(missing[1] if missing else f"-{opt} is not implemented by crashpy")
        if opt == "n":
            namespace = _task(prog, val or "")
    mounts: list[dict[str, Any]] = []
    warnings: list[str] = []
    for mount in fs.mount_list(prog, namespace.task):
        try:
            row = fs.mount_row(prog, mount)
        except fs.MountWithoutSuperblock as e:
            warnings.append(f"WARNING: {e}")
            continue
        except CrashpyError as e:  # this mount cannot be read: its entry says why
            if not parsed.args:
                mounts.append(
                    {
                        "mount": hex_address(mount),
                        "superblock": None,
                        "type": None,
                        "devname": None,
                        "dirname": None,
                        "error": str(e),
                    }
                )
            continue
        if parsed.args and not any(
            _selected(prog, mount_line(row), s[2:] if s.startswith("0x") and hexadecimal(s) else s)
            for s in parsed.args
        ):
            continue
        mounts.append(
            {
                "mount": hex_address(row.mount),
                "superblock": hex_address(row.superblock),
                "type": row.type,
                "devname": row.devname,
                "dirname": row.dirname,
            }
        )
    doc: dict[str, Any] = {"namespace_pid": namespace.pid, "mounts": mounts}
    if warnings:
        doc["warnings"] = warnings
    return doc
