"""net: network devices, the ARP cache and a task's sockets (crash's net.c), from helpers/net.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crashpy.commands.ps import task_header
from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring
from crashpy.errors import CommandError, CrashpyError
from crashpy.helpers.net import (
    AF_INET,
    AF_INET6,
    Neighbour,
    NetDevice,
    Socket,
    SockInfo,
    arp_entries,
    has_type,
    inet6_ntop,
    net_devices,
    sock_info,
    task_sockets,
)
from crashpy.helpers.numbers import dtol, getopt, htol, is_a_number, stol
from crashpy.helpers.tasks import TaskContext, str_to_context

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

HELP = """\
NAME
  net - network command

SYNOPSIS
  net [[-s | -S] [-xd] [-R ref] [pid | task]] [-a] [ -n [pid | task]] [-N addr]

DESCRIPTION
  With no argument, lists the network devices of the initial network
  namespace: the address of each struct net_device, its name, and its IPv4
  and IPv6 addresses.  The options show other things:

    -a          the ARP cache (the neighbours of arp_tbl): each neighbour's
                address, IP address, hardware type and address, device and
                state.
    -s          the sockets among the open files of the current task, or of
                the tasks named by pid or task_struct address: descriptor,
                struct socket, struct sock, family and type, and for IPv4
                and IPv6 sockets the local and remote address-port pairs.
    -S          the same sockets, each followed by its whole struct socket
                and struct inet_sock.
    -x, -d      with -S, print the structures in hexadecimal or decimal.
    -R ref      with -s or -S, only the sockets matching ref: a descriptor
                number, or the address of a struct socket or struct sock.
    -n pid|task list the devices of the network namespace of this task (of
                the current task without an argument).
    -N addr     print a 32-bit value held in network order as a dotted IPv4
                address.
    pid | task  the tasks whose sockets -s or -S show.

EXAMPLES
  A task listening on TCP port 1234 over IPv6:

    crash> net -s 106
    PID: 106      TASK: ffff88800523e000  CPU: 0    COMMAND: "nc"
    FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT
     3 ffff8880040596c0 ffff888005699d40 INET6:STREAM 0:0:0:0:0:0:0:0-1234  0:0:0:0:0:0:0:0-0

  The loopback address, from the value in memory:

    crash> net -N 0x0100007f
    127.0.0.1
"""

OPTSTRING = "N:asSR:xdn"
SOCKET_HEADER = "FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT"
DEVICE_HEADER = mkstring("NET_DEVICE", 16, "c") + "  NAME       IP ADDRESS(ES)"
ARP_HEADER = "NEIGHBOUR        IP ADDRESS      HW TYPE    HW ADDRESS         DEVICE  STATE"

FAMILIES = {
    0: "UNSPEC",
    1: "UNIX",
    2: "INET",
    3: "AX25",
    4: "IPX",
    5: "APPLETALK",
    6: "NETROM",
    7: "BRIDGE",
    8: "ATMPVC",
    9: "X25",
    10: "INET6",
    11: "ROSE",
    12: "DECnet",
    13: "NETBEUI",
    14: "SECURITY/KEY",
    16: "NETLINK/ROUTE",
    17: "PACKET",
    18: "ASH",
    19: "ECONET",
    20: "ATMSVC",
    22: "SNA",
    23: "IRDA",
    24: "PPPOX",
}
TYPES = {1: "STREAM", 2: "DGRAM ", 3: "RAW", 4: "RDM", 5: "SEQPACKET", 10: "PACKET"}
HW_TYPES = {
    1: "ETHER",
    0: "NETROM",
    2: "EETHER",
    3: "AX25",
    4: "PRONET",
    5: "CHAOS",
    6: "IEEE802",
    7: "ARCNET",
    8: "APPLETLK",
    15: "DLCI",
    23: "METRICOM",
}
NUD_STATES = ("INCOMPLETE", "REACHABLE", "STALE", "DELAY", "PROBE", "FAILED", "NOARP", "PERMANENT")


# ---- text ----------------------------------------------------------------------------------------------


def device_line(d: NetDevice) -> str:
    return f"{d.address:16x}  {d.name:<10} {', '.join(d.ipv4 + d.ipv6)}"


def _v6_port(raw: bytes, port: int) -> str:
    """crash's dump_in6_addr_port(): every group in %x, then -port."""
    return ":".join(f"{int.from_bytes(raw[i : i + 2], 'big'):x}" for i in range(0, 16, 2)) + f"-{port}"


def sock_text(info: SockInfo) -> str:
    """crash's get_sock_info(): FAMILY:TYPE and the address-port pairs of an IPv4 or IPv6 socket."""
    text = f"{FAMILIES.get(info.family, str(info.family))}:{TYPES.get(info.type, str(info.type))} "
    if info.family == AF_INET:
        text += f" {info.saddr}-{info.sport} {info.daddr}-{info.dport}"
    elif info.family == AF_INET6:
        if not info.v6_layout:
            text += "(cannot get IPv6 addresses)"
        elif info.v6 is not None:
            src = _v6_port(info.v6[0], info.sport)
            text += f"{src:>12} " + mkstring(_v6_port(info.v6[1], info.dport), len(src), "c")
    return text


def socket_line(s: Socket) -> str:
    assert s.info is not None
    return f"{s.fd:2d} {s.socket:16x} {s.sock:16x} {sock_text(s.info)}"


def arp_line(n: Neighbour) -> str:
    hw_type = HW_TYPES.get(n.device.type, "UNKNOWN")
    if hw_type == "ETHER":
        hw = "".join(f"{b:02x}{' ' if i == len(n.hw) - 1 else ':'}" for i, b in enumerate(n.hw))
    else:
        hw = "".join(f"{b:02x} " for b in n.hw)
    states = "|".join(name for bit, name in enumerate(NUD_STATES) if n.state >> bit & 1)
    return f"{n.address:<16x} {n.ip:<16}{hw_type:<10} {hw} {n.device.name:<6}  {states}"


# ---- sockets -------------------------------------------------------------------------------------------


@dataclass
class RefState:
    """crash's struct reference of one net command: the string, how it was read, what was printed."""

    text: str
    hexval: int = 0
    decval: int = 0
    hexnum: bool = False
    decnum: bool = False
    found: bool = False
    task_header: bool = False


def _hexadecimal_only(s: str) -> bool:
    """crash's hexadecimal_only(s, 0): only hex digits and x's, with at least one letter or x."""
    t = s.rstrip()
    return all(c in "0123456789abcdefABCDEFxX" for c in t) and any(c not in "0123456789" for c in t)


def _ref_parse(ref: RefState, max_fds: int) -> None:
    if not is_a_number(ref.text):
        return
    if _hexadecimal_only(ref.text):
        ref.hexval, ref.hexnum = htol(ref.text) or 0, True
        return
    value = dtol(ref.text) or 0
    if value <= max_fds:
        ref.decval, ref.decnum = value, True
    else:
        ref.hexval, ref.hexnum = htol(ref.text) or 0, True


def _ref_matches(ref: RefState, fd: int, socket: int, sock: int) -> bool:
    if ref.hexnum and ref.hexval in (sock, socket):
        return True
    if ref.decnum and ref.decval == fd:
        return True
    return ref.hexnum and ref.hexval == fd


def matching_sockets(prog: Program, tc: TaskContext, ref: RefState | None) -> tuple[bool, Iterator[Socket]]:
    """(whether the task has a file table, its sockets that match `ref` if any)."""
    table, sockets = task_sockets(prog, tc.task)
    if table is None:
        return False, sockets
    if ref is not None:
        _ref_parse(ref, table.max_fds)
        return True, (s for s in sockets if _ref_matches(ref, s.fd, s.socket, s.sock))
    return True, sockets


class SocketDump:
    """net -s / -S for a list of tasks, written as crash's dump_sockets() writes them."""

    def __init__(self, session: Session, full: bool, radix: int, ref: RefState | None) -> None:
        self.session = session
        self.full = full
        self.radix = radix
        self.ref = ref

    def task(self, tc: TaskContext, subsequent: bool) -> None:
        s = self.session
        ref = self.ref
        if ref is None:
            s.println(("\n" if subsequent else "") + task_header(tc))
        has_files, sockets = matching_sockets(s.prog, tc, ref)
        if not has_files:
            if ref is None:
                s.println("No open sockets.")
            return
        count = 0
        for sock in sockets:
            if ref is not None:
                ref.found = True
                if not ref.task_header:
                    s.println(task_header(tc))
                    ref.task_header = True
            self.one(sock, count)
            count += 1
        if not count and ref is None:
            s.println("No open sockets.")
        if ref is not None and ref.found:
            s.println()

    def one(self, sock: Socket, count: int) -> None:
        s = self.session
        if not self.full:
            if not count:
                s.println(SOCKET_HEADER)
            sock.info = sock_info(s.prog, sock.sock)
            s.println(socket_line(sock))
            return
        s.println(("\n" if count else "") + f"FD  {mkstring('SOCKET', 16, 'c')}  {mkstring('SOCK', 16, 'c')}")
        s.println(f"{sock.fd:2d}  {sock.socket:16x}  {sock.sock:16x}\n")
        s.write(struct_dump(s, "socket", sock.socket, self.radix))
        s.write(
            struct_dump(s, "inet_sock" if has_type(s.prog, "inet_sock") else "sock", sock.sock, self.radix)
        )


def struct_dump(session: Session, name: str, addr: int, radix: int) -> str:
    """What `struct <name> <addr>` prints (crash's dump_struct()), in `radix` (0: the session's)."""
    from crashpy.commands.struct import struct_text
    from crashpy.commands.whatis import STRUCT_REQUEST, arg_to_datatype
    from crashpy.expr.gdb import render_errors

    code, dm = arg_to_datatype(session, name)
    if code != 1 or dm is None:
        raise CommandError(f"invalid data structure reference: {name}")
    return render_errors(struct_text(session, dm, STRUCT_REQUEST, addr, radix or session.radix), inline=True)[
        1
    ]


# ---- arguments -----------------------------------------------------------------------------------------


def _n_lookahead(argv: list[str]) -> list[str | None]:
    """For each -n, the argument glibc's getopt leaves at argv[optind] when it returns it: the rest of
    its own word when letters follow the n, else the next word (None at the end)."""
    out: list[str | None] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        if len(arg) >= 2 and arg[0] == "-":
            for j in range(1, len(arg)):
                ch = arg[j]
                if ch in "NR":
                    if j + 1 == len(arg):
                        i += 1
                    break
                if ch == "n":
                    out.append(arg if j + 1 < len(arg) else (argv[i + 1] if i + 1 < len(argv) else None))
        i += 1
    return out


@dataclass
class NetRequest:
    sockets: str = ""  # "s", "S" or ""
    radix: int = 0
    ref: RefState | None = None
    nflag: bool = False
    task: int = 0
    args: list[str] = field(default_factory=list)
    usage: bool = False
    devices: bool = False


def _context(session: Session, text: str) -> TaskContext:
    kind, _, tc = str_to_context(session.task_table(), text)
    if kind == "invalid" or tc is None:
        raise CommandError(f"invalid task or pid value: {text}")
    return tc


def _first_swapper(session: Session) -> int:
    """crash's pid_to_task(0), whose namespace `net` lists; 0 (init_net) when no task can be read,
    where crash 8.0.6 does not start at all."""
    try:
        swapper = session.task_table().first_by_pid(0)
    except CrashpyError:
        return 0
    return swapper.task if swapper is not None else 0


def parse(session: Session, args: list[str], act: Any) -> NetRequest | None:
    """crash's option loop; `act(kind, value)` runs -a ("arp") and -N ("ntoa") where they come, as crash
    does while it reads the options.  None when -N ended the command."""
    parsed = getopt(args, OPTSTRING)
    lookahead = iter(_n_lookahead(args))
    req = NetRequest(args=parsed.args)
    errors = iter(parsed.errors)
    aflag = False
    for c, optarg in parsed.opts:
        if c == "R":
            if req.ref is not None:
                session.println("net: only one -R option allowed")
            else:
                req.ref = RefState(optarg or "")
        elif c == "a":
            act("arp", None)
            aflag = True
        elif c == "N":
            notes: list[str] = []
            value = stol(optarg or "", notes)
            if value is None:
                raise CommandError(notes[-1] if notes else f"not a valid number: {optarg}")
            act("ntoa", (value & 0xFFFFFFFF).to_bytes(4, "little"))
            return None
        elif c in "sS":
            other = "S" if c == "s" else "s"
            if req.sockets == other:
                session.println("net: only one -s or -S option allowed")
            else:
                req.sockets = c
        elif c in "xd":
            radix = 16 if c == "x" else 10
            if req.radix and req.radix != radix:
                raise CommandError("-d and -x are mutually exclusive")
            req.radix = radix
        elif c == "n":
            req.nflag = True
            req.task = session.current_context().task
            following = next(lookahead, None)
            if following is not None:
                req.task = _context(session, following).task
        else:
            session.println(f"net: {next(errors, 'invalid option')}")
            req.usage = True
    if req.usage:
        return req
    if not req.sockets:
        if not args or req.nflag:
            req.devices = True
            if not req.nflag:
                req.task = _first_swapper(session)
        elif not aflag:
            req.usage = True
    return req


def _socket_targets(session: Session, req: NetRequest) -> list[tuple[TaskContext | None, str]]:
    """The tasks -s/-S look at in order, with crash's message for a word that names none."""
    if not req.args:
        return [(session.current_context(), "")]
    out: list[tuple[TaskContext | None, str]] = []
    table = session.task_table()
    for word in req.args:
        kind, value, tc = str_to_context(table, word)
        if kind == "pid":
            out.extend((t, "") for t in table.by_pid(value))
        elif kind == "task" and tc is not None:
            out.append((tc, ""))
        else:
            out.append((None, word))
    return out


# ---- the command ---------------------------------------------------------------------------------------


@command("net", summary="network command", help=HELP, json=lambda s, a: net_document(s, a))
def cmd_net(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    prog = session.prog
    if not has_type(prog, "net_device"):
        raise CommandError("net subsystem not initialized!")

    def act(kind: str, value: Any) -> None:
        if kind == "ntoa":
            session.println(".".join(str(b) for b in value))
            return
        header = False
        for n in arp_entries(prog):
            if not header:
                session.println(ARP_HEADER)
                header = True
            session.println(arp_line(n))

    req = parse(session, args, act)
    if req is None:
        return
    if req.usage:
        print_usage(session, "net")
        return
    if req.sockets:
        dump = SocketDump(session, req.sockets == "S", req.radix, req.ref)
        subsequent = False
        for tc, bad in _socket_targets(session, req):
            if tc is None:
                session.println(f"{chr(10) if subsequent else ''}net: invalid task or pid value: {bad}")
                subsequent = True
                continue
            dump.task(tc, subsequent and req.args != [])
            subsequent = True
        return
    if req.devices:
        session.println(DEVICE_HEADER)
        for d in net_devices(prog, req.task):
            session.println(device_line(d))


# ---- JSON ----------------------------------------------------------------------------------------------


def device_data(d: NetDevice) -> dict[str, Any]:
    return {"address": hex_address(d.address), "name": d.name, "ipv4": d.ipv4, "ipv6": d.ipv6}


def socket_data(s: Socket) -> dict[str, Any]:
    doc: dict[str, Any] = {"fd": s.fd, "socket": hex_address(s.socket), "sock": hex_address(s.sock)}
    info = s.info
    if info is None:
        return doc
    doc["family"] = info.family
    doc["family_name"] = FAMILIES.get(info.family)
    doc["type"] = info.type
    doc["type_name"] = TYPES.get(info.type, "").strip() or None
    if info.family == AF_INET:
        doc["source"] = {"address": info.saddr, "port": info.sport}
        doc["destination"] = {"address": info.daddr, "port": info.dport}
    elif info.family == AF_INET6 and info.v6 is not None:
        doc["source"] = {"address": inet6_ntop(info.v6[0]), "port": info.sport}
        doc["destination"] = {"address": inet6_ntop(info.v6[1]), "port": info.dport}
    return doc


def arp_data(n: Neighbour) -> dict[str, Any]:
    return {
        "address": hex_address(n.address),
        "ip": n.ip,
        "hw_type": HW_TYPES.get(n.device.type, "UNKNOWN"),
        "hw_address": ":".join(f"{b:02x}" for b in n.hw),
        "device": n.device.name,
        "state": [name for bit, name in enumerate(NUD_STATES) if n.state >> bit & 1],
    }


def net_document(session: Session, args: list[str]) -> dict[str, Any]:
    prog = session.prog
    if not has_type(prog, "net_device"):
        raise CommandError("net subsystem not initialized!")
    doc: dict[str, Any] = {}

    def act(kind: str, value: Any) -> None:
        if kind == "ntoa":
            doc["address"] = ".".join(str(b) for b in value)
        else:
            doc["arp"] = [arp_data(n) for n in arp_entries(prog)]

    req = parse(session, args, act)
    if req is None:
        return doc
    if req.usage:
        raise CommandError('invalid arguments for --json: see "help net"')
    if req.sockets == "S":
        raise CommandError("-S is not supported with --json")
    if req.sockets:
        tasks = []
        for tc, bad in _socket_targets(session, req):
            if tc is None:
                raise CommandError(f"invalid task or pid value: {bad}")
            sockets = list(matching_sockets(prog, tc, req.ref)[1])
            for sk in sockets:
                sk.info = sock_info(prog, sk.sock)
            tasks.append(
                {
                    "pid": tc.pid,
                    "task": hex_address(tc.task),
                    "comm": tc.comm,
                    "sockets": [socket_data(s) for s in sockets],
                }
            )
        doc["tasks"] = tasks
    if req.devices:
        doc["namespace_task"] = hex_address(req.task)
        doc["devices"] = [device_data(d) for d in net_devices(prog, req.task)]
    return doc
