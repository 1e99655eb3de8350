"""What the kernel log says about a crash: the lines the kernel prints when it fails, parsed.

The kernel announces every kind of failure with a line of its own (`kernel BUG at f.c:12!`,
`BUG: kernel NULL pointer dereference, address: 0000000000000000`, `watchdog: BUG: soft lockup -
CPU#0 stuck for 22s! [comm:pid]`, ...), then the oops header (`invalid opcode: 0000 [#1] ...`), the
registers and the call trace, and finally `Kernel panic - not syncing: <why>`.  `read_log()` finds
those lines; autopsy.py weighs them with what the dump's structures say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")

# The first line of each kind of failure report, as the kernel prints it (6.x wording, with the
# older wording where it differs); each names the kind autopsy gives it.
HEADLINES: list[tuple[str, re.Pattern[str]]] = [
    ("bug", re.compile(r"kernel BUG at (?P<file>[^:\s]+):(?P<line>\d+)!")),
    ("null-deref", re.compile(r"BUG: kernel NULL pointer dereference, address: (?P<address>[0-9a-fx]+)")),
    ("null-deref", re.compile(r"BUG: unable to handle kernel NULL pointer dereference at (?P<address>[0-9a-fx]+)")),
    ("page-fault", re.compile(r"BUG: unable to handle (?:page fault|kernel paging request) (?:for address:|at) "
                              r"(?P<address>[0-9a-fx]+)")),
    ("gpf", re.compile(r"general protection fault(?:, probably for non-canonical address (?P<address>0x[0-9a-f]+))?")),
    ("warn", re.compile(r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at (?P<file>[^:\s]+):(?P<line>\d+) "
                        r"(?P<function>[\w.]+)")),
    ("soft-lockup", re.compile(r"BUG: soft lockup - CPU#(?P<cpu>\d+) stuck for (?P<seconds>\d+)s! "
                               r"\[(?P<comm>.*):(?P<pid>\d+)\]")),
    ("hard-lockup", re.compile(r"Watchdog detected hard LOCKUP on cpu (?P<cpu>\d+)")),
    ("hung-task", re.compile(r"INFO: task (?P<comm>.*):(?P<pid>\d+) blocked for more than (?P<seconds>\d+) seconds")),
    ("oom", re.compile(r"(?P<comm>\S+) invoked oom-killer:")),
    ("list-corruption", re.compile(r"(?P<op>list_(?:add|del)) corruption\. (?P<detail>.*)")),
    ("stack-overflow", re.compile(r"BUG: \w+ stack guard page was hit at")),
    ("stack-overflow", re.compile(r"kernel stack overflow \(double-fault\)")),
    ("double-fault", re.compile(r"double fault: 0000")),
    ("machine-check", re.compile(r"(?:Machine check|mce: \[Hardware Error\])")),
    ("sysrq", re.compile(r"sysrq: Trigger a crash")),
]

# Headlines this many lines apart or closer belong to one report.
REPORT_GAP = 3
# The kind of failure a panic message names (matched in lower case).
PANIC_NAMES = [
    ("panic_on_warn", "warn"),
    ("sysrq triggered crash", "sysrq"),
    ("out of memory", "oom"),
    ("softlockup", "soft-lockup"),
    ("hard lockup", "hard-lockup"),
    ("hung_task", "hung-task"),
    ("machine check", "machine-check"),
    ("stack overflow", "stack-overflow"),
    ("double fault", "double-fault"),
]

# `#PF: supervisor write access in kernel mode`, `#PF: error_code(0x0002) - not-present page`
_PF_ACCESS = re.compile(r"#PF: (?:supervisor|user) (?P<access>read|write|instruction fetch) access")
_PF_ERROR = re.compile(r"#PF: error_code\((?P<code>0x[0-9a-f]+)\) - (?P<why>.*)")
_OOPS_HEADER = re.compile(r"^(?P<what>[\w ]+): (?P<code>[0-9a-f]{4}) \[#(?P<count>\d+)\]")
_PANIC = re.compile(r"Kernel panic - not syncing: (?P<why>.*)")
_HEX = re.compile(r"\b(?:0x)?([0-9a-f]{16})\b")


@dataclass
class Headline:
    """One failure report's first line: its kind, the line, its index in the log, its fields."""

    kind: str
    line: str
    index: int
    fields: dict[str, str]


@dataclass
class LogEvidence:
    """The failure reports found in the kernel log."""

    lines: list[str]  # the log's lines, timestamps removed
    headlines: list[Headline] = field(default_factory=list)
    panic: str = ""  # what `Kernel panic - not syncing:` says, "" when the log has no such line
    panic_index: int = -1
    oops_header: str = ""  # `invalid opcode: 0000 [#1] PREEMPT SMP NOPTI`: the exception's name
    pf_access: str = ""  # "read", "write" or "instruction fetch", from the #PF lines
    pf_reason: str = ""  # e.g. "not-present page"

    def panic_kind(self) -> str | None:
        """The kind of failure the panic message names, if it names one."""
        return next((k for text, k in PANIC_NAMES if text in self.panic.lower()), None)

    def cause(self) -> Headline | None:
        """The report that led to the panic: the last one before it (a report is a headline and the
        headlines right after it, such as `list_del corruption` followed by `kernel BUG at
        lib/list_debug.c`), or the last of the kind the panic message names (`panic_on_warn set`,
        `hung_task: blocked tasks`, ...)."""
        reports: list[Headline] = []
        last = -REPORT_GAP - 1
        for h in self.headlines:
            if reports and h.index - last <= REPORT_GAP:
                last = h.index
                continue
            reports.append(h)
            last = h.index
        if not reports:
            return None
        named = self.panic_kind()
        if named is not None:
            for h in reversed(reports):
                if h.kind == named:
                    return h
        return reports[-1]

    def of_kind(self, kind: str) -> Headline | None:
        """The report of this kind: the cause when it is of this kind, else the last one."""
        cause = self.cause()
        if cause is not None and cause.kind == kind:
            return cause
        for h in reversed(self.headlines):
            if h.kind == kind:
                return h
        return None

    def report_lines(self, limit: int = 40) -> list[str]:
        """The lines that matter: from the first failure report (its `cut here` line included) to the
        panic line, at most `limit` of them; the last lines before the panic when there is no report."""
        end = self.panic_index if self.panic_index >= 0 else len(self.lines) - 1
        cause = self.cause()
        if cause is not None:
            start = cause.index
            if start > 0 and "cut here" in self.lines[start - 1]:
                start -= 1
        else:
            start = max(0, end - 5)
        chosen = self.lines[start : end + 1]
        if len(chosen) > limit:
            chosen = chosen[: limit - 3] + ["..."] + chosen[-2:]
        return chosen


def hex_values(text: str) -> list[int]:
    """The 16-digit hexadecimal numbers in a log line, in order (kernel pointers as %px prints them)."""
    return [int(m, 16) for m in _HEX.findall(text)]


def read_log(lines: list[str]) -> LogEvidence:
    """The failure reports of a kernel log (its lines as `log` prints them, with or without timestamps)."""
    clean = [_TIMESTAMP.sub("", line) for line in lines]
    ev = LogEvidence(clean)
    for i, line in enumerate(clean):
        m = _PANIC.search(line)
        if m:
            if ev.panic_index < 0:
                ev.panic, ev.panic_index = m.group("why").strip(), i
            continue
        if ev.panic_index >= 0:
            continue  # what follows the panic line is the panic's own aftermath
        for kind, pattern in HEADLINES:
            m = pattern.search(line)
            if m:
                fields = {k: v for k, v in m.groupdict().items() if v is not None}
                ev.headlines.append(Headline(kind, line, i, fields))
                break
        m = _OOPS_HEADER.match(line)
        if m and not ev.oops_header:
            ev.oops_header = line
        m = _PF_ACCESS.search(line)
        if m and not ev.pf_access:
            ev.pf_access = m.group("access")
        m = _PF_ERROR.search(line)
        if m and not ev.pf_reason:
            ev.pf_reason = m.group("why").strip()
    return ev
