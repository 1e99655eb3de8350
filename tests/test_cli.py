"""The command line: argument order, bad inputs at start-up, errors inside a session — one line, no traceback."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def crashpy(*args: str, stdin: str = "q\n") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "crashpy", *args], input=stdin, text=True,
                          capture_output=True, env=env, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def fake_vmlinux(path: Path, banner: bytes) -> None:
    """A tiny ET_EXEC x86_64 ELF with a .rodata holding `banner` and a .symtab naming it linux_banner."""
    rodata = banner + b"\0"
    strtab = b"\0linux_banner\0"
    shstr = b"\0.rodata\0.symtab\0.strtab\0.shstrtab\0"
    addr = 0xFFFFFFFF82000000
    sym = struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0) + struct.pack("<IBBHQQ", 1, 0x11, 0, 1, addr, len(rodata))
    body = bytearray(64)
    offsets = []
    for part in (rodata, sym, strtab, shstr):
        offsets.append(len(body))
        body += part
    off_ro, off_sym, off_str, off_shs = offsets
    while len(body) % 8:
        body += b"\0"
    shoff = len(body)
    shdrs = [
        struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        struct.pack("<IIQQQQIIQQ", 1, 1, 2, addr, off_ro, len(rodata), 0, 0, 1, 0),
        struct.pack("<IIQQQQIIQQ", 9, 2, 0, 0, off_sym, len(sym), 3, 1, 8, 24),
        struct.pack("<IIQQQQIIQQ", 17, 3, 0, 0, off_str, len(strtab), 0, 0, 1, 0),
        struct.pack("<IIQQQQIIQQ", 25, 3, 0, 0, off_shs, len(shstr), 0, 0, 1, 0),
    ]
    for h in shdrs:
        body += h
    ehdr = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, addr, 0, shoff, 0, 64, 56, 0, 64, len(shdrs), 4)
    body[:64] = ehdr
    path.write_bytes(bytes(body))


def test_missing_file(tmp_path: Path) -> None:
    line = assert_one_line_error(crashpy(str(tmp_path / "nope"), str(tmp_path / "nope2")))
    assert "No such file or directory" in line


def test_empty_file(tmp_path: Path, vmlinux: Path) -> None:
    empty = tmp_path / "vmcore"
    empty.write_bytes(b"")
    line = assert_one_line_error(crashpy(str(vmlinux), str(empty)))
    assert "vmcore" in line


def test_random_file(tmp_path: Path, vmlinux: Path) -> None:
    junk = tmp_path / "vmcore"
    junk.write_bytes(os.urandom(1 << 16))
    line = assert_one_line_error(crashpy(str(vmlinux), str(junk)))
    assert "not a supported file format" in line


@pytest.mark.parametrize("name", ["sysrq.d31.zlib", "sysrq.elf"])
def test_corrupt_header(tmp_path: Path, dumps: dict[str, Path], name: str) -> None:
    src = dumps[name]
    bad = tmp_path / name
    with open(src, "rb") as f:
        head = bytearray(f.read(1 << 20))
    # Keep the signature, wreck what follows it.
    head[8:200] = b"\xff" * 192
    bad.write_bytes(bytes(head))
    line = assert_one_line_error(crashpy(str(dumps["vmlinux"]), str(bad)))
    assert name in line


def test_vmlinux_of_another_kernel(tmp_path: Path, dumps: dict[str, Path]) -> None:
    other = tmp_path / "vmlinux-6.1.0-55-cloud-amd64"
    fake_vmlinux(other, b"Linux version 6.1.0-55-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\n")
    line = assert_one_line_error(crashpy(str(other), str(dumps["sysrq.elf"])))
    assert "do not match" in line


def test_either_order_and_session_goes_on(dumps: dict[str, Path]) -> None:
    script = "foo\nrd -64 0x10 1\neval (1+\nsym not_a_symbol_at_all\neval 0x1f9\nq\n"
    for args in ([str(dumps["vmlinux"]), str(dumps["sysrq.elf"])], [str(dumps["sysrq.elf"]), str(dumps["vmlinux"])]):
        proc = crashpy("-s", *args, stdin=script)
        assert proc.returncode == 3  # commands from a pipe, and some failed
        out = proc.stdout
        assert "Traceback" not in out + proc.stderr
        assert "crash: command not found: foo" in out
        assert "decimal: 505" in out  # the session went on after the errors


def test_files_opened_read_only(dumps: dict[str, Path]) -> None:
    paths = [dumps["vmlinux"], dumps["sysrq.d31.zlib"]]
    before = [(p.stat().st_mtime_ns, p.stat().st_size) for p in paths]
    proc = crashpy("-s", *map(str, paths), stdin="sys\nlog\nq\n")
    assert proc.returncode == 0
    assert [(p.stat().st_mtime_ns, p.stat().st_size) for p in paths] == before


def test_reader_of_the_output_goes_away(dumps: dict[str, Path]) -> None:
    """`crashpy ... | head`: when the pipe's reader stops reading, crashpy ends quietly (status 141, as
    for a process SIGPIPE ended), with no traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "crashpy", "-s", str(dumps["vmlinux"]), str(dumps["sysrq.d31.zlib"])],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(b"help\n" + b"log\n" * 8 + b"q\n")  # far more than a pipe holds
    proc.stdin.close()
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err
