"""net and foreach net: crashpy against crash 8.0.6, text for text, one crash session per dump.

The guests run `nc -l -p 1234`, a task holding one listening TCP socket (IPv6, any address); the test
finds it by its command name.  On sysrq.elf every option is compared on it (the other dumps take one
command of each kind, to keep crash's time down): -s and -S (the whole struct socket and
struct inet_sock, also in hexadecimal and decimal), -R by descriptor, by struct socket and by struct
sock address and by a value that matches nothing, -n by pid and by task address; tasks without
sockets (init, kthreadd, the per-cpu swappers), the device list, the ARP cache (empty on these
guests), -N, `foreach net` over every task on every dump (its whole output: crash takes about six
seconds for it on scale.d31.zlib's 2,000 tasks), and crash's messages for bad input.  crash 8.0.6
does not start on the truncated dumps, so there crashpy is checked alone (test_truncated_dump).

Shapes the dumps cannot show (an IPv4 socket, an ARP entry, glibc's inet_ntop() forms of IPv6
addresses) are checked against crash's formats and against the C library in the last tests.
"""

from __future__ import annotations

import json
import socket
from functools import cache

import pytest

from crashpy.helpers.tasks import task_table
from tests.crashpy_runner import crash_differences, describe, program, run_crashpy
from tools.vmcores import TRUNCATED, ensure

DUMPS = ["sysrq.elf", "sysrq.d31.zlib", "kaslr.elf", "la57.elf", "scale.d31.zlib"]
FULL_DUMP = "sysrq.elf"  # every command below; the other dumps a selection (see commands())

BAD_INPUT = [
    "net -N zz",
    "net -N",
    "net -n zz",
    "net -n 99999",
    "net -n -s",
    "net -ns",
    "net -z",
    "net -x -d",
    "net -s -x -d",
    "net -s -S",
    "net -R a -R b -s 1",
    "net -R 3",
    "net -x",
    "net 1",
    "net -s 99999 zz",
    "net -a 1",
    "foreach net -x -d",
]

FIXED = [
    "net",
    "net -a",
    "net -n",
    "net -a -n",
    "net -a -s",
    "net -N 0x0100007f",
    "net -N 16777343",
    "net -N 0xffffffffc0a80001",
    "net -s",
    "net -S",
    "net -s 1",
    "net -s 2",
    "net -s 0",
    "net -n 1 -s",
    "foreach net",
    "foreach net -S",
    "foreach net -s -R 3",
]


@cache
def commands(name: str) -> list[str]:
    paths = ensure([name])
    prog = program(paths["vmlinux"], paths[name])
    table = task_table(prog)
    nc = [tc for tc in table.contexts if tc.comm == "nc"]
    assert nc, "the guest's nc task is in the dump"
    tc = nc[0]
    from crashpy.helpers.net import fd_table, file_socket, open_files

    fdt = fd_table(prog, tc.task)
    assert fdt is not None
    socks = [(fd, *pair) for fd, file in open_files(prog, fdt) if (pair := file_socket(prog, file))]
    assert socks, "nc holds its listening socket"
    fd, sk_socket, sk = socks[0]
    p, t = tc.pid, f"{tc.task:x}"
    cmds = [
        f"net -s {p}",
        f"net -s {t}",
        f"net -S {p}",
        f"net -S -x {p}",
        f"net -S -d {t}",
        f"net -sx {p}",
        f"net -s -R {fd} {p}",
        f"net -s -R {sk_socket:x} {p}",
        f"net -s -R {sk:x} {p}",
        f"net -S -R {fd} {p}",
        f"net -s -R 99 {p}",
        f"net -s -R foo {p}",
        f"net -s -R {fd} {p} {p} 1",
        f"net -s {p} 1 99999 {t}",
        f"net -n {p}",
        f"net -n {t}",
        f"foreach {p} net",
        f"foreach {p} net -S -x",
        f"foreach nc net -s -R {sk:x}",
        f"foreach {p} 1 net -s -S",
        "set radix 16",
        f"net -S {p}",
        "set radix 10",
        f"net -sR{fd} {p}",
        f"net -R {fd} -R 4 -s {p}",
        f"net -s {p} -n",
        f"net -n {p} -n 1",
        "net -Rn 3",
        "net -a -N 1 -s",
        "net -N -1",
        "net -N 4294967296",
    ]
    if name != FULL_DUMP:
        # crash prints each struct through gdb and walks every task for foreach (a second a run on
        # 2,000 tasks): the other dumps take the listing, one of each kind of command, and the errors
        core = {"net", "net -a", "net -n", "net -s", "net -s 1", "net -s 0", "foreach net", "net -N 16777343"}
        core |= {f"net -s {p}", f"net -S -x {p}", f"net -s -R {sk:x} {p}", f"net -n {t}", f"foreach {p} net"}
        return [c for c in FIXED + cmds if c in core] + BAD_INPUT + [f"set {p}", "net -s"]
    # last: the context moves to nc, for net -s and -S without a task
    return FIXED + cmds + BAD_INPUT + [f"set {p}", "net -s", "net -S -d", "net -s -R 3"]


@pytest.mark.parametrize("name", DUMPS)
def test_net_matches_crash(name: str) -> None:
    paths = ensure([name])
    bad = crash_differences(paths["vmlinux"], paths[name], commands(name))
    assert not bad, describe(bad)


def test_listing_is_not_empty() -> None:
    """The comparison above is of real content: the nc socket and both devices."""
    paths = ensure(["sysrq.elf"])
    devices, sockets = run_crashpy(paths["vmlinux"], paths["sysrq.elf"], ["net", "foreach nc net"])
    assert " lo " in devices and "127.0.0.1" in devices and "eth0" in devices
    assert "INET6:STREAM" in sockets and "-1234 " in sockets


def test_json_documents() -> None:
    paths = ensure(["sysrq.elf"])
    text, doc_text, socks_text, ntoa = run_crashpy(
        paths["vmlinux"],
        paths["sysrq.elf"],
        ["net", "net --json", "foreach nc net -s", "net -N 0x0100007f --json"],
    )
    doc = json.loads(doc_text)
    lines = text.splitlines()[1:]
    assert [d["name"] for d in doc["devices"]] == [line.split()[1] for line in lines]
    assert [d["address"] for d in doc["devices"]] == [line.split()[0] for line in lines]
    lo = doc["devices"][0]
    assert lo["ipv4"] == ["127.0.0.1"] and "::1" in lo["ipv6"]
    pid = int(socks_text.split()[1])
    nc = json.loads(run_crashpy(paths["vmlinux"], paths["sysrq.elf"], [f"net -s {pid} --json"])[0])
    (task,) = nc["tasks"]
    (sk,) = task["sockets"]
    assert task["comm"] == "nc" and sk["family_name"] == "INET6" and sk["type_name"] == "STREAM"
    assert sk["source"] == {"address": "::", "port": 1234}
    assert f"{sk['fd']:2d} {sk['socket']} {sk['sock']} INET6:STREAM" in socks_text
    assert json.loads(ntoa)["address"] == "127.0.0.1"
    refused, arp = run_crashpy(
        paths["vmlinux"], paths["sysrq.elf"], [f"net -S {pid} --json", "net -a --json"]
    )
    assert refused == "net: -S is not supported with --json\n"
    assert json.loads(arp)["arp"] == []  # the guests' ARP caches are empty (net -a prints nothing)


def test_inet6_ntop_as_glibc() -> None:
    """IPv6 addresses in the device list are written as glibc's inet_ntop() writes them."""
    from crashpy.helpers.net import inet6_ntop

    samples = [
        "::",
        "::1",
        "fe80::5054:ff:fe12:3456",
        "2001:db8::1:0:0:1",
        "2001:db8:0:1:1:1:1:1",
        "1:0:0:2:0:0:0:3",
        "::ffff:192.168.0.1",
        "::192.168.0.1",
        "::0.0.0.2",
        "1::",
        "0:1::",
    ]
    for text in samples:
        raw = socket.inet_pton(socket.AF_INET6, text)
        assert inet6_ntop(raw) == socket.inet_ntop(socket.AF_INET6, raw), text


def test_line_formats() -> None:
    """An IPv4 socket, an IPv6 one with long addresses, and ARP lines as crash's printf lays them out."""
    from crashpy.commands.net import arp_line, sock_text
    from crashpy.helpers.net import Neighbour, NetDevice, SockInfo

    v4 = SockInfo(2, 1, "10.0.2.15", "10.0.2.2", 22, 51000)
    assert sock_text(v4) == "INET:STREAM  10.0.2.15-22 10.0.2.2-51000"
    udp = SockInfo(2, 2, "0.0.0.0", "0.0.0.0", 68, 0)
    assert sock_text(udp) == "INET:DGRAM   0.0.0.0-68 0.0.0.0-0"
    unix = SockInfo(1, 5)
    assert sock_text(unix) == "UNIX:SEQPACKET "
    v6 = SockInfo(10, 1, sport=22, dport=4000, v6=(bytes(15) + b"\1", bytes(16)))
    assert sock_text(v6) == "INET6:STREAM 0:0:0:0:0:0:0:1-22 0:0:0:0:0:0:0:0-4000"
    assert sock_text(SockInfo(10, 2, v6_layout=False)) == "INET6:DGRAM  (cannot get IPv6 addresses)"
    assert sock_text(SockInfo(42, 9)) == "42:9 "
    eth = NetDevice(0xFFFF8880045F6000, "eth0", type=1, addr_len=6)
    n = Neighbour(0xFFFF888004A00000, "10.0.2.2", bytes.fromhex("525400123502"), eth, 0x02)
    assert arp_line(n) == "ffff888004a00000 10.0.2.2        ETHER      52:54:00:12:35:02  eth0    REACHABLE"
    loop = NetDevice(0xFFFF8880045F0000, "lo", type=772, addr_len=2)
    n = Neighbour(0xFFFF888004A00100, "127.0.0.1", b"\1\2", loop, 0xC0)
    assert arp_line(n) == "ffff888004a00100 127.0.0.1       UNKNOWN    01 02  lo      NOARP|PERMANENT"


@pytest.mark.parametrize("name", ["sysrq.elf.trunc40", "sysrq.d31.zlib.trunc40"])
def test_truncated_dump(name: str) -> None:
    """crash 8.0.6 does not start on the truncated dumps (it cannot read the tasks); crashpy lists what
    it can: the device list stops at its first unreadable read with one fault line (on the zlib one
    the task list itself is cut off, and `net` uses init_net), no traceback."""
    whole_name = TRUNCATED[name]
    paths = ensure([name, whole_name])
    devices, arp = run_crashpy(paths["vmlinux"], paths[name], ["net", "net -a"])
    lines = devices.splitlines()
    assert lines[0].split() == ["NET_DEVICE", "NAME", "IP", "ADDRESS(ES)"]
    if not (lines[-1].startswith("net: ") and "error" in lines[-1]):
        # on some boots every device lies before the cut: the whole dump's list then
        (whole,) = run_crashpy(paths["vmlinux"], paths[whole_name], ["net"])
        assert devices == whole
    assert "Traceback" not in devices + arp
    assert arp == "" or arp.startswith("net: ")  # an empty cache, or arp_tbl's page cut off
