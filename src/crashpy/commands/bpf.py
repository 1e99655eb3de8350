"""bpf: the eBPF programs and maps the kernel holds.

Laid out as crash 8.0.6's cmd_bpf (bpf.c: do_bpf's headers, columns and verbose lines); the kernel
knowledge is in helpers/bpf.py.  Not done: -j (the JIT code's disassembly) and -t / -T (the
translated bytecode), which crashpy answers with one line.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.commands.rows import mkstring
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers import bpf as bpfs
from crashpy.helpers.numbers import getopt, stol

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16

HELP = """\
NAME
  bpf - extended Berkeley Packet Filter (eBPF)

SYNOPSIS
  bpf [[-p ID | -P] [-tTj]] [[-m ID] | -M] [-s] [-xd]

DESCRIPTION
  Without options, lists every eBPF program the kernel has loaded (its ID,
  struct bpf_prog, struct bpf_prog_aux, program type, tag and the IDs of
  the maps it uses) and then every eBPF map (its ID, struct bpf_map, map
  type and flags).  Nothing is listed when there are none.

     -p ID  only the program with this ID, with its sizes, load time,
            licence, name and owner.
        -P  every program, each with those details.
     -m ID  only the map with this ID, with its key and value sizes,
            entry count, memory, name and owner.
        -M  every map, each with those details.
        -s  with -p, -P, -m or -M: also the struct bpf_prog and struct
            bpf_prog_aux, or the struct bpf_map, in full.
     -x/-d  with -s: integers in hexadecimal / decimal.
  -j/-t/-T  with -p or -P: the JIT-compiled code or the translated
            bytecode (crashpy does not show these).

EXAMPLES
  A kernel with no eBPF program or map prints an empty line:

    crash> bpf

"""


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "bpf")


def _load_time(prog: Program, nsecs: int) -> str:
    """The wall-clock time a program was loaded: the dump's boot time plus the load time."""
    from crashpy.helpers.sysinfo import hz, uptime_jiffies, xtime_sec

    try:
        now = xtime_sec(prog)
        rate = hz(prog)
        up = uptime_jiffies(prog, rate) // rate
    except CrashpyError:
        now = None
    if now is None:
        return str(nsecs // 1_000_000_000)
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now - up + nsecs // 1_000_000_000))


def _gpl(session: Session, addr: int) -> str:
    from crashpy.object import Object

    try:
        obj = Object(session.prog, "struct bpf_prog", addr)
        return "yes" if int(obj.member_("gpl_compatible").value_()) else "no"
    except CrashpyError:
        return "(unknown)"


def _show_struct(session: Session, name: str, addr: int, radix: int) -> None:
    from crashpy.commands.struct import datatype_common

    args = [name, f"{addr:x}"]
    if radix:
        args.insert(0, "-x" if radix == 16 else "-d")
    datatype_common(session, args, "struct")


def _programs(
    session: Session,
    flags: set[str],
    prog_id: int | None,
    progs: list[tuple[int, int]],
    maps: list[tuple[int, int]],
    radix: int,
) -> None:
    prog = session.prog
    type_w = bpfs.type_width(prog, "bpf_prog_type", 13)
    names = bpfs.enum_names(prog, "bpf_prog_type")
    header = (
        f"{mkstring('ID', 4, 'cl')} {mkstring('BPF_PROG', VADDR_PRLEN, 'cl')} "
        f"{mkstring('BPF_PROG_AUX', VADDR_PRLEN, 'cl')} {mkstring('BPF_PROG_TYPE', type_w, 'cl')} "
        "      TAG        USED_MAPS"
    )
    map_ids = {addr: mid for mid, addr in maps}
    verbose = "P" in flags
    entries = 0
    for pid, addr in progs:
        if prog_id is not None and not verbose and pid != prog_id:
            continue
        p = bpfs.read_prog(prog, pid, addr)
        if entries and verbose:
            session.write(f"\n{header}\n")
        if entries == 0:
            session.write(f"{header}\n")
        entries += 1
        kind = names.get(p.type, "")[len("BPF_PROG_TYPE_") :]
        used = ",".join(str(map_ids[m]) for m in p.used_maps if m in map_ids)
        session.write(
            f"{mkstring(str(pid), 4, 'cl')} {mkstring(f'{addr:x}', VADDR_PRLEN, 'cl')} "
            f"{mkstring(f'{p.aux:x}', VADDR_PRLEN, 'cl')} {mkstring(kind, type_w, 'cl')} "
            f"{p.tag.hex()} {mkstring(used, 9, 'cl')} \n"
        )
        if prog_id is not None or verbose:
            memlock = str((p.pages or 0) * bpfs.PAGE_SIZE & 0xFFFF) if p.pages is not None else "(unknown)"
            session.write(
                f"     XLATED: {p.insns * prog.sizeof('bpf_insn')}  JITED: {p.jited_len}  MEMLOCK: {memlock}\n"
            )
            session.write(
                "     LOAD_TIME: "
                + (_load_time(prog, p.load_time) if p.load_time is not None else "(unknown)")
                + "\n"
            )
            line = f"     GPL_COMPATIBLE: {_gpl(session, addr)}  NAME: "
            line += "(unknown)" if p.name is None else (f'"{p.name}"' if p.name else "(unused)")
            line += "  UID: " + ("(unknown)" if p.uid is None else str(p.uid))
            session.write(line + "\n")
        if flags & {"j", "t", "T"}:
            raise CommandError("crashpy does not disassemble eBPF programs (-j, -t, -T)")
        if "s" in flags:
            session.write("\n")
            _show_struct(session, "bpf_prog", addr, radix)
            session.write("\n")
            _show_struct(session, "bpf_prog_aux", p.aux, radix)


def _maps(
    session: Session, flags: set[str], map_id: int | None, maps: list[tuple[int, int]], radix: int
) -> None:
    from crashpy.helpers.sbitmap import possible_cpus

    prog = session.prog
    type_w = bpfs.type_width(prog, "bpf_map_type", None)
    names = bpfs.enum_names(prog, "bpf_map_type")
    header = f"{mkstring('ID', 4, 'cl')} {mkstring('BPF_MAP', VADDR_PRLEN, 'cl')} {mkstring('BPF_MAP_TYPE', type_w, 'cl')} MAP_FLAGS"
    verbose = "M" in flags
    entries = 0
    for mid, addr in maps:
        if map_id is not None and not verbose and mid != map_id:
            continue
        if entries and verbose:
            session.write(f"\n{header}\n")
        if entries == 0:
            session.write(f"{header}\n")
        entries += 1
        m = bpfs.read_map(prog, mid, addr)
        kind = names.get(m.type, "")[len("BPF_MAP_TYPE_") :]
        session.write(
            f"{mkstring(str(mid), 4, 'cl')} {mkstring(f'{addr:x}', VADDR_PRLEN, 'cl')} "
            f"{mkstring(kind, type_w, 'cl')}  {m.flags:08x} \n"
        )
        if map_id is not None or verbose:

            def known(v: int | None) -> str:
                return "(unknown)" if v is None else str(v)

            memlock = bpfs.map_memlock(prog, m, possible_cpus(prog))
            session.write(
                f"     KEY_SIZE: {known(m.key_size)}  VALUE_SIZE: {known(m.value_size)}  "
                f"MAX_ENTRIES: {known(m.max_entries)}  MEMLOCK: "
                + (f"{memlock}\n" if memlock else "(unknown)")
            )
            line = "     NAME: " + (
                "(unknown)\n" if m.name is None else (f'"{m.name}"' if m.name else "(unused)")
            )
            line += "  UID: " + ("(unused)" if m.uid is None else str(m.uid))
            session.write(line + "\n")
        if "s" in flags:
            session.write("\n")
            _show_struct(session, "bpf_map", addr, radix)


@command("bpf", summary="extended Berkeley Packet Filter (eBPF)", help=HELP)
def cmd_bpf(session: Session, args: list[str]) -> None:
    prog = session.prog
    parsed = getopt(args, "PMtTjsxdm:p:")
    errors = iter(parsed.errors)
    argerrs = 0
    flags: set[str] = set()
    prog_id = map_id = None
    radix = 0
    for c, optarg in parsed.opts:
        if c == "?":
            session.println(f"bpf: {next(errors, 'invalid option')}")
            argerrs += 1
        elif c in "mp":
            notes: list[str] = []
            value = stol(optarg or "", notes)
            if value is None:
                raise CommandError(notes[0] if notes else f"invalid number: {optarg}")
            if c == "m":
                map_id = value
            else:
                prog_id = value
        elif c == "x":
            if radix == 10:
                raise CommandError("-d and -x are mutually exclusive")
            radix = 16
        elif c == "d":
            if radix == 16:
                raise CommandError("-d and -x are mutually exclusive")
            radix = 16  # crash 8.0.6 takes -d as -x too
        else:
            flags.update("tT" if c == "T" else c)  # -T is -t with the opcodes
    if argerrs:
        _usage(session)
        return
    progs_wanted = prog_id is not None or "P" in flags
    maps_wanted = map_id is not None or "M" in flags
    if "j" in flags and not progs_wanted:
        raise CommandError("-j option only applicable with -p or -P")
    if "t" in flags and not progs_wanted:
        raise CommandError("-t option only applicable with -p or -P")
    if "s" in flags and not (progs_wanted or maps_wanted):
        raise CommandError("-s option requires either -p, -P, -m or -M")
    if radix and not (progs_wanted or maps_wanted):
        raise CommandError("-x option requires -s")
    if parsed.args:
        raise CommandError(f"invalid argument: {parsed.args[0]}")
    if not bpfs.supported(prog):
        raise CommandError("command not supported or applicable on this architecture or kernel")
    progs = bpfs.idr_entries(prog, "prog_idr")
    maps = bpfs.idr_entries(prog, "map_idr")
    if prog_id is not None and all(pid != prog_id for pid, _ in progs):
        session.println(f"bpf: invalid program ID: {prog_id}")
        return
    if map_id is not None and all(mid != map_id for mid, _ in maps):
        session.println(f"bpf: invalid map ID: {map_id}")
        return
    if not (progs_wanted or maps_wanted):
        progs_wanted = maps_wanted = True
    if progs_wanted:
        _programs(session, flags, prog_id, progs, maps, radix)
        if not maps_wanted:
            return
        session.write("\n")
    _maps(session, flags, map_id, maps, radix)
