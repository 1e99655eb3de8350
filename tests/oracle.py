"""The oracle: the real crash 8.0.6, driven non-interactively, one output string per command.

    from tests.oracle import run_crash
    sys_out, log_out = run_crash(vmlinux, dump, ["sys", "log"])

crash 8.0.6 is built from Debian trixie's source package by tools/build-oracle-crash.sh and cached
at ``<cache>/crash-8.0.6/crash`` (cache: ``$CRASHPY_CACHE`` or ``~/.cache/crashpy``); see
/work/shared/VMCORES.md, "The oracle".

All commands of a call run in ONE crash session (crash takes seconds to start): crash reads them from
stdin, with ``echo <marker>`` between them. ``echo`` is one of the external commands crash hands to
system() (main.c: is_external_command; it works in --minimal mode too), and crash flushes its stdout
before it reads each command line (cmdline.c: process_command_line), so everything the previous
command printed is out before the marker is; the marker text is random per session and numbered, and
is found even when a command's output does not end in a newline. crash's error messages go to the
same stdout (tools.c: set_error("default")); stderr is merged into stdout too. Each output is kept
byte for byte (decoded as UTF-8 with surrogateescape): trailing spaces, blank lines, a missing final
newline.

crash runs with ``--no_crashrc --no_scroll``, stdin and stdout pipes (so no pager and no readline),
TERM=dumb, LC_ALL=C (TZ is inherited: ``log -T`` and ``sys`` print local time), and HOME and the
working directory set to an empty temporary directory, so no .crashrc and no .gdbinit is read. The
session ends with ``q`` (exit status 0). Without -s (``run_crash_startup``) the banner includes
"NOTE: stdin: not a tty" and the "please wait..." lines erased with carriage returns. Sessions are memoized per (binary, vmlinux, dump: path, size, mtime, inode,
commands, flags) in this process and on disk under ``<cache>/oracle-runs/`` (set
CRASHPY_ORACLE_DISK_CACHE=0 to turn the disk cache off).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ORACLE_VERSION = "8.0.6"
REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "tools" / "build-oracle-crash.sh"
DEFAULT_TIMEOUT = 300.0  # seconds for one whole crash session
BUILD_TIMEOUT = 3600.0  # seconds for building crash (about 10 minutes on 2 cores)
PROMPT = "crash> "  # crash's default prompt, printed before each command without -s
# Bump when the way sessions are run or split changes, to invalidate the disk cache.
PROTOCOL_VERSION = 3  # 3: sessions run with an indexed vmlinux (wrong for whatis) are not reused


class OracleError(RuntimeError):
    """crash could not be built, did not finish in time, or stopped before running every command."""


@dataclass(frozen=True)
class CrashSession:
    """What one crash session printed, split per command."""

    commands: tuple[str, ...]
    startup: str  # everything printed before the first command ran (the banner without -s, warnings)
    outputs: tuple[str, ...]  # one per command; "" for commands crash never got to
    completed: int  # how many commands ran to the end (crash may exit early, e.g. on a fatal error)
    trailer: str  # everything printed after the last command (normally nothing)
    exit_status: int  # crash's exit status (the session ends with "q", which exits 0)
    raw: str  # the whole merged stdout/stderr, markers included

    @property
    def ok(self) -> bool:
        """Every command ran and crash exited 0."""
        return self.completed == len(self.commands) and self.exit_status == 0


def cache_root() -> Path:
    """The crashpy cache directory: $CRASHPY_CACHE or ~/.cache/crashpy."""
    return Path(os.environ.get("CRASHPY_CACHE") or Path.home() / ".cache" / "crashpy")


def _binary_version(binary: Path) -> str | None:
    try:
        proc = subprocess.run(
            [str(binary), "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            env=_crash_env(None),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    # A blank line, then "crash 8.0.6", then copyright and gdb lines.
    lines = [line.strip() for line in proc.stdout.decode(errors="replace").splitlines() if line.strip()]
    return lines[0].removeprefix("crash ") if lines and lines[0].startswith("crash ") else None


_binary_lock = threading.Lock()
_binary: Path | None = None


def crash_binary() -> Path:
    """The oracle crash 8.0.6 binary, built first (tools/build-oracle-crash.sh) if it is not cached."""
    global _binary
    with _binary_lock:
        if _binary is not None:
            return _binary
        binary = cache_root() / f"crash-{ORACLE_VERSION}" / "crash"
        if _binary_version(binary) != ORACLE_VERSION:
            try:
                proc = subprocess.run(
                    ["bash", str(BUILD_SCRIPT)],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=BUILD_TIMEOUT,
                    env={**os.environ, "CRASHPY_CACHE": str(cache_root())},
                )
            except subprocess.TimeoutExpired as e:
                raise OracleError(f"{BUILD_SCRIPT} took more than {BUILD_TIMEOUT:.0f} s") from e
            if proc.returncode != 0:
                raise OracleError(
                    f"{BUILD_SCRIPT} failed (exit {proc.returncode}):\n"
                    + proc.stderr.decode(errors="replace")
                )
            version = _binary_version(binary)
            if version != ORACLE_VERSION:
                raise OracleError(f"{binary} says crash {version}, not {ORACLE_VERSION}")
        _binary = binary
        return binary


def _crash_env(home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CRASHPAGER", "PAGER", "EDITOR", "VISUAL")}
    env["TERM"] = "dumb"
    env["LC_ALL"] = "C"
    if home is not None:
        env["HOME"] = str(home)
    return env


def _file_identity(path: Path) -> list[object]:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ino]


def _session_key(
    binary: Path,
    vmlinux: Path,
    dump: Path,
    commands: Sequence[str],
    minimal: bool,
    extra_args: Sequence[str],
    silent: bool,
) -> str:
    key = json.dumps(
        [
            PROTOCOL_VERSION,
            _file_identity(binary),
            _file_identity(vmlinux),
            _file_identity(dump),
            list(commands),
            minimal,
            list(extra_args),
            silent,
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()


def _disk_cache_enabled() -> bool:
    return os.environ.get("CRASHPY_ORACLE_DISK_CACHE", "1") not in ("0", "", "no", "false")


def _disk_cache_path(key: str) -> Path:
    return cache_root() / "oracle-runs" / f"{key}.json"


_TOKEN_RE = re.compile(r"@@CRASHPY-ORACLE-[0-9a-f]{16}(?=-0@@\n)")


def _load_disk(key: str) -> CrashSession | None:
    # Only the raw output is stored (outputs are cut again on load): sessions can be tens of MB.
    try:
        data = json.loads(_disk_cache_path(key).read_text(encoding="utf-8", errors="surrogateescape"))
        commands, raw, silent = tuple(data["commands"]), data["raw"], data["silent"]
        found = _TOKEN_RE.search(raw)
        token = found.group(0) if found else "@@CRASHPY-ORACLE-none"  # crash died before the first marker
        startup, outputs, completed, trailer = _split(raw, commands, token, silent)
        return CrashSession(commands, startup, tuple(outputs), completed, trailer, data["exit_status"], raw)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store_disk(key: str, session: CrashSession, silent: bool) -> None:
    path = _disk_cache_path(key)
    data = {
        "commands": list(session.commands),
        "raw": session.raw,
        "silent": silent,
        "exit_status": session.exit_status,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass  # the disk cache is only an optimisation


def _split(raw: str, commands: Sequence[str], token: str, silent: bool) -> tuple[str, list[str], int, str]:
    """Cut crash's output at the markers: (startup, outputs, completed, trailer)."""

    def marker(i: int) -> str:
        return f"{token}-{i}@@"

    def needle(i: int) -> str:
        # Without -s crash prints its prompt and echoes each command line it reads from stdin, so
        # the marker shows up twice there: "crash> echo M\nM\n".
        return f"{marker(i)}\n" if silent else f"echo {marker(i)}\n{marker(i)}\n"

    def strip_command_echo(text: str, command: str) -> str:
        return text if silent else text.removeprefix(f"{PROMPT}{command}\n")

    pieces: list[str] = []
    pos = 0
    for i in range(len(commands) + 1):
        end = raw.find(needle(i), pos)
        if end < 0:
            break
        pieces.append(raw[pos:end] if silent else raw[pos:end].removesuffix(PROMPT))
        pos = end + len(needle(i))
    rest = raw[pos:]
    startup = pieces[0] if pieces else rest
    completed = max(len(pieces) - 1, 0)
    outputs = [strip_command_echo(p, c) for p, c in zip(pieces[1:], commands, strict=False)]
    trailer = ""
    if completed == len(commands):
        trailer = rest if silent else rest.removeprefix(f"{PROMPT}q\n")
    elif pieces:
        outputs.append(strip_command_echo(rest, commands[completed]))  # the command crash died in
    outputs += [""] * (len(commands) - len(outputs))
    return startup, outputs, completed, trailer


def _run_session(
    binary: Path,
    vmlinux: Path,
    dump: Path,
    commands: Sequence[str],
    minimal: bool,
    extra_args: Sequence[str],
    silent: bool,
    timeout: float,
) -> CrashSession:
    token = f"@@CRASHPY-ORACLE-{secrets.token_hex(8)}"
    lines = [f"echo {token}-0@@"]
    for i, command in enumerate(commands, 1):
        lines += [command, f"echo {token}-{i}@@"]
    lines.append("q")
    argv = [str(binary), "--no_crashrc", "--no_scroll"]
    if silent:
        argv.append("-s")
    if minimal:
        argv.append("--minimal")
    argv += [*extra_args, str(vmlinux), str(dump)]
    with tempfile.TemporaryDirectory(prefix="crashpy-oracle-") as home:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=home,
            env=_crash_env(Path(home)),
            start_new_session=True,  # so a timeout kills crash's pipes and shell escapes too
        )
        try:
            out, _ = proc.communicate("".join(f"{line}\n" for line in lines).encode(), timeout=timeout)
        except subprocess.TimeoutExpired as e:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            raise OracleError(
                f"crash did not finish {list(commands)} on {dump} in {timeout:.0f} s; it printed:\n"
                + out.decode(errors="replace")[-4000:]
            ) from e
    raw = out.decode("utf-8", errors="surrogateescape")
    startup, outputs, completed, trailer = _split(raw, commands, token, silent)
    return CrashSession(
        commands=tuple(commands),
        startup=startup,
        outputs=tuple(outputs),
        completed=completed,
        trailer=trailer,
        exit_status=proc.returncode,
        raw=raw,
    )


def _log_session(dump: Path, commands: Sequence[str], seconds: float) -> None:
    """With $CRASHPY_ORACLE_LOG set, append one line per crash session run (not found in a cache)."""
    path = os.environ.get("CRASHPY_ORACLE_LOG")
    if path:
        with open(path, "a") as f:
            f.write(
                json.dumps({"dump": dump.name, "seconds": round(seconds, 2), "commands": list(commands)})
                + "\n"
            )


# ---- running ahead: tests/oracle_prefetch.py runs the recorded plan in the background ----------------


class Prefetch:
    """What run_crash_session asks of a prefetcher (tests/oracle_prefetch.py)."""

    def take(
        self, key: str, entry: tuple[Path, tuple[str, ...], bool, tuple[str, ...], bool]
    ) -> CrashSession | None:  # pragma: no cover - an interface
        """The session with this key if the prefetcher has run it or is running it (then wait for it);
        None if the caller should run it itself."""
        raise NotImplementedError


prefetcher: Prefetch | None = None
_recorded: list[dict[str, object]] = []
_recorded_keys: set[str] = set()


def _record(
    dump: Path, commands: Sequence[str], minimal: bool, extra_args: Sequence[str], silent: bool
) -> None:
    """Remember each distinct session the tests ask for (by dump file name), for the plan file."""
    entry = {
        "dump": dump.name,
        "dir": str(dump.parent),
        "commands": list(commands),
        "minimal": minimal,
        "extra_args": list(extra_args),
        "silent": silent,
    }
    text = json.dumps(entry, sort_keys=True)
    if text not in _recorded_keys:
        _recorded_keys.add(text)
        _recorded.append(entry)


def recorded_plan() -> list[dict[str, object]]:
    """Every distinct session asked for so far, in the order first asked."""
    return list(_recorded)


_sessions: dict[str, CrashSession] = {}
_sessions_lock = threading.Lock()


def run_crash_session(
    vmlinux: Path,
    dump: Path,
    commands: Sequence[str],
    minimal: bool = False,
    extra_args: Sequence[str] = (),
    silent: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> CrashSession:
    """Run every command in one crash session (memoized); never raises for what crash itself does.

    silent=True runs ``crash -s`` (no banner, no prompts); silent=False shows the start-up banner
    (the copyright lines and ``sys``) in ``startup``, and the prompt and command echoes are removed.
    """
    for command in commands:
        if "\n" in command or "\r" in command:
            raise ValueError(f"a crash command is one line: {command!r}")
    binary = crash_binary()
    vmlinux, dump = Path(vmlinux).resolve(), Path(dump).resolve()
    key = _session_key(binary, vmlinux, dump, commands, minimal, extra_args, silent)
    _record(dump, commands, minimal, extra_args, silent)  # also when the prefetcher has run it already
    with _sessions_lock:
        session = _sessions.get(key)
    if session is not None:
        return session
    use_disk = _disk_cache_enabled()
    session = _load_disk(key) if use_disk else None
    if session is None and prefetcher is not None:
        # run ahead by the prefetcher, now running there, or run there next in a crash kept open
        session = prefetcher.take(key, (dump, tuple(commands), minimal, tuple(extra_args), silent))
    if session is None:
        started = time.monotonic()
        session = _run_session(binary, vmlinux, dump, commands, minimal, extra_args, silent, timeout)
        _log_session(dump, commands, time.monotonic() - started)
        if use_disk:
            _store_disk(key, session, silent)
    with _sessions_lock:
        _sessions[key] = session
    return session


def run_crash(
    vmlinux: Path,
    dump: Path,
    commands: list[str],
    minimal: bool = False,
    extra_args: Sequence[str] = (),
) -> list[str]:
    """crash's output for each command, all run in one ``crash -s`` session (memoized).

    Raises OracleError when crash stopped before it had run every command; use run_crash_session()
    to look at such a session (crash fails on some damaged dumps where crashpy should not).
    """
    session = run_crash_session(vmlinux, dump, commands, minimal=minimal, extra_args=extra_args)
    if session.completed < len(commands):
        failed = commands[session.completed]
        raise OracleError(
            f"crash stopped (exit {session.exit_status}) in command {session.completed + 1} of "
            f"{len(commands)} ({failed!r}) on {dump}; it printed:\n{session.raw[-4000:]}"
        )
    return list(session.outputs)


def run_crash_startup(
    vmlinux: Path, dump: Path, minimal: bool = False, extra_args: Sequence[str] = ()
) -> CrashSession:
    """crash started without -s and given no command: ``startup`` holds its banner and ``sys`` text."""
    return run_crash_session(vmlinux, dump, [], minimal=minimal, extra_args=extra_args, silent=False)
