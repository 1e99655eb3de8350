"""`--json` (crashpy/jsonout.py, docs/json.md): every documented field with its type, and the values
equal to what the text commands print, on a plain ELF dump and a kdump-compressed one."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

import crashpy
from crashpy import jsonout
from crashpy.api import Kernel
from crashpy.session import Session

DUMPS = ["sysrq.elf", "sysrq.d31.zlib"]
HEX = re.compile(r"^[0-9a-f]+$")

# The documented schemas (docs/json.md): field -> allowed Python types of the parsed JSON value.
ADDRESS = "address"
SYS_FIELDS: dict[str, tuple[Any, ...]] = {
    "kernel": (str, type(None)),
    "debuginfo": (bool,),
    "dumpfile": (str,),
    "dump_format": (str,),
    "partial_dump": (bool,),
    "incomplete": (bool,),
    "cpus": (int,),
    "cpus_offline": (int,),
    "date": (str,),
    "time": (int, type(None)),
    "uptime": (str,),
    "uptime_seconds": (int, type(None)),
    "load_average": (list, type(None)),
    "tasks": (int,),
    "nodename": (str,),
    "release": (str,),
    "version": (str,),
    "machine": (str,),
    "mhz": (int, type(None)),
    "memory": (str,),
    "memory_bytes": (int, type(None)),
    "panic": (str,),
    "taint_mask": (int,),
    "tainted": (bool,),
    "livepatch": (bool,),
}
PS_FIELDS: dict[str, Any] = {
    "pid": (int,),
    "ppid": (int,),
    "tgid": (int,),
    "cpu": (int,),
    "task": ADDRESS,
    "state": (str,),
    "state_value": (int,),
    "mem_pct": (int, float),
    "vsz_kb": (int,),
    "rss_kb": (int,),
    "comm": (str,),
    "kernel_thread": (bool,),
    "active": (bool,),
    "panic": (bool,),
}
MOD_FIELDS: dict[str, Any] = {
    "module": ADDRESS,
    "name": (str,),
    "base": ADDRESS,
    "size": (int,),
    "text_size": (int,),
    "object_file": (str, type(None)),
    "kallsyms": (bool,),
}
LOG_FIELDS: dict[str, Any] = {
    "layout": (str,),
    "records": (list,),
    "missing": (list,),
    "plain_text": (str, type(None)),
}
RECORD_FIELDS: dict[str, Any] = {
    "seq": (int, type(None)),
    "ts_nsec": (int,),
    "level": (int,),
    "facility": (int,),
    "caller": (str, type(None)),
    "text": (str,),
    "subsystem": (str, type(None)),
    "device": (str, type(None)),
    "dict": (list,),
}


def check_fields(obj: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    """`obj` has exactly the documented fields, each of a documented type (bool is not an int here)."""
    assert set(obj) == set(fields), where
    for name, allowed in fields.items():
        value = obj[name]
        if allowed == ADDRESS:
            assert isinstance(value, str) and HEX.match(value), (where, name, value)
            continue
        if isinstance(value, bool):
            assert bool in allowed, (where, name, value)
        else:
            assert isinstance(value, allowed), (where, name, value)


@pytest.fixture(scope="module", params=DUMPS)
def prog(request: pytest.FixtureRequest, dumps: dict[str, Path]) -> Kernel:
    return crashpy.open(str(dumps["vmlinux"]), str(dumps[request.param]))


def run(prog: Kernel, line: str) -> str:
    out = io.StringIO()
    Session(prog, out).run_line(line)
    return out.getvalue()


def parsed(prog: Kernel, line: str) -> dict[str, Any]:
    """The JSON a command line prints, parsed; it must be one valid document."""
    doc = json.loads(run(prog, line))
    assert isinstance(doc, dict)
    assert doc["command"] == line.split()[0] or line.startswith("dmesg")
    assert doc["schema_version"] == jsonout.SCHEMA_VERSION
    del doc["command"], doc["schema_version"]
    return doc


# ---- the entry points -----------------------------------------------------------------------------


def test_supports() -> None:
    for name in ("sys", "ps", "mod", "log"):
        assert jsonout.supports(name)
    assert not jsonout.supports("rd")


def test_render_equals_session_output(prog: Kernel) -> None:
    session = Session(prog, io.StringIO())
    for command in ("sys", "ps", "mod", "log"):
        text = jsonout.render(session, command, ["--json"])
        assert text == jsonout.render(prog, command, [])
        assert text == run(prog, f"{command} --json")
        assert text.endswith("}\n")
        assert json.loads(text) == jsonout.document(prog, command, [])


def test_unsupported_options_one_line(prog: Kernel) -> None:
    assert run(prog, "ps --json -t") == "ps: -t is not supported with --json\n"
    assert run(prog, "log --json -a") == "log: -a is not supported with --json\n"
    assert run(prog, "sys --json -c") == "sys: -c: not supported with --json\n"
    assert run(prog, "mod --json -t") == "mod: -t: not supported with --json\n"
    assert run(prog, "ps --json -k -u") == "ps: -u and -k are mutually exclusive\n"


def test_unsupported_command_runs_as_usual(prog: Kernel) -> None:
    """A command without a JSON document sees --json as any other argument."""
    assert not run(prog, "eval --json").startswith("{")
    with pytest.raises(crashpy.CommandError):
        jsonout.render(prog, "rd", ["--json"])


# ---- sys --------------------------------------------------------------------------------------------


def test_sys(prog: Kernel) -> None:
    doc = parsed(prog, "sys --json")
    check_fields(doc, SYS_FIELDS, "sys")
    text = run(prog, "sys")
    lines = dict(line.strip().split(": ", 1) for line in text.splitlines())
    assert lines["KERNEL"].split("  ")[0] == doc["kernel"]
    assert ("[TAINTED]" in lines["KERNEL"]) == doc["tainted"]
    assert lines["DUMPFILE"].split(" ")[0] == doc["dumpfile"]
    assert ("[PARTIAL DUMP]" in lines["DUMPFILE"]) == doc["partial_dump"]
    cpus = f"{doc['cpus']}" + (f" [OFFLINE: {doc['cpus_offline']}]" if doc["cpus_offline"] else "")
    assert lines["CPUS"] == cpus
    assert lines["DATE"] == doc["date"]
    assert lines["UPTIME"] == doc["uptime"]
    assert lines["LOAD AVERAGE"] == ", ".join(f"{v:.2f}" for v in doc["load_average"])
    assert lines["TASKS"] == str(doc["tasks"])
    for name in ("nodename", "release", "version"):
        assert lines[name.upper()] == doc[name]
    assert lines["MACHINE"] == f"{doc['machine']}  ({doc['mhz']} Mhz)"
    assert lines["MEMORY"] == doc["memory"]
    assert lines["PANIC"] == f'"{doc["panic"]}"'
    h, m, s = (int(x) for x in doc["uptime"].split(":"))
    assert doc["uptime_seconds"] == h * 3600 + m * 60 + s
    assert 0 < doc["memory_bytes"] < 1 << 40
    assert doc["dump_format"] == ("ELF" if doc["dumpfile"].endswith(".elf") else "KDUMP")


# ---- ps ---------------------------------------------------------------------------------------------


def ps_rows(text: str) -> list[dict[str, Any]]:
    """`ps`'s table as dicts of its columns."""
    rows = []
    for line in text.splitlines()[1:]:
        active = line.startswith(">")
        pid, ppid, cpu, task, st, pct, vsz, rss, comm = line[1:].split(None, 8)
        rows.append(
            {
                "active": active,
                "pid": int(pid),
                "ppid": int(ppid),
                "cpu": int(cpu),
                "task": task,
                "state": st,
                "pct": pct,
                "vsz_kb": int(vsz),
                "rss_kb": int(rss),
                "comm": comm,
            }
        )
    return rows


def as_ps_columns(row: dict[str, Any]) -> dict[str, Any]:
    comm = f"[{row['comm']}]" if row["kernel_thread"] else row["comm"]
    return {
        "active": row["active"],
        "pid": row["pid"],
        "ppid": row["ppid"],
        "cpu": row["cpu"],
        "task": row["task"],
        "state": row["state"],
        "pct": f"{row['mem_pct']:.1f}",
        "vsz_kb": row["vsz_kb"],
        "rss_kb": row["rss_kb"],
        "comm": comm,
    }


def test_ps_schema_and_columns(prog: Kernel) -> None:
    doc = parsed(prog, "ps --json")
    assert set(doc) == {"tasks"}
    for i, row in enumerate(doc["tasks"]):
        check_fields(row, PS_FIELDS, f"ps row {i}")
    text_rows = ps_rows(run(prog, "ps"))
    assert [as_ps_columns(r) for r in doc["tasks"]] == text_rows
    assert len(doc["tasks"]) == parsed(prog, "sys --json")["tasks"]
    assert sum(r["panic"] for r in doc["tasks"]) == 1


@pytest.mark.parametrize("options", ["-k", "-u", "-G", "-A", "1", "init", "'^kworker'", "-k 2 3"])
def test_ps_selections_agree(prog: Kernel, options: str) -> None:
    doc = parsed(prog, f"ps --json {options}")
    assert [as_ps_columns(r) for r in doc["tasks"]] == ps_rows(run(prog, f"ps {options}"))
    assert doc["tasks"], options


def test_ps_by_task_address(prog: Kernel) -> None:
    task = prog.task(1).address
    doc = parsed(prog, f"ps --json {task:x}")
    assert [r["pid"] for r in doc["tasks"]] == [1]


def test_ps_agrees_with_api(prog: Kernel) -> None:
    doc = jsonout.document(prog, "ps", [])
    assert [(r["pid"], r["comm"], int(r["task"], 16)) for r in doc["tasks"]] == [
        (t.pid, t.comm, t.address) for t in prog.tasks()
    ]


# ---- mod --------------------------------------------------------------------------------------------


def test_mod(prog: Kernel) -> None:
    doc = parsed(prog, "mod --json")
    assert set(doc) == {"modules"}
    for i, row in enumerate(doc["modules"]):
        check_fields(row, MOD_FIELDS, f"mod row {i}")
    lines = run(prog, "mod").splitlines()[1:]
    assert len(lines) == len(doc["modules"]) > 0
    for line, row in zip(lines, doc["modules"], strict=True):
        module, name, base, size, *rest = line.split()
        assert (module, name, base, int(size)) == (row["module"], row["name"], row["base"], row["size"])
        assert ("[CONFIG_KALLSYMS]" in rest) == row["kallsyms"]
        assert row["object_file"] is None and "(not" in rest
    assert [m["name"] for m in doc["modules"]] == [m.name for m in prog.modules()]


# ---- log --------------------------------------------------------------------------------------------


def printable(text: str) -> str:
    """`log`'s rendering of a message: bytes outside printable ASCII (but newline and tab) as '.'."""
    return "".join(c if c in "\n\t" or " " <= c <= "~" else "." for c in text)


def test_log_schema_and_text(prog: Kernel) -> None:
    doc = parsed(prog, "log --json")
    check_fields(doc, LOG_FIELDS, "log")
    assert doc["layout"] == "lockless" and doc["plain_text"] is None
    assert doc["missing"] == []
    for i, rec in enumerate(doc["records"]):
        check_fields(rec, RECORD_FIELDS, f"record {i}")
        assert 0 <= rec["level"] <= 7
    lines = run(prog, "log -t").splitlines()
    assert lines == "\n".join(printable(r["text"]) for r in doc["records"]).splitlines()
    assert [r["seq"] for r in doc["records"]] == list(range(len(doc["records"])))


def test_log_levels_times_and_callers(prog: Kernel) -> None:
    doc = parsed(prog, "dmesg --json")  # crash's alias of log
    records = doc["records"]
    with_prefix = [line for line in run(prog, "log -m -c").splitlines() if line.startswith("[")]
    assert len(with_prefix) == len(records)
    for line, rec in zip(with_prefix, records, strict=True):
        m = re.match(r"\[\s*(\d+)\.(\d{6})\] \[\s*([TC]\d+)\] <(\d)>", line)
        assert m, line
        secs, usecs, caller, level = m.groups()
        assert int(secs) * 1_000_000 + int(usecs) == rec["ts_nsec"] // 1000
        assert caller == rec["caller"]
        assert int(level) == rec["level"]


def test_log_layout_options_change_nothing(prog: Kernel) -> None:
    assert jsonout.document(prog, "log", ["-T", "-d", "-m", "-c", "-t"]) == jsonout.document(prog, "log", [])


def test_log_agrees_with_api(prog: Kernel) -> None:
    doc = jsonout.document(prog, "log", [])
    assert [r["text"] for r in doc["records"]] == [r.text.decode("utf-8", "replace") for r in prog.log()]


# ---- task -------------------------------------------------------------------------------------------


def test_task_full(prog: Kernel) -> None:
    doc = parsed(prog, "task --json 1")
    (row,) = doc["tasks"]
    assert (row["pid"], row["task"], row["comm"]) == (1, f"{prog.task(1).address:x}", "init")
    assert set(row) == {"pid", "task", "cpu", "comm", "task_struct", "thread_info"}
    ts = row["task_struct"]
    text = run(prog, "task -d 1")
    top = re.findall(r"(?m)^  (\w+) = (.*?),?$", text.split("struct thread_info {")[0])
    assert top and {name for name, _ in top} <= set(ts)
    compared = 0
    for name, value in top:
        if re.fullmatch(r"-?\d+", value):
            assert ts[name] == int(value), name
            compared += 1
        elif re.fullmatch(r"0x[0-9a-f]+", value):
            assert int(ts[name], 16) == int(value, 16), name
            compared += 1
        elif value.startswith('"'):
            assert ts[name] == value.strip('"').split("\\000")[0], name
            compared += 1
    assert compared > 100
    assert ts["comm"] == "init" and ts["pid"] == 1
    assert isinstance(ts["se"], dict) and ts["se"]["on_rq"] in (0, 1)
    assert isinstance(ts["cpus_mask"]["bits"], list)
    assert row["thread_info"]["cpu"] == row["cpu"]


def test_task_members_and_contexts(prog: Kernel) -> None:
    doc = parsed(prog, "task --json -R pid,comm,se.on_rq,prio 1 2")
    assert [r["pid"] for r in doc["tasks"]] == [1, 2]
    first = doc["tasks"][0]
    assert set(first) == {"pid", "task", "cpu", "comm", "task_struct"}
    text = run(prog, "task -R pid,comm,se.on_rq,prio 1")
    values = dict(re.findall(r"(?m)^  ([\w.]+) = (.*?),$", text))
    assert first["task_struct"] == {
        "pid": int(values["pid"]),
        "comm": "init",
        "se.on_rq": int(values["se.on_rq"]),
        "prio": int(values["prio"]),
    }
    session = Session(prog, io.StringIO())
    session.run_line("set 2")
    assert jsonout.document(session, "task", ["-R", "pid"])["tasks"][0]["pid"] == 2
    panicked = prog.panic_task()
    assert panicked is not None
    assert jsonout.document(prog, "task", ["-R", "pid"])["tasks"][0]["pid"] == panicked.pid
    assert run(prog, "task --json 999999") == "task: invalid task or pid value: 999999\n"
    assert run(prog, "task --json -R nosuch 1") == "task: nosuch: not a task_struct member\n"


def test_bt_frames_agree_with_text(prog: Kernel) -> None:
    import json

    doc = json.loads(prog.run("bt --json -a"))
    assert doc["command"] == "bt" and doc["schema_version"] == 1
    text = prog.run("bt -a")
    for row in doc["tasks"]:
        assert row["error"] is None
        for f in row["frames"]:
            line = f" #{f['level']} [{f['sp']}] {f['function']} at {f['pc']}"
            assert line in text
            assert f["module"] is None or isinstance(f["module"], str)
    assert doc["tasks"][-1]["frames"][0]["function"] == "panic" or any(
        r["frames"] and r["frames"][0]["function"] == "panic" for r in doc["tasks"]
    )
    assert "invalid task or pid value" in prog.run("bt --json 99999")
