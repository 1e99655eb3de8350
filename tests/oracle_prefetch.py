"""Running crash ahead of the tests: the oracle plan, run in the background while the tests run crashpy.

crash takes seconds to start (gdb reads the vmlinux), and the suite asks it for hundreds of sessions
(a gdb index would halve that, but gdb then answers some look-ups from another DIE: `whatis
linux_banner` gives `[]` for `[204]`, so crash reads the plain vmlinux).
``tests/oracle_plan.json`` lists the sessions a whole run asked for (dump file name, commands, flags),
in the order first asked; it is written by a run with ``CRASHPY_ORACLE_RECORD=1``.  At the start of a
run, one background thread works through the plan in that order, on the machine's other core:

- a session whose commands neither print gdb's value history (``p`` numbers its values ``$1``, ``$2``
  for the whole crash session) nor change crash's state (``set``, ``alias``, ``mod -s``, ...) runs in
  a crash process kept open for its dump, one command at a time, each followed by an ``echo`` marker:
  crash starts once per dump instead of once per session;
- any other session runs alone, in a crash of its own, as run_crash_session would run it.

Each result goes where run_crash_session looks first (its memo and the disk cache), under the key the
session would have had.  A test that asks for a session the thread is running waits for it.  One the
thread has not reached, or one the plan does not list (commands made from values read in the dump,
such as addresses, which change with every build of the dumps), goes to the front of the queue when it
may share a kept-open crash, so that it costs its commands and not a crash start-up; any other session
the test runs itself.  The thread keeps waiting for such sessions after the plan is done, until the
run ends.  A stale plan costs time, never correctness.
"""

from __future__ import annotations

import json
import os
import secrets
import select
import signal
import subprocess
import tempfile
import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path

from tests import oracle
from tests.oracle import CrashSession, OracleError

PLAN_FILE = Path(__file__).resolve().parent / "oracle_plan.json"

def _live_processes() -> int:
    """How many crash processes to keep open at once (about 400 MB each): one per test dump where
    memory allows (so that a test file going dump by dump never restarts one), at least 3."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        available = int(fields["MemAvailable"].split()[0]) << 10
    except (OSError, KeyError, ValueError):
        return 3
    return max(3, min(16, available // (800 << 20)))


LIVE_PROCESSES = _live_processes()
COMMAND_TIMEOUT = 300.0

# First words of the commands a kept-open crash may run for many sessions: none of them numbers gdb's
# value history, changes what a later command prints, or asks gdb to look a name up in its symbol
# tables (which answers from whichever unit an earlier look-up expanded: `whatis linux_banner` says
# `[]` or `[204]` depending on what ran before, so p, whatis, ptype, struct, union, task, list and
# tree keep sessions of their own).
SHAREABLE = frozenset(
    "bt ps sys log rd sym dis foreach runq sig eval kmem vm vtop ptov pte btop ptob search files fuser "
    "net dev mount irq timer waitq ipcs ascii swap mach help".split()
)
_GDB_WORDS = frozenset("p print output set task struct union whatis ptype list tree".split())
# ... and of these, only some forms.
_MOD_SAFE = ("", "-t")


def shareable(commands: Sequence[str], minimal: bool, silent: bool) -> bool:
    """Whether a session may run in a crash process shared with other sessions of its dump."""
    if not silent or not commands:
        return False
    for command in commands:
        words = command.split()
        if not words or any(ch in command for ch in "|>!"):
            return False
        head = words[0]
        if head == "mod":
            if " ".join(words[1:]) not in _MOD_SAFE:
                return False
        elif head not in SHAREABLE:
            return False
        if head == "foreach" and any(w in _GDB_WORDS for w in words[1:]):
            return False
    return True


class LiveCrash:
    """One crash process kept open, fed one command at a time, each followed by an echo marker."""

    def __init__(
        self, binary: Path, vmlinux: Path, dump: Path, minimal: bool, extra_args: Sequence[str]
    ) -> None:
        self.vmlinux = vmlinux
        self.token = f"@@CRASHPY-ORACLE-{secrets.token_hex(8)}"
        self.count = 0
        self.home = tempfile.TemporaryDirectory(prefix="crashpy-oracle-")
        argv = [str(binary), "--no_crashrc", "--no_scroll", "-s"]
        if minimal:
            argv.append("--minimal")
        argv += [*extra_args, str(vmlinux), str(dump)]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.home.name,
            env=oracle._crash_env(Path(self.home.name)),
            start_new_session=True,
        )
        self._buf = b""
        self.startup = self._exchange(None)

    def _exchange(self, command: str | None) -> str | None:
        """Send `command` (None: nothing) and a marker; what crash printed before the marker, or None if
        crash died or took too long (the process is then killed)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        marker = f"{self.token}-{self.count}@@"
        self.count += 1
        text = (f"{command}\n" if command is not None else "") + f"echo {marker}\n"
        needle = f"{marker}\n".encode()
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except OSError:
            self.close()
            return None
        fd = self.proc.stdout.fileno()
        while needle not in self._buf:
            ready, _, _ = select.select([fd], [], [], COMMAND_TIMEOUT)
            chunk = os.read(fd, 1 << 16) if ready else b""
            if not chunk:
                self.close()
                return None
            self._buf += chunk
        before, _, self._buf = self._buf.partition(needle)
        return before.decode("utf-8", errors="surrogateescape")

    def run(self, commands: Sequence[str]) -> list[str] | None:
        outputs = []
        for command in commands:
            out = self._exchange(command)
            if out is None:
                return None
            outputs.append(out)
        return outputs

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and self.startup is not None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"q\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.home.cleanup()


def _synthetic_session(commands: Sequence[str], startup: str, outputs: list[str]) -> CrashSession:
    """The CrashSession a session of its own would have given (its raw text cut as _split cuts it)."""
    token = f"@@CRASHPY-ORACLE-{secrets.token_hex(8)}"
    # as a session of its own prints them: the startup, marker 0, command 0's output, marker 1, ...,
    # the last command's output, the last marker (_split cuts an output from between two markers)
    raw = startup + "".join(
        f"{token}-{i}@@\n" + (outputs[i] if i < len(outputs) else "") for i in range(len(commands) + 1)
    )
    return CrashSession(tuple(commands), startup, tuple(outputs), len(commands), "", 0, raw)


Entry = tuple[Path, tuple[str, ...], bool, tuple[str, ...], bool]  # dump, commands, minimal, extra, silent


class Prefetcher(oracle.Prefetch, threading.Thread):
    """Works through the plan in the background (see the module's docstring)."""

    def __init__(self, binary: Path, vmlinux: Path, entries: list[Entry]) -> None:
        threading.Thread.__init__(self, name="oracle-prefetch", daemon=True)
        self.binary = binary
        self.vmlinux = vmlinux.resolve()
        self.cond = threading.Condition()
        self.queue: deque[tuple[str, Entry]] = deque()
        self.state: dict[str, str] = {}  # key -> "queued" | "running"
        self.live: OrderedDict[tuple[Path, bool, tuple[str, ...]], LiveCrash] = OrderedDict()
        self.stopping = False
        for entry in entries:
            dump, commands, minimal, extra, silent = entry
            key = oracle._session_key(binary, self.vmlinux, dump, commands, minimal, extra, silent)
            if key in self.state or oracle._disk_cache_path(key).exists():
                continue
            self.state[key] = "queued"
            self.queue.append((key, entry))

    def take(self, key: str, entry: Entry) -> CrashSession | None:
        """The session under `key`: run by the thread already, or waited for while it runs. A session
        the thread has not reached (or the plan does not list) that may share a kept-open crash goes to
        the front of the queue, so that it costs its commands, not a crash start-up; any other is left
        to the caller (None)."""
        dump, commands, minimal, extra, silent = entry
        with self.cond:
            state = self.state.get(key)
            if state != "running":
                if self.stopping or not self.is_alive() or not shareable(commands, minimal, silent):
                    if state == "queued":
                        del self.state[key]  # the caller runs it; the thread will skip it
                    return None
                self.state[key] = "queued"
                self.queue.appendleft((key, entry))
                self.cond.notify_all()
            while self.state.get(key) in ("queued", "running"):
                self.cond.wait(timeout=1.0)
                if not self.is_alive():
                    break
        with oracle._sessions_lock:
            return oracle._sessions.get(key)

    def run(self) -> None:
        try:
            while True:
                with self.cond:
                    while self.queue and self.state.get(self.queue[0][0]) != "queued":
                        self.queue.popleft()
                    if self.stopping:
                        return
                    if not self.queue:  # the plan is done: wait for sessions the tests send
                        self.cond.wait()
                        continue
                    key, entry = self.queue.popleft()
                    self.state[key] = "running"
                try:
                    session = self._execute(entry)
                except OracleError:
                    session = None
                with oracle._sessions_lock:
                    if session is not None:
                        oracle._sessions[key] = session
                if session is not None and oracle._disk_cache_enabled():
                    oracle._store_disk(key, session, entry[4])
                with self.cond:
                    self.state.pop(key, None)
                    self.cond.notify_all()
        finally:
            for live in self.live.values():
                live.close()
            self.live.clear()
            with self.cond:
                self.state.clear()
                self.cond.notify_all()

    def _execute(self, entry: Entry) -> CrashSession | None:
        dump, commands, minimal, extra, silent = entry
        if shareable(commands, minimal, silent):
            live = self._live(dump, minimal, extra)
            if live is not None and live.startup is not None:
                outputs = live.run(commands)
                if outputs is not None:
                    return _synthetic_session(commands, live.startup, outputs)
                self.live.pop((dump, minimal, extra), None)
        return oracle._run_session(
            self.binary, self.vmlinux, dump, commands, minimal, extra, silent, oracle.DEFAULT_TIMEOUT
        )

    def _live(self, dump: Path, minimal: bool, extra: tuple[str, ...]) -> LiveCrash | None:
        slot = (dump, minimal, extra)
        live = self.live.get(slot)
        if live is not None and live.alive:
            self.live.move_to_end(slot)
            return live
        if live is not None:
            live.close()
            del self.live[slot]
        while len(self.live) >= LIVE_PROCESSES:
            _, oldest = self.live.popitem(last=False)
            oldest.close()
        live = LiveCrash(self.binary, self.vmlinux, dump, minimal, extra)
        self.live[slot] = live
        return live

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()


def load_plan(dump_dir: Path) -> list[Entry]:
    """The plan's sessions whose dumps exist in `dump_dir`; none when the plan was recorded on another
    kernel release (its commands carry that kernel's addresses: running them would only cost time)."""
    try:
        plan = json.loads(PLAN_FILE.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(plan, dict) or plan.get("release") != dump_dir.resolve().name:
        return []
    entries: list[Entry] = []
    for item in plan["sessions"]:
        dump = (dump_dir / str(item["dump"])).resolve()
        if dump.is_file():
            entries.append(
                (
                    dump,
                    tuple(item["commands"]),
                    bool(item["minimal"]),
                    tuple(item["extra_args"]),
                    bool(item["silent"]),
                )
            )
    return entries


def start(binary: Path, vmlinux: Path, dump_dir: Path) -> Prefetcher | None:
    """Start working through the plan (unless CRASHPY_ORACLE_PREFETCH=0 or the disk cache is off)."""
    if (
        os.environ.get("CRASHPY_ORACLE_PREFETCH", "1") in ("0", "no", "false")
        or not oracle._disk_cache_enabled()
    ):
        return None
    entries = load_plan(dump_dir)  # none: the thread still runs the tests' sessions in kept-open crashes
    prefetcher = Prefetcher(binary, vmlinux, entries)
    oracle.prefetcher = prefetcher
    prefetcher.start()
    return prefetcher


def write_plan(dump_dir: Path) -> int:
    """Write the sessions this run asked for (on dumps of `dump_dir`) as the plan; how many."""
    root = str(dump_dir.resolve())
    plan = [{k: v for k, v in e.items() if k != "dir"} for e in oracle.recorded_plan() if e["dir"] == root]
    # the dumps' directory is named after the kernel release they were built from
    PLAN_FILE.write_text(
        json.dumps({"release": dump_dir.resolve().name, "sessions": plan}, indent=0, sort_keys=True) + "\n"
    )
    return len(plan)
