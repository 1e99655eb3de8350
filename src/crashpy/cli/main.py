"""crashpy's command line: `crashpy [options] vmlinux vmcore` (either order), like crash."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from crashpy import __version__
from crashpy.errors import CrashpyError, StartupError

EXIT_OK = 0
EXIT_STARTUP = 1


def _parse_kaslr(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --kaslr value: {value}") from None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"crashpy: {message}\nUsage: crashpy [OPTION]... [vmlinux] [dumpfile]\n")
        raise SystemExit(EXIT_STARTUP)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="crashpy", add_help=False, allow_abbrev=False)
    p.add_argument("files", nargs="*")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("-v", "--version", action="store_true")
    p.add_argument("-s", dest="silent", action="store_true", help="no banner, no sys output at start-up")
    p.add_argument("-i", dest="input_file", help="run the commands in this file after start-up")
    p.add_argument("--minimal", action="store_true", help="minimal mode: log, rd, sym, eval, set, help, exit")
    p.add_argument("--kaslr", type=_parse_kaslr, help="KASLR offset (hex) or 'auto'")
    p.add_argument("--no_crashrc", action="store_true")
    p.add_argument("--no_scroll", action="store_true")
    return p


USAGE = """\
Usage: crashpy [OPTION]... [vmlinux] [dumpfile]

Open a Linux kernel crash dump with its debug vmlinux (in either order) and answer crash's commands.

  -s              silent: no banner and no sys output at start-up
  -i file         run the commands in file after start-up, then continue with standard input
  --minimal       minimal mode (log, dis, rd, sym, eval, set, help, exit), for damaged dumps
  --kaslr offset  the KASLR offset (hex), or 'auto' to compute it from the dump
  -h, --help      this help
  -v, --version   crashpy's version
"""


def _read_commands(stream: TextIO) -> list[str]:
    return [line.rstrip("\n") for line in stream]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.help:
        sys.stdout.write(USAGE)
        return EXIT_OK
    if args.version:
        sys.stdout.write(f"crashpy {__version__}\n")
        return EXIT_OK
    from crashpy.loader import classify, open_program
    from crashpy.session import ExitSession, Session

    try:
        inputs = classify(args.files)
        if not inputs.dumps:
            raise StartupError("no dump file given (live systems are not supported)")
        kaslr = args.kaslr
        prog = open_program(inputs.vmlinux, inputs.dumps, kaslr=kaslr, check=not args.minimal)
    except CrashpyError as e:
        sys.stderr.write(f"crashpy: {e}\n")
        return EXIT_STARTUP
    except KeyboardInterrupt:
        return EXIT_STARTUP
    session = Session(prog, sys.stdout, minimal=args.minimal)
    if args.silent:
        from crashpy.commands.set import settings

        settings(session).silent = True
    if not args.silent:
        from crashpy.cli.banner import print_banner

        print_banner(session)
    try:
        if args.input_file:
            try:
                with open(args.input_file) as f:
                    lines = _read_commands(f)
            except OSError as e:
                sys.stderr.write(f"crashpy: {args.input_file}: {e.strerror}\n")
                return EXIT_STARTUP
            for line in lines:
                session.run_line(line)
        if sys.stdin.isatty():
            from crashpy.cli.repl import interactive

            interactive(session)
        else:
            for line in sys.stdin:
                session.run_line(line.rstrip("\n"))
    except ExitSession:
        pass
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
