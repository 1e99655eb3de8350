"""ipcs: System V IPC objects of a namespace (crash's ipcs.c), from helpers/ipc.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.ipc import (
    MSG_IDS,
    SEM_IDS,
    SHM_DEST,
    SHM_IDS,
    SHM_LOCKED,
    IpcObject,
    ipc_objects,
    task_ipc_namespace,
)
from crashpy.helpers.numbers import getopt, stol
from crashpy.helpers.tasks import str_to_context

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  ipcs - System V IPC facilities

SYNOPSIS
  ipcs [-smMq] [-n pid|task] [id | addr]

DESCRIPTION
  Lists the System V shared memory segments, semaphore sets and message
  queues of an IPC namespace: for each object the address of its kernel
  structure, its key, its id, its owner's uid, its permission bits, and
  its size (bytes and attaches of a segment, semaphores of a set, bytes
  and messages waiting in a queue).  A kind with no objects says "(none
  allocated)".  With no option all three kinds are listed.

    -s          semaphore sets only.
    -m          shared memory segments only.
    -M          shared memory segments, each with its pages (allocated,
                resident, swapped) and the address of its inode.
    -q          message queues only.
    -n pid|task use the IPC namespace of this task (a pid, or a task_struct
                address in hexadecimal) rather than the initial one.
    id | addr   show only the object with this id, or whose kernel structure
                is at this address; one that matches nothing is named as
                not found.

EXAMPLES
  On a system with no semaphore sets, "ipcs -s" prints its column names
  and then "(none allocated)".  Looking for an id nothing uses:

    crash> ipcs 7
    invalid id or address: 7

"""

VADDR_PRLEN = 16
_HEADERS = {
    SHM_IDS: (
        ("SHMID_KERNEL", VADDR_PRLEN),
        ("KEY", 8),
        ("SHMID", 10),
        ("UID", 5),
        ("PERMS", 5),
        ("BYTES", 10),
        ("NATTCH", 6),
        ("STATUS", 6),
    ),
    SEM_IDS: (("SEM_ARRAY", VADDR_PRLEN), ("KEY", 8), ("SEMID", 10), ("UID", 5), ("PERMS", 5), ("NSEMS", 10)),
    MSG_IDS: (
        ("MSG_QUEUE", VADDR_PRLEN),
        ("KEY", 8),
        ("MSQID", 10),
        ("UID", 5),
        ("PERMS", 5),
        ("USED-BYTES", 12),
        ("MESSAGES", 12),
    ),
}
_ORDER = (SHM_IDS, SEM_IDS, MSG_IDS)


def header(which: int) -> str:
    return " ".join(f"{name:<{width}}" for name, width in _HEADERS[which]) + "\n"


def _signed(v: int, bits: int = 64) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def object_line(obj: IpcObject, verbose: bool = False) -> str:
    head = f"{obj.address:<{VADDR_PRLEN}x} {obj.key & 0xFFFFFFFF:08x} {obj.id:<10} {_signed(obj.uid, 32):<5} "
    perms = f"{obj.mode & 0o777:<5o}"
    if obj.kind == "shm":
        dest = "dest" if obj.mode & SHM_DEST else ""
        locked = "locked" if obj.mode & SHM_LOCKED else ""
        text = f"{head}{perms} {_signed(obj.bytes):<10} {_signed(obj.nattch):<6} {dest} {locked}\n"
        if verbose:
            pages = (obj.bytes + 4095) >> 12
            text += f"PAGES ALLOCATED/RESIDENT/SWAPPED: {pages}/{obj.rss}/{obj.swap}\n"
            text += f"INODE: {obj.inode:x}\n"
        return text
    if obj.kind == "sem":
        return f"{head}{perms} {obj.nsems:<10}\n"
    return f"{head}{perms} {_signed(obj.bytes):<12} {_signed(obj.messages):<12}\n"


def _listing(prog: Program, ns: int, which: int, verbose: bool) -> str:
    """One kind's whole listing (crash's dump_* with nothing specified)."""
    out = header(which) if not verbose or which != SHM_IDS else ""
    objects = ipc_objects(prog, ns, which)
    if objects is None:
        if verbose and which == SHM_IDS:
            return header(which) + "(none allocated)\n\n"
        return out + "(none allocated)\n\n"
    for obj in objects:
        if obj.deleted:
            continue
        if verbose and which == SHM_IDS:
            out += header(which) + object_line(obj, True) + "\n"
        else:
            out += object_line(obj)
    if not (verbose and which == SHM_IDS):
        out += "\n"
    return out


def _find(prog: Program, ns: int, which: int, value: int, verbose: bool) -> str | None:
    """The entry of the object with this id or at this address, or None."""
    objects = ipc_objects(prog, ns, which)
    for obj in objects or ():
        if not obj.deleted and value in (obj.id & 0xFFFFFFFFFFFFFFFF, obj.address):
            return header(which) + object_line(obj, verbose and which == SHM_IDS) + "\n"
    return None


def _parse(session: Session, args: list[str]) -> tuple[list[int], bool, int, list[str]] | None:
    from crashpy.commands.help import print_usage

    parsed = getopt(args, "smMqn:")
    kinds: set[int] = set()
    verbose = False
    task = 0
    errors = iter(parsed.errors)
    for c, optarg in parsed.opts:
        if c == "s":
            kinds.add(SEM_IDS)
        elif c == "m":
            kinds.add(SHM_IDS)
        elif c == "M":
            kinds.add(SHM_IDS)
            verbose = True
        elif c == "q":
            kinds.add(MSG_IDS)
        elif c == "n":
            kind, _, tc = str_to_context(session.task_table(), optarg or "")
            if kind == "invalid" or tc is None:
                raise CommandError(f"invalid task or pid value: {optarg}")
            task = tc.task
        else:
            session.println(f"ipcs: {next(errors, 'invalid option')}")
            print_usage(session, "ipcs")
            return None
    for arg in parsed.args:
        notes: list[str] = []
        if stol(arg, notes) is None:
            raise CommandError(notes[-1] if notes else f"not a valid number: {arg}")
    if not task:
        swapper = session.task_table().first_by_pid(0)
        if swapper is None:
            raise CommandError("invalid task or pid value: 0")
        task = swapper.task
    order = [k for k in _ORDER if k in kinds] or list(_ORDER)
    return order, verbose, task, parsed.args


def ipcs_document(session: Session, args: list[str]) -> dict[str, Any]:
    parsed = _parse(session, args)
    if parsed is None:
        return {"namespace": None, "objects": []}
    order, _, task, _ = parsed
    prog = session.prog
    ns = task_ipc_namespace(prog, task)
    names = {SHM_IDS: "shm", SEM_IDS: "sem", MSG_IDS: "msg"}
    doc: dict[str, Any] = {"namespace": f"{ns:x}"}
    for which in order:
        objs = ipc_objects(prog, ns, which) or []
        doc[names[which]] = [
            {k: (f"{v:x}" if k in ("address", "inode") else v) for k, v in vars(o).items() if k != "kind"}
            for o in objs
            if not o.deleted
        ]
    return doc


@command("ipcs", summary="System V IPC facilities", help=HELP, json=ipcs_document)
def cmd_ipcs(session: Session, args: list[str]) -> None:
    parsed = _parse(session, args)
    if parsed is None:
        return
    order, verbose, task, values = parsed
    prog = session.prog
    ns = task_ipc_namespace(prog, task)
    if not values:
        for which in order:
            session.write(_listing(prog, ns, which, verbose))
        return
    found_text = ""  # crash holds the entries found back until every value was looked up
    for arg in values:
        value = stol(arg) or 0
        entries = [_find(prog, ns, which, value, verbose) for which in order]
        hits = [e for e in entries if e is not None]
        if not hits:
            session.write(f"invalid id or address: {arg}\n\n")
        found_text += "".join(hits)
    session.write(found_text)
