"""fuser: the tasks that use a file, found the way crash finds them: in the text `foreach files -i`
and `foreach vm -i` would print, each task's root and working directory, descriptor lines and
memory-area lines searched for the path or inode address (crash's filesys.c cmd_fuser)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from crashpy.commands.files import task_header
from crashpy.commands.registry import command
from crashpy.commands.rows import mkstring
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import fs
from crashpy.helpers.numbers import getopt, hexadecimal, htol
from crashpy.helpers.tasks import TaskContext, task_table

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  fuser - file users

SYNOPSIS
  fuser [pathname | inode]

DESCRIPTION
  Names every task that uses a file, and how: as its root directory
  (root), as its working directory (cwd), through an open descriptor (fd),
  or through a memory mapping (mmap).  The file is given by its full path
  name, or by the hexadecimal address of its inode.

EXAMPLES
    crash> fuser /dev/console
     PID         TASK        COMM             USAGE
        1  ffff888003dfc800  "init"           fd
      103  ffff88800460b000  "sleep"          fd
"""

USAGE_HEADER = f" PID   {mkstring('TASK', 16, 'c')}  COMM             USAGE\n"


def task_lines(prog: Program, tc: TaskContext) -> Iterator[str]:
    """The lines crash's fuser reads for one task: its header, `files -i` and `vm -i` (the lines
    between the vm header and its areas never decide anything, so they are left out)."""
    from crashpy.commands.files import open_files_text

    yield task_header(tc)
    try:
        for chunk in open_files_text(prog, tc, False, None, inodes=True):
            yield from chunk.splitlines(keepends=True)
        yield "TOTAL_VM\n"
        if tc.mm:
            yield "      VMA       \n"
            for vma in fs.mapped_files(prog, tc.mm):
                yield vma_line(vma)
    except CrashpyError as e:  # crash's foreach goes on with the next task
        yield f"{e}\n"


def vma_line(vma: fs.MappedArea) -> str:
    """crash's vm -i line for one area (the inode column only for a file with an inode)."""
    if vma.inode:
        return f"{vma.vma:x} {vma.start:10x} {vma.end:10x} {vma.flags:6x} {vma.inode:x} {vma.path}\n"
    return f"{vma.vma:<16x} {vma.start:10x} {vma.end:10x} {vma.flags:6x} {vma.path}\n"


def _matches(line: str, spec: str) -> int:
    """Where `spec` first occurs in `line` when a blank or the line's end follows it, else -1."""
    at = line.find(spec)
    if at < 0:
        return -1
    after = line[at + len(spec) : at + len(spec) + 1]
    return at if after in (" ", "\n") else -1


def usage_row(head: str, uses: str) -> str:
    """crash's show_fuser(): pid, task and command cut from a task header line."""
    pid = head[head.index("PID: ") + 5 :].split(" ", 1)[0][:10]
    task = head[head.index("TASK: ") + 6 :].lstrip(" ").split(" ", 1)[0][:20]
    comm = head[head.index("COMMAND: ") + 9 :][:16]
    comm = comm[: len(comm) - 1].ljust(16)
    return f"{pid:>5}  {task:>16}  {comm} {uses}\n"


def fuser_rows(prog: Program, spec: str) -> list[str]:
    """The USAGE rows for `spec` (a path, or an inode address without 0x) over every task."""
    rows: list[str] = []
    head = ""
    uses = ""
    n = len(spec)
    for tc in task_table(prog).contexts:
        doing_fds = doing_mmap = False
        for line in task_lines(prog, tc):
            if line.startswith("PID:"):
                if uses:
                    rows.append(usage_row(head, uses))
                    uses = ""
                head = line
                continue
            if line.startswith("ROOT:"):
                at = _matches(line, spec)
                if at >= 0:
                    rest = line[at:]
                    if "CWD:" in rest:
                        uses += "root "
                        if _matches(rest[n:], spec) >= 0:
                            uses += "cwd "
                    else:
                        uses += "cwd "
                continue
            if "DENTRY" in line:
                doing_fds = True
                continue
            if "TOTAL_VM" in line:
                doing_fds = False
                continue
            if " VMA " in line:
                doing_mmap, doing_fds = True, False
                continue
            if _matches(line, spec) >= 0:
                if doing_fds:
                    uses += "fd "
                    doing_fds = False
                if doing_mmap:
                    uses += "mmap "
                    doing_mmap = False
    if uses:
        rows.append(usage_row(head, uses))
    return rows


@command("fuser", summary="file users", help=HELP)
def cmd_fuser(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    parsed = getopt(args, "")
    for err in parsed.errors:
        session.println(f"fuser: {err}")
    if parsed.errors or not parsed.args:
        print_usage(session, "fuser")
        return
    prog = session.prog
    for spec in parsed.args:
        addr = htol(spec)
        if (addr is None or not prog.is_kvaddr(addr)) and not spec.startswith("/"):
            raise CommandError(f"invalid argument: {spec}")
        if spec.startswith("0x") and hexadecimal(spec):
            spec = spec[2:]
        rows = fuser_rows(prog, spec)
        if rows:
            session.write(USAGE_HEADER + "".join(rows))
        else:
            session.println(f"No users of {spec} found")
