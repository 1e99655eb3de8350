"""files: a task's root, working directory and open file descriptors; -d a dentry, -p an inode's page
cache, -c the page-cache counts, -R only what matches a reference (crash's filesys.c cmd_files,
open_files_dump, file_dump, display_dentry_info, dump_inode_page_cache_info)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import fs
from crashpy.helpers.numbers import dtol, getopt, htol, is_a_number, parse_line
from crashpy.helpers.pages import page_to_phys
from crashpy.helpers.tasks import TaskContext, task_table

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  files - open files

SYNOPSIS
  files [-d dentry] | [-p inode] | [-c] [-R reference] [pid | taskp] ...\x20

DESCRIPTION
  Lists what a task has open: first its root directory and current working
  directory, then one line per open file descriptor with the struct file,
  its dentry and inode, the kind of file (REG, DIR, CHR, BLK, LNK, FIFO,
  PIPE, SOCK, or UNKN) and its path.  Without a pid or task address the
  current context is used.

           pid  a process ID; every task with it is listed.
         taskp  a task_struct address in hexadecimal.
     -d dentry  show one dentry instead: its inode, super block, kind and
                path.
      -p inode  show the page-cache pages of an inode, one struct page line
                each, after the count the address_space keeps.
            -c  show the inode, its address_space and the number of pages
                it caches instead of the file and dentry columns.
  -R reference  show only the descriptors whose number, file, dentry or
                inode address, kind or path matches the reference (a
                number, an address, a kind or part of a path); tasks with no
                match print nothing.

  --json        the same rows as a JSON document.

EXAMPLES
  The files of the current task:

    crash> files
    PID: 1        TASK: ffff888003dfc800  CPU: 0    COMMAND: "init"
    ROOT: /    CWD: /
     FD       FILE            DENTRY           INODE       TYPE PATH
      0 ffff8880052e8400 ffff888004c7a540 ffff888003de5910 CHR  /dev/console
      1 ffff8880051ea600 ffff888004d0d600 ffff88800405fab0 REG  /proc/sysrq-trigger

  Which of them is under /proc:

    crash> files -R proc
    PID: 1        TASK: ffff888003dfc800  CPU: 0    COMMAND: "init"
    ROOT: /    CWD: /
     FD       FILE            DENTRY           INODE       TYPE PATH
      1 ffff8880051ea600 ffff888004d0d600 ffff88800405fab0 REG  /proc/sysrq-trigger
"""

FILES_HEADER = f" FD {mkstring('FILE', 16, 'cl')} {mkstring('DENTRY', 16, 'cl')} {mkstring('INODE', 16, 'cl')} TYPE PATH\n"
NRPAGES_HEADER = f" FD {mkstring('INODE', 16, 'cl')} {mkstring('I_MAPPING', 16, 'cl')} NRPAGES TYPE PATH\n"
DENTRY_HEADER = f"{mkstring('DENTRY', 16, 'cl')} {mkstring('INODE', 16, 'cl')} {mkstring('SUPERBLK', 16, 'cl')} TYPE PATH\n"


def task_header(tc: TaskContext) -> str:
    return f'PID: {tc.pid:<7}  TASK: {tc.task:<16x}  CPU: {tc.cpu!s:<3}  COMMAND: "{tc.comm}"\n'


def file_line(row: fs.OpenFile, nrpages: bool) -> str:
    """crash's file_dump() line for one descriptor."""
    if not row.dentry:
        return f"{row.fd:3d} {row.file:16x} {0:016x} {mkstring('?', 16, 'c')} ?    ?\n"
    if not row.inode:
        return f"{row.fd:3d} {row.file:16x} {row.dentry:16x} {0:016x} ?    ?\n"
    if nrpages:
        return f"{row.fd:3d} {row.inode:16x} {row.i_mapping:16x} {row.nrpages:7d} {row.type} {row.path}\n"
    return f"{row.fd:3d} {row.file:16x} {row.dentry:16x} {row.inode:16x} {row.type} {row.path}\n"


def _component(path: str, ref: str) -> bool:
    """crash's FILENAME_COMPONENT()."""
    return (path == "/" and ref == "/") or (ref != "/" and ref in path)


def _hex_only(s: str) -> bool:
    """crash's hexadecimal_only(s, 0): hex digits with at least one letter (or x)."""
    s = s.rstrip("\n").rstrip()
    letters = 0
    for c in s:
        if c in "abcdefABCDEFxX":
            letters += 1
        elif not c.isdigit():
            return False
    return letters > 0


@dataclass
class Reference:
    """-R: the string and, when it is a number, what crash takes it for."""

    text: str
    hexval: int | None = None
    decval: int | None = None

    def matches(self, line: str) -> bool:
        """crash's open_file_reference() over a file_dump() line."""
        args = parse_line(line)
        if len(args) < 5:
            return False
        if self.hexval is not None or self.decval is not None:
            fd = dtol(args[0]) or 0
            if fd in (self.hexval, self.decval):
                return True
            want = self.hexval or 0
            for word in args[1:4]:
                if word != "?" and htol(word) == want:
                    return True
        if self.text == args[4]:
            return True
        return len(args) == 6 and _component(args[5], self.text)


@dataclass
class TaskFiles:
    """One task's part of `files`: its root and working directory and its open descriptors."""

    tc: TaskContext
    dirs: fs.TaskFs | None
    table: fs.FdTable | None
    files: list[fs.OpenFile]


def task_files(prog: Program, tc: TaskContext, nrpages: bool = False) -> TaskFiles:
    taskfs = fs.task_fs(prog, tc.task)
    table = fs.task_fdtable(prog, tc.task)
    rows = [fs.file_row(prog, f, fd, nrpages) for fd, f in (table.files(prog) if table else []) if f]
    return TaskFiles(tc, taskfs, table, rows)


def open_files_text(
    prog: Program, tc: TaskContext, nrpages: bool, ref: str | None, inodes: bool = False
) -> Iterator[str]:
    """crash's open_files_dump() for one task, piece by piece (a fault ends it where crash stops)."""
    found = False
    root_pwd = ""
    taskfs = fs.task_fs(prog, tc.task)
    if taskfs is not None:
        if inodes and taskfs.root_dentry and taskfs.pwd_dentry:
            lay = fs.fs_layout(prog)
            ri = int.from_bytes(fs.dentry_buf(prog, taskfs.root_dentry)[lay.d_inode :][:8], "little")
            pi = int.from_bytes(fs.dentry_buf(prog, taskfs.pwd_dentry)[lay.d_inode :][:8], "little")
            yield f"ROOT: {ri:x} {taskfs.root_path}    CWD: {pi:x} {taskfs.pwd_path}\n"
        elif ref is not None:
            root_pwd = f"ROOT: {taskfs.root_path}    CWD: {taskfs.pwd_path} \n"
            if _component(taskfs.root_path, ref) or _component(taskfs.pwd_path, ref):
                yield task_header(tc) + root_pwd
                found = True
        else:
            yield f"ROOT: {taskfs.root_path}    CWD: {taskfs.pwd_path}\n"
    table = fs.task_fdtable(prog, tc.task)
    if table is None:
        if ref is None:
            yield "No open files\n"
        elif found:
            yield "\n"
        return
    reference = None
    if ref is not None:
        reference = Reference(ref)
        if is_a_number(ref):
            if _hex_only(ref):
                reference.hexval = htol(ref) or 0
            else:
                value = dtol(ref.strip())
                if value is not None and value <= table.max_fds:
                    reference.decval = value
                else:
                    reference.hexval = htol(ref) or 0
    header = NRPAGES_HEADER if nrpages else FILES_HEADER
    header_printed = False
    for fd, file in table.files(prog):
        if not file:
            continue
        line = file_line(fs.file_row(prog, file, fd, nrpages), nrpages)
        if reference is not None:
            if not reference.matches(line):
                continue
            if not found:
                yield task_header(tc) + root_pwd
                found = True
        if not header_printed:
            yield header
            header_printed = True
        yield line
    if not header_printed and ref is None:
        yield "No open files\n"
    if ref is not None and found:
        yield "\n"


# ---- -d and -p --------------------------------------------------------------------------------------


def dentry_line(info: fs.DentryInfo) -> str:
    sb = mkstring(f"{info.superblock:x}", 16, "c")
    return f"{info.dentry:16x} {info.inode:16x} {sb} {info.type or 'N/A'} {info.path}\n"


def _first_context(prog: Program) -> TaskContext:
    """crash's pid_to_context(1), or the next pid that exists."""
    table = task_table(prog)
    for tc in sorted(table.contexts, key=lambda t: t.pid):
        if tc.pid >= 1:
            return tc
    return table.contexts[0]


def page_cache_text(session: Session, inode: int) -> Iterator[str]:
    """crash's dump_inode_page_cache_info(): the count, then a struct page line for each page."""
    from crashpy.commands.kmem_pages import mem_map_one

    prog = session.prog
    pc = fs.inode_page_cache(prog, inode)
    yield f"{mkstring('INODE', 16, 'cl')}  NRPAGES\n"
    yield f"{mkstring(f'{inode:x}', 16, 'cr')}  {pc.nrpages:7d}\n\n"
    if not pc.nrpages:
        return
    count = 0
    for entry in fs.page_cache_entries(prog, pc.mapping):
        text = mem_map_one(prog, entry, False, count == 0, None) if entry & 3 == 0 else None
        if text is None:
            if entry & 3:
                continue
            raise CommandError(f"do_xarray: callback operation failed: entry: {count}  item: {entry:x}")
        yield text
        count += 1
    if count != pc.nrpages:
        yield f"files: xarray page count: {count}  nrpages: {pc.nrpages}\n"


# ---- the command ------------------------------------------------------------------------------------


def _address(arg: str) -> int:
    notes: list[str] = []
    value = htol(arg, notes)
    if value is None:
        raise CommandError(notes[-1] if notes else f'invalid input: "{arg}"')
    return value


def _targets(session: Session, args: list[str]) -> Iterator[tuple[int, str, TaskContext | str]]:
    """(argument index, "pid" | "task", context) for each task an argument names, and
    (index, "invalid", argument) for one naming no task."""
    from crashpy.helpers.tasks import str_to_context

    table = task_table(session.prog)
    for n, arg in enumerate(args):
        kind, value, tc = str_to_context(table, arg)
        if kind == "pid":
            for t in table.by_pid(value):
                yield n, "pid", t
        elif kind == "task" and tc is not None:
            yield n, "task", tc
        else:
            yield n, "invalid", arg


def _check_pages(prog: Program, option: str) -> None:
    if not (prog.has_member("inode", "i_mapping") and prog.has_member("address_space", "nrpages")):
        raise CommandError(f"-{option} option not supported or applicable on this architecture or kernel")


@command("files", summary="open files", help=HELP, json=lambda s, a: files_document(s, a))
def cmd_files(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    prog = session.prog
    parsed = getopt(args, "d:R:p:c")
    ref: str | None = None
    nrpages = False
    bad = False
    for opt, val in parsed.opts:
        if opt == "R":
            if ref is not None:
                session.println("files: only one -R option allowed")
                bad = True
            else:
                ref = val
        elif opt == "d":
            dentry = _address(val or "")
            session.write(DENTRY_HEADER)
            session.write(dentry_line(fs.dentry_info(prog, dentry, _first_context(prog).task)))
            return
        elif opt == "p":
            _check_pages(prog, "p")
            for chunk in page_cache_text(session, _address(val or "")):
                session.write(chunk)
            return
        elif opt == "c":
            _check_pages(prog, "c")
            nrpages = True
        else:
            bad = True
    for err in parsed.errors:
        session.println(f"files: {err}")
    if bad or parsed.errors:
        print_usage(session, "files")
        session.errors += 1
        return
    if not parsed.args:
        tc = session.current_context()
        if ref is None:
            session.write(task_header(tc))
        for chunk in open_files_text(prog, tc, nrpages, ref):
            session.write(chunk)
        return
    for subsequent, kind, target in _targets(session, parsed.args):
        if isinstance(target, str):
            session.println(f"files: invalid task or pid value: {target}")
            session.errors += 1
            continue
        if ref is None:  # the blank line comes with each argument after the first, not each task
            session.write(("\n" if subsequent else "") + task_header(target))
        for chunk in open_files_text(prog, target, nrpages, ref):
            session.write(chunk)
        if kind == "pid":
            session.write("\n")


# ---- --json -----------------------------------------------------------------------------------------


def _file_json(row: fs.OpenFile, nrpages: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "fd": row.fd,
        "file": hex_address(row.file),
        "dentry": hex_address(row.dentry) if row.dentry else None,
        "inode": hex_address(row.inode) if row.inode else None,
        "type": row.type.strip() if row.inode else None,
        "path": row.path if row.inode else None,
    }
    if nrpages and row.inode:
        out["i_mapping"] = hex_address(row.i_mapping)
        out["nrpages"] = row.nrpages
    return out


def _task_json(prog: Program, tc: TaskContext, nrpages: bool, ref: str | None) -> dict[str, Any] | None:
    data = task_files(prog, tc, nrpages)
    files = data.files
    if ref is not None:
        reference = Reference(ref)
        if is_a_number(ref) and data.table is not None:
            if _hex_only(ref):
                reference.hexval = htol(ref) or 0
            else:
                value = dtol(ref.strip())
                if value is not None and value <= data.table.max_fds:
                    reference.decval = value
                else:
                    reference.hexval = htol(ref) or 0
        files = [f for f in files if reference.matches(file_line(f, nrpages))]
        dirs = data.dirs is not None and (
            _component(data.dirs.root_path, ref) or _component(data.dirs.pwd_path, ref)
        )
        if not files and not dirs:
            return None
    return {
        "pid": tc.pid,
        "task": hex_address(tc.task),
        "command": tc.comm,
        "root": data.dirs.root_path if data.dirs else None,
        "cwd": data.dirs.pwd_path if data.dirs else None,
        "files": [_file_json(f, nrpages) for f in files],
    }


def files_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`files --json`: the tasks' rows, or the dentry (-d) or the page cache (-p)."""
    prog = session.prog
    parsed = getopt([a for a in args if a != "--json"], "d:R:p:c")
    if parsed.errors:
        raise CommandError(parsed.errors[0])
    ref: str | None = None
    nrpages = False
    for opt, val in parsed.opts:
        if opt == "d":
            info = fs.dentry_info(prog, _address(val or ""), _first_context(prog).task)
            return {
                "dentry": {
                    "dentry": hex_address(info.dentry),
                    "inode": hex_address(info.inode) if info.inode else None,
                    "superblock": hex_address(info.superblock) if info.superblock else None,
                    "type": info.type.strip() if info.type else None,
                    "path": info.path,
                }
            }
        if opt == "p":
            _check_pages(prog, "p")
            inode = _address(val or "")
            pc = fs.inode_page_cache(prog, inode)
            entries = fs.page_cache_entries(prog, pc.mapping) if pc.nrpages else iter(())
            pages = [e for e in entries if not e & 3 and page_to_phys(prog, e) is not None]
            return {
                "inode": hex_address(inode),
                "i_mapping": hex_address(pc.mapping),
                "nrpages": pc.nrpages,
                "pages": [hex_address(p) for p in pages],
            }
        if opt == "R":
            ref = val
        if opt == "c":
            _check_pages(prog, "c")
            nrpages = True
    tasks: list[dict[str, Any]] = []
    targets = (
        list(_targets(session, parsed.args)) if parsed.args else [(0, "task", session.current_context())]
    )
    for _, _, target in targets:
        if isinstance(target, str):
            raise CommandError(f"invalid task or pid value: {target}")
        try:
            row = _task_json(prog, target, nrpages, ref)
        except CrashpyError as e:  # this task's tables cannot be read: its row says why
            tasks.append(
                {
                    "pid": target.pid,
                    "task": hex_address(target.task),
                    "command": target.comm,
                    "root": None,
                    "cwd": None,
                    "files": None,
                    "error": str(e),
                }
            )
            continue
        if row is not None:
            tasks.append(row)
    doc: dict[str, Any] = {"tasks": tasks}
    return doc
