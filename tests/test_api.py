"""The Python API (crashpy/api.py, docs/python-api.md): every function on a plain ELF dump and on a
kdump-compressed one, checked against the text commands that print the same helpers' data."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

import crashpy
from crashpy.api import Kernel, SymbolAt, Task, namespace, run_script, use_session
from crashpy.object import Object
from crashpy.program import Program
from crashpy.session import Session
from tests.crashpy_runner import program
from tests.kernel_facts import banner as kernel_banner
from tests.kernel_facts import release as kernel_release

DUMPS = ["sysrq.elf", "sysrq.d31.zlib"]


@pytest.fixture(scope="module", params=DUMPS)
def prog(request: pytest.FixtureRequest, dumps: dict[str, Path]) -> Kernel:
    return crashpy.open(str(dumps["vmlinux"]), str(dumps[request.param]))


# ---- opening ------------------------------------------------------------------------------------


def test_open_returns_a_kernel_that_is_a_program(prog: Kernel) -> None:
    assert isinstance(prog, Kernel) and isinstance(prog, Program)
    assert crashpy.Kernel is Kernel and crashpy.Task is Task and crashpy.Object is Object


def test_open_takes_paths(dumps: dict[str, Path]) -> None:
    prog = crashpy.api.open(dumps["vmlinux"], dumps["sysrq.elf"])
    assert prog.task(1).comm == "init"


def test_open_refuses_a_missing_file(dumps: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(crashpy.CrashpyError):
        crashpy.open(str(dumps["vmlinux"]), str(tmp_path / "nothing"))


def test_kernel_of_shares_the_program_state(dumps: dict[str, Path]) -> None:
    core = program(dumps["vmlinux"], dumps["sysrq.elf"])
    view = Kernel.of(core)
    assert view is not core and view.__dict__ is core.__dict__
    assert Kernel.of(view) is view
    assert view.symbols is core.symbols
    assert [t.pid for t in view.tasks()][:3] == [0, 0, 1]


def test_unknown_attribute_of_crashpy() -> None:
    with pytest.raises(AttributeError):
        crashpy.no_such_name  # noqa: B018


# ---- values -------------------------------------------------------------------------------------


def test_getitem(prog: Kernel) -> None:
    jiffies = prog["jiffies"]
    assert isinstance(jiffies, Object)
    assert jiffies.address_ == prog.symbol("jiffies").address
    assert int(jiffies) == prog.read_u64(jiffies.address_)
    assert "jiffies" in prog and "no_such_variable" not in prog and 5 not in prog
    with pytest.raises(KeyError):
        prog["no_such_variable"]


def test_member_attributes(prog: Kernel) -> None:
    init_task = prog["init_task"]
    assert init_task.comm.string_() == b"swapper/0"
    assert int(init_task.pid) == 0
    assert init_task.tasks.next.address_ == init_task.address_ + prog.offsetof("task_struct", "tasks")
    assert not hasattr(init_task, "no_such_member")
    with pytest.raises(crashpy.ObjectError):
        init_task.no_such_member  # noqa: B018
    with pytest.raises(AttributeError):
        init_task.no_such_member  # noqa: B018
    assert {"comm", "pid", "tasks", "mm"} <= set(dir(init_task))


def test_object_repr_shows_scalars(prog: Kernel) -> None:
    jiffies = prog["jiffies"]
    assert repr(jiffies) == f"<Object volatile unsigned long at 0x{jiffies.address_:x} = {int(jiffies)}>"
    nxt = prog["init_task"].tasks.next
    assert repr(nxt).endswith(f" = 0x{int(nxt):x}>")
    assert repr(prog["init_task"]) == f"<Object struct task_struct at 0x{prog['init_task'].address_:x}>"


def test_type_object_eval_per_cpu(prog: Kernel) -> None:
    assert prog.type("struct list_head").size == 16
    init_task = prog["init_task"]
    head = prog.object("struct list_head", init_task.tasks.address_)
    assert int(head.next) == int(init_task.tasks.next)
    ptr = prog.object("struct task_struct *", value=init_task.address_)
    assert ptr.comm.string_() == b"swapper/0"
    assert prog.object(prog.type("int"), value=-3).value_() == -3
    with pytest.raises(crashpy.ObjectError):
        prog.object("int")
    assert int(prog.eval("init_task.tasks.next")) == int(head.next)
    assert prog.eval("sizeof(struct task_struct)").value_() == prog.sizeof("task_struct")
    for cpu in range(2):
        assert int(prog.per_cpu("runqueues", cpu).cpu) == cpu


# ---- tasks --------------------------------------------------------------------------------------


def ps_table(text: str) -> list[tuple[bool, int, int, int, str, str, str]]:
    rows = []
    for line in text.splitlines()[1:]:
        pid, ppid, cpu, task, st, _pct, _vsz, _rss, comm = line[1:].split(None, 8)
        rows.append((line.startswith(">"), int(pid), int(ppid), int(cpu), task, st, comm))
    return rows


def test_tasks_equal_ps(prog: Kernel) -> None:
    tasks = prog.tasks()
    expected = ps_table(prog.run("ps"))
    mine = [
        (t.active, t.pid, t.ppid, t.cpu, f"{t.address:x}", t.st, f"[{t.comm}]" if t.kernel_thread else t.comm)
        for t in tasks
    ]
    assert mine == expected
    assert len(tasks) == prog.sysinfo().tasks


def test_task_lookups(prog: Kernel) -> None:
    init = prog.task(1)
    assert (init.pid, init.tgid, init.ppid, init.comm, init.kernel_thread) == (1, 1, 0, "init", False)
    assert prog.task(0).comm == "swapper/0"
    assert prog.task_at(init.address) == init and hash(prog.task_at(init.address)) == hash(init)
    assert init != prog.task(2)
    with pytest.raises(LookupError):
        prog.task(999999)
    with pytest.raises(LookupError):
        prog.task_at(0x1234)
    assert repr(init).startswith(f"Task(pid=1, comm='init', address=0x{init.address:x}")


def test_task_members(prog: Kernel) -> None:
    init = prog.task(1)
    assert init.obj.address_ is None and int(init.obj) == init.address
    assert isinstance(init.pid, int) and isinstance(init.comm, str)  # the fields are plain values
    assert int(init.mm.map_count) > 0
    assert int(init.obj.pid) == 1
    assert init.obj.comm.string_() == b"init"
    assert int(init.mm) == prog.read_u64(init.address + prog.offsetof("task_struct", "mm"))
    assert int(init.se.on_rq) in (0, 1)
    with pytest.raises(AttributeError):
        init._private  # noqa: B018
    assert not hasattr(init, "no_such_member")


def test_panic_task(prog: Kernel) -> None:
    panicked = prog.panic_task()
    assert panicked is not None and panicked.active
    assert panicked.pid == int(prog.run("set").split("PID:")[1].split()[0])


# ---- symbols and memory -------------------------------------------------------------------------


def test_symbol(prog: Kernel) -> None:
    sym = prog.symbol("schedule")
    assert sym.name == "schedule" and sym.type == "T"
    assert prog.run("sym schedule").split()[0] == f"{sym.address:x}"
    with pytest.raises(crashpy.CommandError):
        prog.symbol("no_such_symbol_at_all")


def test_symbol_at(prog: Kernel) -> None:
    sym = prog.symbol("schedule")
    at = prog.symbol_at(sym.address + 5)
    assert at == SymbolAt("schedule", sym.address, 5, "T", "")
    assert str(at) == "schedule+5" and str(prog.symbol_at(sym.address)) == "schedule"
    module = prog.modules()[0]
    at = prog.symbol_at(module.base + 0x10)
    assert at is not None and at.module == module.name
    line = prog.run(f"sym {module.base + 0x10:x}")
    assert f" {at} [{module.name}]" in line
    assert prog.symbol_at(0x1000) is None


def test_read(prog: Kernel, dumps: dict[str, Path]) -> None:
    banner = prog.symbol("linux_banner").address
    assert prog.read(banner, 13) == b"Linux version"
    assert prog.read_cstring(banner).startswith(f"Linux version {kernel_release()} ".encode())
    assert prog.read_cstring(banner) == kernel_banner(dumps["vmlinux"])
    with pytest.raises(crashpy.FaultError) as e:
        prog.read(0xFFFF_FFFF_FFFF_F000, 8)
    assert e.value.address == 0xFFFF_FFFF_FFFF_F000


# ---- log, modules, sysinfo ----------------------------------------------------------------------


def test_log(prog: Kernel) -> None:
    records = prog.log()
    assert records[0].seq == 0 and records[0].text.startswith(b"Linux version")
    text = prog.run("log -t").splitlines()
    assert text[0] == records[0].text.decode() and text[-1] == records[-1].text.decode()
    panic = [r for r in records if r.text.startswith(b"Kernel panic - not syncing")]
    assert panic and panic[0].text == b"Kernel panic - not syncing: sysrq triggered crash"
    assert [r.seq for r in records] == list(range(len(records)))


def test_modules(prog: Kernel) -> None:
    modules = prog.modules()
    rows = [line.split() for line in prog.run("mod").splitlines()[1:]]
    assert [(m.name, f"{m.struct_addr:016x}", f"{m.base:016x}", m.size) for m in modules] == [
        (r[1], r[0], r[2], int(r[3])) for r in rows
    ]


def test_sysinfo(prog: Kernel) -> None:
    info = prog.sysinfo()
    text = prog.run("sys")
    assert f"        CPUS: {info.cpus}" in text
    assert f"        DATE: {info.date}\n" in text
    assert f"      UPTIME: {info.uptime}\n" in text
    assert f"       TASKS: {info.tasks}\n" in text
    assert f"     RELEASE: {info.uts['release']}\n" in text
    assert f'       PANIC: "{info.panic}"' in text
    assert info.uts["release"] == kernel_release()


# ---- commands -----------------------------------------------------------------------------------


def test_run_is_the_command_text(prog: Kernel, dumps: dict[str, Path]) -> None:
    out = io.StringIO()
    Session(prog, out).run_line("sys")
    assert prog.run("sys") == out.getvalue()
    assert prog.run("sys | grep RELEASE").strip() == f"RELEASE: {kernel_release()}"
    assert prog.run("nosuchcommand") == "crash: command not found: nosuchcommand\n"
    assert prog.run("") == ""


def test_run_keeps_one_session(prog: Kernel) -> None:
    assert prog.session() is prog.session()
    prog.run("set 2")
    assert re.search(r"PID: 2\n", prog.run("set"))
    prog.run(f"set {prog.panic_task().pid}")  # type: ignore[union-attr]


def test_run_output_does_not_leak(prog: Kernel, capsys: pytest.CaptureFixture[str]) -> None:
    prog.run("eval 1")
    assert capsys.readouterr().out == ""


def test_use_session(dumps: dict[str, Path]) -> None:
    core = program(dumps["vmlinux"], dumps["sysrq.elf"])
    out = io.StringIO()
    session = Session(core, out)
    kernel = use_session(core, session)
    assert kernel.session() is session
    assert "decimal: 505" in kernel.run("eval 0x1f9")
    assert out.getvalue() == "" and session.out is out
    ns = namespace(core, session)
    assert ns["session"] is session and ns["crashpy"] is crashpy
    assert isinstance(ns["prog"], Kernel)


def test_run_never_pages(dumps: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The REPL's session pages on a terminal; `prog.run` inside `py` still gets the text back."""
    session = Session(program(dumps["vmlinux"], dumps["sysrq.elf"]), io.StringIO())
    kernel = use_session(session.prog, session)
    monkeypatch.setenv("CRASHPAGER", "cat > /dev/null")
    s = session.settings
    monkeypatch.setattr(s, "scroll", True)
    monkeypatch.setattr(s, "scroll_command", "CRASHPAGER")
    session.paging = True
    assert session.pager_command() == "cat > /dev/null"
    assert "decimal: 505" in kernel.run("eval 0x1f9")
    assert session.paging


# ---- scripts ------------------------------------------------------------------------------------


def test_run_script_code(prog: Kernel, capsys: pytest.CaptureFixture[str]) -> None:
    code = "import sys\nprint(prog.task(1).comm, sys.argv)\n"
    assert run_script(prog, code, ["a", "b"], code=True) == 0
    assert capsys.readouterr().out == "init ['-e', 'a', 'b']\n"
    assert run_script(prog, "import sys; sys.exit(7)", code=True) == 7
    assert run_script(prog, "raise SystemExit", code=True) == 0
    assert run_script(prog, "raise SystemExit('bye')", code=True) == 1
    assert capsys.readouterr().err == "bye\n"
    assert sys.argv[0] != "-e"


def test_run_script_file(prog: Kernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "count.py"
    script.write_text("import sys\nprint(len(prog.tasks()), sys.argv[1:], __file__ == sys.argv[0])\n")
    assert run_script(prog, str(script), ["-x"]) == 0
    assert capsys.readouterr().out == f"{len(prog.tasks())} ['-x'] True\n"


def test_run_script_errors(prog: Kernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.py"
    script.write_text("x = 1\nprog.task(999999)\n")
    assert run_script(prog, str(script), []) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and str(script) in err and "LookupError: no task with pid 999999" in err
    assert "crashpy/api.py" not in err.split(str(script))[0]
    assert run_script(prog, "def (", code=True) == 1
    assert "SyntaxError" in capsys.readouterr().err
    assert crashpy.run_script is run_script
