"""crashpy's Python API: a thin, typed, stable face over the Program and the helpers.

    import crashpy
    prog = crashpy.open("vmlinux", "vmcore")       # a crashpy.Kernel (a Program with the methods below)
    prog["jiffies"]                                # an Object: typed value at an address
    [t.comm for t in prog.tasks() if t.active]     # the task table, as ps shows it
    prog.task(1).mm.map_count                      # task_struct members through attribute access
    prog.symbol_at(0xffffffff81000000)             # "name+offset"
    prog.run("sys")                                # the text the command prints

Everything here is a wrapper of at most a few lines around a helper (crashpy.helpers.*) that the
commands print from, so `prog.tasks()` and `ps` never disagree; `prog.backtrace()` returns the frames
the unwinder (crashpy.unwind) records and `bt` writes as text.

NOTE for the command line (cli/main.py), `crashpy -e 'code' vmlinux vmcore` and
`crashpy script.py [args...] vmlinux vmcore`: open the Program as usual, then

    from crashpy.api import run_script
    status = run_script(prog, code, argv, code=True)        # -e 'code'
    status = run_script(prog, "script.py", argv)            # a script file; argv -> sys.argv[1:]

and exit with `status` (0: the script ran to its end; SystemExit's code when it called sys.exit;
1 when it raised, after its traceback went to stderr).
"""

from __future__ import annotations

import io
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import PROVIDERS
from crashpy.errors import CrashpyError
from crashpy.object import Object, ObjectError, object_for_symbol, per_cpu
from crashpy.program import Program

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crashpy.analysis.autopsy import Autopsy
    from crashpy.helpers.modules import LoadedModule
    from crashpy.helpers.printk import PrintkRecord
    from crashpy.helpers.sysinfo import SysInfo
    from crashpy.helpers.tasks import TaskContext
    from crashpy.session import Session
    from crashpy.types.model import Type
    from crashpy.unwind import Frame


@dataclass(frozen=True)
class SymbolAt:
    """The symbol an address falls in, as crash names it: `name` (+ `offset`) of `module` ("" for vmlinux)."""

    name: str
    address: int  # the symbol's own address
    offset: int  # how far into the symbol the looked-up address lies
    type: str  # nm's letter
    module: str = ""

    def __str__(self) -> str:
        return f"{self.name}+{self.offset}" if self.offset else self.name


@dataclass(frozen=True, eq=False)
class Task:
    """One task of the task table (`ps`'s row).  The fields are plain Python values; any other
    task_struct member is an Object reached through attribute access (`task.mm.map_count`,
    `task.se.vruntime`) or through `task.obj` (struct task_struct *)."""

    address: int  # struct task_struct *
    pid: int
    tgid: int
    ppid: int  # the parent's pid (-1 when the parent is not in the table)
    cpu: int
    comm: str
    state: int  # __state | exit_state
    st: str  # ps's two-letter state: RU, IN, UN, ZO, ...
    active: bool  # running on a CPU at the time of the dump (ps's ">")
    kernel_thread: bool  # PF_KTHREAD
    _prog: Kernel = field(repr=False, compare=False)

    @property
    def obj(self) -> Object:
        """This task as an Object: a struct task_struct * pointing at it."""
        return self._prog.object("struct task_struct *", value=self.address)

    def __getattr__(self, name: str) -> Object:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.obj, name)  # type: ignore[no-any-return]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Task) and other.address == self.address

    def __repr__(self) -> str:
        return (
            f"Task(pid={self.pid}, comm={self.comm!r}, address=0x{self.address:x}, cpu={self.cpu}, "
            f"st={self.st!r}{', active=True' if self.active else ''})"
        )

    def __hash__(self) -> int:
        return hash(self.address)


class Kernel(Program):
    """An opened dump with its kernel: the core Program (crashpy.program) plus the scripting methods.

    Being a Program, a Kernel can be handed to any helper (`crashpy.helpers.*`) as it is."""

    @classmethod
    def of(cls, prog: Program) -> Kernel:
        """`prog` as a Kernel: the same object when it already is one, otherwise a view that shares
        its state and caches (nothing is read twice)."""
        if isinstance(prog, Kernel):
            return prog
        view = cls.__new__(cls)
        view.__dict__ = prog.__dict__
        return view

    # ---- values ----------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Object:
        """The global variable (or function) `name` as an Object; KeyError when there is no such symbol."""
        if not self.has_symbol(name):
            raise KeyError(name)
        return object_for_symbol(self, name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has_symbol(name)

    def type(self, spelling: str) -> Type:
        """The type a C type name spells: "struct task_struct", "unsigned long *", "pid_t"."""
        from crashpy.expr import lookup_type

        return lookup_type(self, spelling)

    def object(self, type: str | Type, address: int | None = None, *, value: int | None = None) -> Object:
        """An Object of `type` (a C type name or a Type) at `address` in kernel memory, or holding `value`."""
        t = self.type(type) if isinstance(type, str) else type
        if address is None and value is None:
            raise ObjectError("an Object needs an address or a value")
        return Object(self, t, address, value)

    def eval(self, expression: str) -> Object:
        """The value of a C expression, as `p` evaluates it: prog.eval("init_task.tasks.next")."""
        from crashpy.expr import evaluate

        return evaluate(self, expression)

    def per_cpu(self, name: str, cpu: int) -> Object:
        """CPU `cpu`'s instance of per-CPU variable `name`."""
        return per_cpu(self, name, cpu)

    # ---- symbols ---------------------------------------------------------------------------------

    def symbol_at(self, address: int) -> SymbolAt | None:
        """The kernel or module symbol `address` lies in, as `sym` names it; None when none does."""
        from crashpy.symbols.crash_view import crash_symtab

        found = crash_symtab(self).value_search(address)
        if found is None:
            return None
        sym, offset = found
        return SymbolAt(sym.name, sym.value, offset, sym.type, sym.module)

    # ---- tasks -----------------------------------------------------------------------------------

    def _task(self, tc: TaskContext) -> Task:
        from crashpy.helpers.tasks import task_table

        table = task_table(self)
        return Task(
            address=tc.task,
            pid=tc.pid,
            tgid=tc.tgid,
            ppid=table.ppid(tc),
            cpu=tc.cpu,
            comm=tc.comm,
            state=tc.state,
            st=tc.st,
            active=table.is_active(tc.task),
            kernel_thread=tc.is_kernel_thread,
            _prog=self,
        )

    def tasks(self) -> list[Task]:
        """Every task, in ps's order (by pid; the idle tasks, pid 0, by CPU)."""
        from crashpy.helpers.tasks import task_table

        return [self._task(tc) for tc in task_table(self).contexts]

    def task(self, pid: int) -> Task:
        """The task with this pid (pid 0: CPU 0's idle task); LookupError when there is none."""
        from crashpy.helpers.tasks import task_table

        found = task_table(self).by_pid(pid)
        if not found:
            raise LookupError(f"no task with pid {pid}")
        return self._task(found[0])

    def task_at(self, address: int) -> Task:
        """The task whose task_struct is at `address`; LookupError when it is not in the task table."""
        from crashpy.helpers.tasks import task_table

        tc = task_table(self).by_task.get(address)
        if tc is None:
            raise LookupError(f"no task at {address:x}")
        return self._task(tc)

    def panic_task(self) -> Task | None:
        """The task that panicked (the active task of the panicking CPU), as crash picks it."""
        from crashpy.helpers.tasks import task_table

        table = task_table(self)
        tc = table.by_task.get(table.panic_task)
        return self._task(tc) if tc is not None else None

    def backtrace(self, task: Task | int | None = None) -> list[Frame]:
        """The frames `bt` shows for a task (a Task, a pid, or None for the panic task), innermost
        first: level, sp (the stack slot of the return address), pc, function, offset, module.
        The exception frames and the rest of the trace: crashpy.unwind.unwind()."""
        from crashpy.helpers.tasks import task_table
        from crashpy.unwind import unwind

        table = task_table(self)
        if task is None:
            address = table.panic_task
        elif isinstance(task, Task):
            address = task.address
        else:
            address = self.task(task).address
        tc = table.by_task.get(address)
        if tc is None:
            raise LookupError(f"no task context at {address:#x}")
        result = unwind(self, tc)
        if result.error and not result.frames:
            raise LookupError(f"bt: {result.error}")
        return result.frames

    # ---- subsystems ------------------------------------------------------------------------------

    def log(self) -> list[PrintkRecord]:
        """The kernel log's records, oldest first (text, ts_nsec, level, caller_id, ...); records that
        could not be read are left out (`log` names them)."""
        from crashpy.helpers.printk import read_printk_log

        return read_printk_log(self).records

    def modules(self) -> list[LoadedModule]:
        """The loaded modules, by base address (name, struct_addr, base, size, ...)."""
        from crashpy.helpers.modules import module_symtab

        return list(module_symtab(self).modules)

    def sysinfo(self) -> SysInfo:
        """What `sys` shows: CPU count, date, uptime, load average, utsname, memory, panic message."""
        from crashpy.helpers import printk, sysinfo

        try:
            lines: list[str] = self.cache("printk.text_lines", lambda: printk.text_lines(self))
        except CrashpyError:
            lines = []
        return sysinfo.sysinfo(self, lines)

    def autopsy(self) -> Autopsy:
        """What `autopsy` finds: the kind of failure, the task, the culprit, the fault, the evidence,
        the per-kind details and the signature (crashpy/analysis/autopsy.py, docs/autopsy.md)."""
        from crashpy.analysis.autopsy import autopsy

        return autopsy(self)

    # ---- commands --------------------------------------------------------------------------------

    def session(self) -> Session:
        """The crash session `run` uses (one per Kernel: `set` contexts and radix carry over)."""
        from crashpy.session import Session

        found: Session | None = self.__dict__.get("_api_session")
        if found is None:
            found = Session(self, io.StringIO())
            self.__dict__["_api_session"] = found
        return found

    def run(self, command: str) -> str:
        """The text a crash command line prints (pipes and redirections included), errors in crash's
        one-line words as the prompt shows them."""
        session = self.session()
        saved, saved_paging = session.out, session.paging
        buf = io.StringIO()
        session.out, session.paging = buf, False  # the text comes back here, never through a pager
        try:
            session.run_line(command)
        finally:
            session.out, session.paging = saved, saved_paging
        return buf.getvalue()


def use_session(prog: Program, session: Session) -> Kernel:
    """`prog` as a Kernel whose `run` goes through `session` (the REPL's own, for `py`)."""
    kernel = Kernel.of(prog)
    kernel.__dict__["_api_session"] = session
    return kernel


def open(  # noqa: A001
    vmlinux: str | os.PathLike[str] | None,
    vmcore: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    kaslr: int | str | None = None,
    check: bool = True,
) -> Kernel:
    """Open `vmcore` (a dump file, or a list of a split dump's parts) with its debug `vmlinux` and
    return a Kernel.  `kaslr`: the KASLR offset, or
    "auto" to find it in the dump; `check`: refuse a vmlinux that is not the dump's kernel.  A kernel
    without symbols (a bzImage, a stripped vmlinux) may stand for `vmlinux`: symbols then come from the
    dump's kallsyms, and the image supplies the kernel's read-only pages the dump lacks."""
    from crashpy.loader import open_program

    parts = [vmcore] if isinstance(vmcore, (str, os.PathLike)) else list(vmcore)
    dumps = [os.fspath(p) for p in parts]
    prog = open_program(
        os.fspath(vmlinux) if vmlinux is not None else None, dumps, kaslr=kaslr, check=check
    )
    prog.__class__ = Kernel
    assert isinstance(prog, Kernel)
    return prog


# ---- scripts -------------------------------------------------------------------------------------


def namespace(prog: Program, session: Session | None = None) -> dict[str, Any]:
    """The names a script or `py` sees: prog (a Kernel), session, crashpy, Object."""
    import crashpy

    kernel = use_session(prog, session) if session is not None else Kernel.of(prog)
    return {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "prog": kernel,
        "session": session if session is not None else kernel.session(),
        "crashpy": crashpy,
        "Object": Object,
    }


PROVIDERS["py.namespace"] = namespace  # the `py` command's globals (commands may not import this layer)


def _print_user_traceback(exc: BaseException, filename: str) -> None:
    """The traceback of `exc` from the user's code down (crashpy's own frames above it left out)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != filename:
        tb = tb.tb_next
    sys.stderr.write("".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__)))


def run_script(
    prog: Program,
    path_or_code: str,
    argv: list[str] | None = None,
    *,
    code: bool | None = None,
    session: Session | None = None,
) -> int:
    """Run a Python script (a file, or the text itself with code=True; when code is None, a path to an
    existing file is a file) with `prog`, `session` and `crashpy` bound; sys.argv is
    [script, *argv] while it runs.  Returns an exit status: 0, SystemExit's code, or 1 after an
    exception (its traceback, from the script's frames down, goes to stderr)."""
    is_code = code if code is not None else not os.path.isfile(path_or_code)
    if is_code:
        filename, source = "<crashpy -e>", path_or_code
    else:
        filename = path_or_code
        source = Path(path_or_code).read_text(encoding="utf-8")
    ns = namespace(prog, session)
    if not is_code:
        ns["__file__"] = filename
    saved_argv = sys.argv
    sys.argv = [filename if not is_code else "-e", *(argv or [])]
    try:
        compiled: CodeType = compile(source, filename, "exec")
        exec(compiled, ns)
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        sys.stderr.write(f"{e.code}\n")
        return 1
    except SyntaxError as e:
        sys.stderr.write("".join(traceback.format_exception_only(type(e), e)))
        return 1
    except Exception as e:  # the user's bug: their traceback, then a non-zero status
        _print_user_traceback(e, filename)
        return 1
    finally:
        sys.argv = saved_argv
        sys.stdout.flush()
    return 0


__all__ = ["Kernel", "SymbolAt", "Task", "namespace", "open", "run_script", "use_session"]
