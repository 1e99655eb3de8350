"""crashpy's command line: `crashpy [options] vmlinux vmcore` (files in any order), like crash.

Exit codes (a Python script given with -e or as script.py exits with its own status instead):
0 the session ended normally; 1 start-up error (a file missing, unreadable, not a dump, or
not the dump's kernel); 2 bad command-line usage; 3 commands came from a file or a pipe (-i, or standard
input that is not a terminal) and at least one of them failed; 130 such a run was stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from crashpy.commands.registry import PROVIDERS
from crashpy.errors import CrashpyError, StartupError
from crashpy.version import __version__

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

EXIT_OK = 0
EXIT_STARTUP = 1
EXIT_USAGE = 2
EXIT_COMMAND_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as the shell reports a process the signal ended

PROMPT = "crash> "
RC_NAME = ".crashpyrc"

# -m option=value: what crashpy does with each of crash's x86_64 machine options.
MACHINE_OPTIONS = ("phys_base", "kaslr", "page_offset")


class UsageError(CrashpyError):
    """A bad command line: one line on stderr, exit status 2."""


def _number(text: str) -> int:
    """A hexadecimal number (crash's -m and --kaslr values are hex, with or without 0x)."""
    try:
        return int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid hexadecimal value: {text}") from None


def _parse_kaslr(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --kaslr value: {value}") from None


def _debug_level(value: str) -> int:
    try:
        level = int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid debug level: {value}") from None
    if level < 0:
        raise argparse.ArgumentTypeError(f"invalid debug level: {value}")
    return level


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line, exit status 2) instead of printing its usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="crashpy", add_help=False, allow_abbrev=False)
    p.add_argument("files", nargs="*")
    p.add_argument("-h", "--help", nargs="?", const="", default=None)
    p.add_argument("-v", "--version", action="store_true")
    p.add_argument("-s", dest="silent", action="store_true")
    p.add_argument("-i", dest="input_file")
    p.add_argument("-e", dest="code")
    p.add_argument("-x", dest="extensions", action="store_true")
    p.add_argument("-d", dest="debug", type=_debug_level, default=0)
    p.add_argument("-m", "--machdep", dest="machdep", action="append", default=[])
    p.add_argument("-c", dest="console")
    p.add_argument("--src", dest="source_tree")
    p.add_argument("--minimal", action="store_true")
    p.add_argument("--kaslr", type=_parse_kaslr)
    p.add_argument("--zero_excluded", action="store_true")
    p.add_argument("--no_crashrc", action="store_true")
    p.add_argument("--no_scroll", action="store_true")
    p.add_argument("--json", dest="json_all", action="store_true")
    p.add_argument("--autopsy", action="store_true")
    return p


USAGE = """\
Usage: crashpy [OPTION]... [script.py [arg]...] [vmlinux|vmlinuz] [System.map] dumpfile [dumpfile]...
       crashpy triage [OPTION]... dumpfile...   (crashpy triage -h: autopsy over many dumps)

Open a Linux kernel crash dump with its debug vmlinux (files in any order), or alone (symbols, types and
unwind tables from the dump's kallsyms, BTF and ORC), and answer crash's commands.

  -s                 silent: no banner, no sys output, no echo of commands read from a file
  -i file            run the commands in file after start-up, then read standard input
  -e code            run Python code with prog and session bound, then exit with its status
  script.py [arg]... (before the vmlinux and dump) run a Python script the same way
  -x                 accepted for crash's sake: crashpy loads no extension modules
  -d num             debug level (as `set debug` shows)
  -m option=value    machine option (also --machdep): phys_base=hex, kaslr=hex|auto,
                     page_offset=hex; crash's other options are reported and ignored
  -c tty             a terminal for debug output (as crash's console)
  --src dir          the kernel source tree the vmlinux was built from
  --minimal          minimal mode (log, dis, rd, sym, eval, set, help, exit), for damaged dumps
  --kaslr offset     the KASLR offset (hex), or 'auto' to compute it from the dump
  --zero_excluded    pages makedumpfile left out read as zeros instead of failing
                     (also `set zero_excluded on|off`)
  --no_scroll        do not page long output (also `set scroll off`)
  --no_crashrc       do not read ~/.crashpyrc and ./.crashpyrc
  --json             every command that has a JSON form (sys, ps, mod, log, task, bt) prints it
                     (docs/json.md); implies -s; other commands print their text
  --autopsy          print autopsy's report on the crash (with --json, its JSON) and exit
  -h, --help [cmd]   this help, or the help page of command cmd
  -v, --version      crashpy's version

Several dump files are the parts of a split dump (makedumpfile --split). A System.map is checked
against the vmlinux; without one, against the dump's kallsyms (or it finds kallsyms, or gives the
symbols). A vmlinuz (bzImage) or stripped vmlinux supplies the kernel text and read-only data the dump
lacks; it is decompressed once into $CRASHPY_CACHE (default ~/.cache/crashpy)/vmlinuz/.
~/.crashpyrc, then ./.crashpyrc, run at start-up (commands and aliases) unless --no_crashrc.
History: ~/.crashpy_history (or $CRASHPY_HISTORY). Pager: $CRASHPAGER, else less, when scrolling.

Exit status: 0 normal end; 1 start-up error (missing, unreadable or mismatched file); 2 bad
command-line usage; 3 commands came from a file or a pipe and at least one failed; 130 interrupted;
141 standard output was a pipe whose reader went away (crashpy ... | head).
"""


@dataclass
class MachineOptions:
    phys_base: int | None = None
    page_offset: int | None = None
    kaslr: int | str | None = None
    ignored: list[str] = field(default_factory=list)


def parse_machine_options(values: list[str]) -> MachineOptions:
    """-m option=value ... as crash takes them (several per -m, separated by commas)."""
    opts = MachineOptions()
    for value in values:
        for item in filter(None, value.split(",")):
            name, eq, arg = item.partition("=")
            if not eq:
                if name in MACHINE_OPTIONS:
                    raise UsageError(f"-m {item}: needs a value ({name}=value)")
                opts.ignored.append(item)
                continue
            try:
                if name == "phys_base":
                    opts.phys_base = _number(arg)
                elif name == "page_offset":
                    opts.page_offset = _number(arg)
                elif name == "kaslr":
                    opts.kaslr = "auto" if arg == "auto" else _number(arg)
                else:
                    opts.ignored.append(item)
            except argparse.ArgumentTypeError as e:
                raise UsageError(f"-m {item}: {e}") from None
    return opts


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, errors="replace") as f:
            return [line.rstrip("\n") for line in f]
    except OSError as e:
        raise StartupError(f"{path}: {e.strerror}") from None


def _py_namespace(prog: Program, session: Session) -> dict[str, Any]:
    """The `py` command's globals, from crashpy.api (imported when `py` first runs)."""
    from crashpy.api import namespace

    return namespace(prog, session)


def _command_help(name: str) -> int:
    """crash -h command: that command's help page."""
    from crashpy.commands.registry import COMMANDS

    cmd = COMMANDS.get(name)  # imports that command's module only
    if cmd is None or not cmd.help:
        sys.stderr.write(f"crashpy: no such command: {name}\n")
        return EXIT_USAGE
    sys.stdout.write(cmd.help if cmd.help.endswith("\n") else cmd.help + "\n")
    return EXIT_OK


def rc_files(no_crashrc: bool) -> list[tuple[str, str]]:
    """(path, alias origin) of the start-up files to run: $HOME's first, then the current directory's."""
    if no_crashrc:
        return []
    out: list[tuple[str, str]] = []
    home = os.environ.get("HOME")
    home_rc = os.path.join(home, RC_NAME) if home else None
    if home_rc and os.path.isfile(home_rc):
        out.append((home_rc, f"$HOME/{RC_NAME}"))
    if os.path.isfile(RC_NAME) and not (home_rc and os.path.exists(home_rc) and os.path.samefile(RC_NAME, home_rc)):
        out.append((RC_NAME, RC_NAME))
    return out


def split_script(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """`crashpy [options] script.py arg... vmlinux vmcore`: (crashpy's own arguments, the script, its
    arguments).  Every word after the script is the script's, options too, except the files crashpy
    opens (a vmlinux, a dump, a System.map), which may come anywhere."""
    from crashpy.loader import classify

    for i, word in enumerate(argv):
        if not (word.endswith(".py") and os.path.isfile(word)):
            continue
        if i and argv[i - 1] in ("-i", "-e", "-c", "--src", "-m", "--machdep", "-d", "--kaslr"):
            continue  # the value of an option
        own = argv[:i]
        script_args: list[str] = []
        for rest in argv[i + 1 :]:
            try:
                if rest.startswith("-") or not os.path.isfile(rest):
                    raise StartupError(rest)
                classify([rest])
                own.append(rest)
            except CrashpyError:
                script_args.append(rest)
        return own, word, script_args
    return argv, None, []


def open_inputs(args: argparse.Namespace, machine: MachineOptions) -> tuple[Program, str | None]:
    """Open the dump(s) and the vmlinux as the command line names them: (Program, System.map path)."""
    from crashpy.dumpfile.sniff import open_dump
    from crashpy.loader import check_match, check_no_vmlinux, check_stripped_image, classify
    from crashpy.program import Program

    inputs = classify(args.files)
    if not inputs.dumps:
        raise StartupError("no dump file given (live systems are not supported)")
    kaslr = machine.kaslr if machine.kaslr is not None else args.kaslr
    if len(inputs.dumps) == 1:
        dump = open_dump(inputs.dumps[0])
    else:
        from crashpy.dumpfile.split import open_split

        dump = open_split(inputs.dumps)
    prog = Program(
        dump,
        inputs.vmlinux,
        kaslr_offset=kaslr,
        dump_path=inputs.dumps[0],
        phys_base=machine.phys_base,
        page_offset=machine.page_offset,
        zero_excluded=args.zero_excluded,
        stripped_image=inputs.image,
    )
    if inputs.vmlinux is not None and not args.minimal:
        check_match(prog)
    if inputs.image is not None and not args.minimal:
        check_stripped_image(prog)
    if inputs.vmlinux is None and inputs.system_map is None:
        check_no_vmlinux(prog)
    if inputs.system_map is not None:
        from crashpy.cli.system_map import check_system_map, load_system_map

        if prog.image is not None:
            check_system_map(prog, inputs.system_map)
        else:
            load_system_map(prog, inputs.system_map)  # kallsyms checked against it, or found by it
    return prog, inputs.system_map


def _notice(text: str) -> None:
    sys.stderr.write(f"crashpy: {text}\n")


def _catch_ctrl_c() -> None:
    """Ctrl-C stops a command however crashpy was started: a process started with SIGINT ignored (from
    a background job of a non-interactive shell, nohup-style wrappers) inherits SIG_IGN, and Python
    then installs no handler of its own.  crash installs its own handler too."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    _catch_ctrl_c()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["triage"] and not os.path.exists("triage"):
        from crashpy.cli.triage import main as triage_main

        try:
            return triage_main(argv[1:])
        except BrokenPipeError:
            return _stdout_gone()
    own, script, script_args = split_script(argv)
    try:
        args = build_parser().parse_intermixed_args(own)
        machine = parse_machine_options(args.machdep)
    except UsageError as e:
        sys.stderr.write(f"crashpy: {e} (crashpy -h for usage)\n")
        return EXIT_USAGE
    if args.help is not None:
        if args.help:
            return _command_help(args.help)
        sys.stdout.write(USAGE)
        return EXIT_OK
    if args.version:
        sys.stdout.write(f"crashpy {__version__}\n")
        return EXIT_OK
    _buffer_stdout()
    try:
        return _run(args, machine, script, script_args)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `crashpy ... | head`: the reader is gone, so is the rest of the output
        return _stdout_gone()
    finally:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_gone()


def _stdout_gone() -> int:
    """Standard output's reader has closed the pipe: send what is left to /dev/null, so that Python's
    own flush at exit finds nowhere to fail, and end as a process killed by SIGPIPE would."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


def _buffer_stdout() -> None:
    """Under python -u or PYTHONUNBUFFERED, stdout writes every line with its own system call; into a
    pipe a long answer (dis, foreach bt) then takes several times longer.  The session flushes after
    each command and before any shell command, so a buffer is safe: give stdout one when it is not a
    terminal."""
    import io

    out = sys.stdout
    raw = getattr(out, "buffer", None)
    if out.isatty() or not isinstance(raw, io.FileIO):
        return
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(raw), encoding=out.encoding, errors=out.errors, newline=None, line_buffering=False
    )


def _run(args: argparse.Namespace, machine: MachineOptions, script: str | None, script_args: list[str]) -> int:
    from crashpy.session import ExitSession, Session

    try:
        input_lines = _read_lines(args.input_file) if args.input_file else None
        if args.source_tree is not None and not os.path.isdir(args.source_tree):
            raise StartupError(f"--src {args.source_tree}: not a directory")
        rcs = [(path, origin, _read_lines(path)) for path, origin in rc_files(args.no_crashrc)]
        prog, _system_map = open_inputs(args, machine)
    except CrashpyError as e:
        _notice(str(e))
        return EXIT_STARTUP
    if args.extensions:
        _notice("-x: extension modules are not supported (crash's are C shared objects); ignored")
    for item in machine.ignored:
        _notice(f"-m {item}: not supported; ignored")

    session = Session(prog, sys.stdout, minimal=args.minimal)
    PROVIDERS.setdefault("py.namespace", _py_namespace)
    if args.json_all:
        session.json_all = True
        args.silent = True
    s = session.settings
    s.debug = args.debug
    s.zero_excluded = args.zero_excluded
    s.silent = args.silent
    if sys.stdout.isatty():
        # crash on a terminal: scrolling on through less (or $CRASHPAGER), unless -s or --no_scroll.
        import shutil

        pager = "less" if shutil.which("less") or not shutil.which("more") else "more"
        s.scroll_command = "CRASHPAGER" if os.environ.get("CRASHPAGER") else pager
        s.scroll = not (args.silent or args.no_scroll)
    if args.console is not None:
        try:
            os.close(os.open(args.console, os.O_WRONLY | os.O_NOCTTY))
            s.console = args.console
        except OSError as e:
            _notice(f"-c {args.console}: {e.strerror}")
    if args.source_tree is not None:
        session.state["source_tree"] = os.path.abspath(args.source_tree)
    if args.autopsy:  # crashpy --autopsy vmlinux vmcore: the report (or its JSON), then exit
        session.run_line("autopsy --json" if args.json_all else "autopsy")
        sys.stdout.flush()
        return EXIT_COMMAND_FAILED if session.errors else EXIT_OK
    if args.code is not None or script is not None:
        # crashpy -e 'code' / crashpy script.py: Python with the dump bound, exit with its status
        from crashpy.api import run_script

        s.silent = True
        if args.code is not None:
            status = run_script(prog, args.code, script_args, code=True, session=session)
        else:
            assert script is not None
            status = run_script(prog, script, script_args, code=False, session=session)
        sys.stdout.flush()
        return status

    if not args.silent:
        from crashpy.cli.banner import print_banner

        print_banner(session)
    interactive_used = False
    try:
        for _path, origin, lines in rcs:
            session.alias_origin = origin
            try:
                _run_lines(session, lines, from_file=True)
            finally:
                session.alias_origin = "runtime"
        session.errors = 0  # start-up and rc files do not count toward the exit status
        if input_lines is not None:
            _run_lines(session, input_lines, from_file=True)
        if session.interrupted:
            return EXIT_INTERRUPTED
        if sys.stdin.isatty():
            from crashpy.cli.repl import interactive

            interactive_used = True
            interactive(session)
        else:
            _run_lines(session, sys.stdin, from_file=False)
            if session.interrupted:
                return EXIT_INTERRUPTED
    except ExitSession:
        pass
    sys.stdout.flush()
    if session.errors and not interactive_used:
        return EXIT_COMMAND_FAILED
    return EXIT_OK


def _run_lines(session: Session, lines: list[str] | TextIO, *, from_file: bool) -> None:
    """Run commands read from a file (-i, .crashpyrc) or a pipe, echoed after the prompt as crash echoes
    them unless silent; a Ctrl-C stops the rest of them."""
    for raw in lines:
        line = raw.rstrip("\n")
        if from_file and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if not session.settings.silent:
            session.write(f"{PROMPT}{line}\n")
            session.out.flush()
        try:
            session.run_line(line)
        except KeyboardInterrupt:
            session.interrupted = True
        session.out.flush()  # a reader at the other end of a pipe sees each command's answer at once
        if session.interrupted:
            return


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
