"""Every command-line flag with crash's meaning, and the exit codes the usage text documents."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_cli import ROOT, assert_one_line_error, crashpy


def run(*args: str, stdin: str = "q\n", cwd: Path | None = None, home: Path | None = None,
        wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """crashpy with its own HOME (so no ~/.crashpyrc of the machine's is read) in `cwd`."""
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if home is not None:
        env["HOME"] = str(home)
    cmd = [sys.executable, "-m", "crashpy", *args]
    if wrap:
        cmd = [*wrap, " ".join(f"'{c}'" for c in cmd)]
    return subprocess.run(cmd, input=stdin, text=True, capture_output=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture
def elf(dumps: dict[str, Path]) -> list[str]:
    return [str(dumps["vmlinux"]), str(dumps["sysrq.elf"])]


# ---- usage, help, version: no dump needed ------------------------------------------------------------


def test_help_documents_flags_and_exit_codes() -> None:
    for flag in ("-h", "--help"):
        proc = crashpy(flag)
        assert proc.returncode == 0 and proc.stderr == ""
        for text in ("-x", "-d num", "-m option=value", "-c tty", "--src dir", "--zero_excluded",
                     "--no_scroll", "--no_crashrc", "--minimal", "--kaslr", "-i file", "-s ",
                     "Exit status: 0", "1 start-up error", "2 bad", "3 commands", "130"):  # fmt: skip
            assert text in proc.stdout, text


def test_help_of_a_command() -> None:
    proc = crashpy("-h", "log")
    assert proc.returncode == 0
    assert proc.stdout.startswith("NAME\n  log - ")
    proc = crashpy("-h", "no_such_command")
    assert proc.returncode == 2
    assert assert_one_line_error(proc) == "crashpy: no such command: no_such_command"


def test_version() -> None:
    proc = crashpy("-v")
    assert proc.returncode == 0 and proc.stdout.startswith("crashpy ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-d"], "expected one argument"),
        (["-d", "lots"], "invalid debug level: lots"),
        (["-m", "phys_base"], "needs a value"),
        (["-m", "phys_base=zz"], "invalid hexadecimal value: zz"),
        (["--kaslr", "nope"], "invalid --kaslr value"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    proc = crashpy("a", "b", *args)
    assert proc.returncode == 2
    line = assert_one_line_error(proc)
    assert line.startswith("crashpy: ") and words in line and line.endswith("(crashpy -h for usage)")


def test_startup_errors_exit_1(tmp_path: Path, vmlinux: Path) -> None:
    proc = crashpy(str(tmp_path / "missing"), str(vmlinux))
    assert proc.returncode == 1
    assert assert_one_line_error(proc).endswith("missing: No such file or directory")
    proc = crashpy("-i", str(tmp_path / "nofile"), str(vmlinux), str(vmlinux))
    assert proc.returncode == 1
    assert assert_one_line_error(proc).endswith("nofile: No such file or directory")
    proc = crashpy("--src", str(tmp_path / "nodir"), str(vmlinux))
    assert proc.returncode == 1
    assert "not a directory" in assert_one_line_error(proc)
    proc = crashpy(str(vmlinux))
    assert proc.returncode == 1
    assert "no dump file given" in assert_one_line_error(proc)


def test_unreadable_file_exit_1(tmp_path: Path, vmlinux: Path) -> None:
    secret = tmp_path / "vmcore"
    secret.write_bytes(b"\0" * 4096)
    secret.chmod(0)
    wrap = None
    if os.geteuid() == 0:  # root reads anything: run crashpy without the capabilities that allow it
        if shutil.which("capsh") is None:
            pytest.skip("running as root without capsh to drop CAP_DAC_OVERRIDE")
        wrap = ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"]
    proc = run(str(vmlinux), str(secret), wrap=wrap)
    assert proc.returncode == 1
    assert assert_one_line_error(proc) == f"crashpy: {secret}: Permission denied"


# ---- flags on a real dump ---------------------------------------------------------------------------


def test_x_is_accepted_with_one_line(elf: list[str]) -> None:
    proc = crashpy("-s", "-x", *elf, stdin="eval 1\n")
    assert proc.returncode == 0
    assert proc.stderr.strip().splitlines() == [
        "crashpy: -x: extension modules are not supported (crash's are C shared objects); ignored"
    ]
    assert "decimal: 1" in proc.stdout


def test_d_sets_debug(elf: list[str]) -> None:
    proc = crashpy("-s", "-d", "3", *elf, stdin="set debug\n")
    assert proc.returncode == 0 and proc.stdout == "debug: 3\n"


def test_machine_options(elf: list[str]) -> None:
    script = "rd -64 linux_banner 2\n"
    plain = crashpy("-s", *elf, stdin=script)
    same = crashpy("-s", "-m", "phys_base=0,page_offset=ffff888000000000", "--machdep", "kaslr=0", *elf,
                   stdin=script)
    assert plain.returncode == same.returncode == 0
    assert same.stdout == plain.stdout and same.stderr == ""
    moved = crashpy("-s", "-m", "phys_base=10000000", *elf, stdin=script)
    assert moved.stdout != plain.stdout  # the option is used: the kernel's pages are looked for elsewhere
    other = crashpy("-s", "-m", "irq_eframe_link=8", *elf, stdin=script)
    assert other.returncode == 0 and other.stdout == plain.stdout
    assert other.stderr == "crashpy: -m irq_eframe_link=8: not supported; ignored\n"


def test_zero_excluded(dumps: dict[str, Path]) -> None:
    from crashpy.errors import FaultKind
    from tests.crashpy_runner import program

    prog = program(dumps["vmlinux"], dumps["sysrq.d31.zlib"])
    dump = prog.dump
    pfn = next(p for p in range(dump.start_pfn, dump.end_pfn) if dump.page_state(p) is FaultKind.EXCLUDED)
    script = f"rd -p {pfn << 12:x}\nset zero_excluded\nset zero_excluded off\nrd -p {pfn << 12:x}\n"
    args = [str(dumps["vmlinux"]), str(dumps["sysrq.d31.zlib"])]
    off = crashpy("-s", *args, stdin=script).stdout.splitlines()
    assert off[0] == f'rd: page excluded: physical address: {pfn << 12:x}  type: "64-bit PHYSADDR"'
    assert off[1] == "zero_excluded: off"
    on = crashpy("-s", "--zero_excluded", *args, stdin=script).stdout.splitlines()
    assert on[0].split() == [f"{pfn << 12:x}:", "0000000000000000", "........"]
    assert on[1:3] == ["zero_excluded: on", "zero_excluded: off"]
    assert on[3] == off[0]  # switched off again at run time


def test_zero_excluded_program_switch(dumps: dict[str, Path]) -> None:
    from crashpy.errors import AddressSpace, FaultError, FaultKind
    from crashpy.loader import open_program

    prog = open_program(str(dumps["vmlinux"]), [str(dumps["sysrq.d31.zlib"])])
    dump = prog.dump
    pfn = next(p for p in range(dump.start_pfn, dump.end_pfn) if dump.page_state(p) is FaultKind.EXCLUDED)
    start = (pfn << 12) - 8  # across the edge from a dumped page into the excluded one
    with pytest.raises(FaultError) as err:
        prog.read(start, 16, AddressSpace.PHYSADDR)
    assert err.value.kind is FaultKind.EXCLUDED
    prog.zero_excluded = True
    data = prog.read(start, 16, AddressSpace.PHYSADDR)
    assert data[8:] == bytes(8) and data[:8] == dump.read(start, 8)


def test_console_and_src(tmp_path: Path, elf: list[str]) -> None:
    proc = crashpy("-s", "-c", "/dev/null", "--src", str(tmp_path), *elf, stdin="set -v\n")
    assert proc.returncode == 0 and proc.stderr == ""
    assert "       console: /dev/null" in proc.stdout
    proc = crashpy("-s", "-c", str(tmp_path / "no-tty"), *elf, stdin="eval 1\n")
    assert proc.returncode == 0
    assert proc.stderr == f"crashpy: -c {tmp_path / 'no-tty'}: No such file or directory\n"
    assert not (tmp_path / "no-tty").exists()


def test_no_scroll_when_not_a_terminal(elf: list[str]) -> None:
    for flags in ([], ["--no_scroll"]):
        proc = crashpy("-s", *flags, *elf, stdin="set scroll\n")
        assert proc.stdout == "scroll: off (none)\n"


def test_input_file_echo_and_exit_codes(tmp_path: Path, elf: list[str]) -> None:
    good = tmp_path / "good.txt"
    good.write_text("# a comment\n\neval 0x10\n")
    proc = crashpy("-i", str(good), *elf, stdin="eval 0x11\nq\n")
    assert proc.returncode == 0
    out = proc.stdout
    assert "crash> eval 0x10\nhexadecimal: 10" in out  # echoed after the prompt, as crash does
    assert "crash> eval 0x11\nhexadecimal: 11" in out and "a comment" not in out
    assert out.endswith("crash> q\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("no_such_command\neval 1\nq\neval 2\n")
    proc = crashpy("-s", "-i", str(bad), *elf, stdin="eval 3\n")
    assert proc.returncode == 3  # a command failed in a non-interactive run
    assert "decimal: 1" in proc.stdout and "decimal: 2" not in proc.stdout and "decimal: 3" not in proc.stdout
    proc = crashpy("-s", *elf, stdin="eval 1\n")
    assert proc.returncode == 0


def test_crashpyrc(tmp_path: Path, elf: list[str]) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / ".crashpyrc").write_text("alias hh eval\nalias both eval\n")
    (work / ".crashpyrc").write_text("alias ww eval\nalias both help\nset radix 16\n")
    proc = run("-s", *elf, stdin="alias hh\nalias ww\nalias both\nset radix\nhh 0x1f9\n", cwd=work, home=home)
    assert proc.returncode == 0, proc.stderr
    # the rc files' own output (alias listings, `set radix`) comes first, as crash prints it
    assert proc.stdout.endswith(
        "ORIGIN            ALIAS    COMMAND\n$HOME/.crashpyrc  hh       eval \n"
        "ORIGIN            ALIAS    COMMAND\n.crashpyrc        ww       eval \n"
        "ORIGIN            ALIAS    COMMAND\n.crashpyrc        both     help \n"
        "output radix: 16 (hex)\n"
        "hexadecimal: 1f9  \n    decimal: 505  \n      octal: 771\n"
        "     binary: 0000000000000000000000000000000000000000000000000000000111111001\n"
    )
    proc = run("-s", "--no_crashrc", *elf, stdin="alias hh\n", cwd=work, home=home)
    assert proc.stdout.splitlines()[-1] == "alias does not exist: hh"
    # the home directory's file is read once when it is also the current directory's
    proc = run("-s", *elf, stdin="alias both\n", cwd=home, home=home)
    assert proc.stdout.splitlines()[-1] == "$HOME/.crashpyrc  both     eval "


# ---- System.map and split dumps -----------------------------------------------------------------------


def test_system_map(tmp_path: Path, elf: list[str], vmlinux: Path) -> None:
    nm = subprocess.run(["nm", "-n", str(vmlinux)], capture_output=True, text=True, check=True).stdout
    good = tmp_path / "System.map"
    good.write_text(nm)
    proc = crashpy("-s", str(good), *elf, stdin="eval 1\n")
    assert proc.returncode == 0 and proc.stderr == ""
    bad = tmp_path / "System.map-other"
    bad.write_text(nm.replace(" T _stext\n", " T _stext_moved\n").replace(
        " D linux_banner\n", " D linux_banner_x\n").replace(" T _etext\n", " T x\n") + "ffffffff81000000 T _etext\n")
    proc = crashpy("-s", *elf, str(bad), stdin="eval 1\n")
    assert proc.returncode == 1
    assert assert_one_line_error(proc) == f"crashpy: {bad} and {vmlinux} do not match!"


def test_split_dump(split_parts: list[Path], dumps: dict[str, Path]) -> None:
    from crashpy.dumpfile.split import open_split

    split = open_split([str(p) for p in reversed(split_parts)])  # any order
    assert [p.path for p in split.parts] == [str(p) for p in split_parts]
    assert split.parts[0].end_pfn == split.parts[1].start_pfn  # really two halves
    script = "log | tail -3\nps\nrd -64 linux_banner 8\n"
    whole = crashpy("-s", str(dumps["vmlinux"]), str(dumps["sysrq.d31.zlib"]), stdin=script)
    parts = crashpy("-s", str(split_parts[1]), str(dumps["vmlinux"]), str(split_parts[0]), stdin=script)
    assert parts.returncode == 0 and parts.stderr == ""
    assert parts.stdout == whole.stdout


def test_split_dump_in_the_python_api(split_parts: list[Path], dumps: dict[str, Path]) -> None:
    import crashpy

    kernel = crashpy.open(dumps["vmlinux"], list(reversed(split_parts)))
    whole = crashpy.open(dumps["vmlinux"], dumps["sysrq.d31.zlib"])
    try:
        assert kernel.run("ps") == whole.run("ps")
        assert kernel.run("rd -64 linux_banner 8") == whole.run("rd -64 linux_banner 8")
    finally:
        kernel.close()
        whole.close()


def test_several_dumps_that_are_not_split_parts(dumps: dict[str, Path]) -> None:
    proc = crashpy(str(dumps["vmlinux"]), str(dumps["sysrq.d31.zlib"]), str(dumps["sysrq.elf"]))
    assert proc.returncode == 1
    assert "not a part of a split dump" in assert_one_line_error(proc)


def test_ctrl_c_stops_a_scripted_run_with_130(elf: list[str]) -> None:
    import signal
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "crashpy", "-s", *elf], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("eval 0x1f9\n")
        proc.stdin.flush()
        while "binary:" not in proc.stdout.readline():  # the answer is flushed while the pipe stays open
            pass
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
        assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_stops_a_run_started_with_sigint_ignored(elf: list[str]) -> None:
    """A process started from a background job of a non-interactive shell (or a nohup-style wrapper)
    inherits SIGINT ignored; crashpy installs its own handler, as crash does, so Ctrl-C still stops it."""
    import signal
    import sys

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "crashpy", "-s", *elf], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=ignore_sigint)  # fmt: skip
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("eval 0x1f9\n")
        proc.stdin.flush()
        while "binary:" not in proc.stdout.readline():
            pass
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
        assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_python_code_and_script(tmp_path: Path, elf: list[str]) -> None:
    proc = crashpy("-e", "print(prog.task(1).comm); import sys; sys.exit(5)", *elf)
    assert (proc.returncode, proc.stdout, proc.stderr) == (5, "init\n", "")
    script = tmp_path / "tasks.py"
    script.write_text("import sys\nprint(sys.argv[1:], len(prog.tasks()) > 10)\n")
    # the words after the script are its own, options too; the vmlinux and the dump are crashpy's
    proc = crashpy(str(script), "-x", "word", elf[0], elf[1])
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "['-x', 'word'] True\n", "")
    proc = crashpy("-e", "raise ValueError('no')", *elf)
    assert proc.returncode == 1 and proc.stderr.strip().endswith("ValueError: no")


def test_global_json(tmp_path: Path, elf: list[str]) -> None:
    """crashpy --json: no banner; each command with a JSON form prints its document, others their text."""
    import json

    proc = run("--json", *elf, stdin="ps\nbt\n", home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    decoder = json.JSONDecoder()
    text = proc.stdout
    ps_doc, end = decoder.raw_decode(text)
    bt_doc, _ = decoder.raw_decode(text[end:].lstrip())
    assert ps_doc["command"] == "ps" and any(t["pid"] == 1 for t in ps_doc["tasks"])
    assert bt_doc["command"] == "bt" and bt_doc["tasks"][0]["frames"][0]["function"] == "panic"
    other = run("--json", *elf, stdin="eval 1+1\n", home=tmp_path)
    assert other.stdout.startswith("hexadecimal: 2")
