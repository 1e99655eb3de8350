"""set: crash's internal variables (radix, scroll, ...) and, once tasks exist, the task context.

The settings and the context live in the Session (session.settings, session.current_context()); this
command parses and prints them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.commands.registry import command
from crashpy.errors import CommandError
from crashpy.helpers.numbers import decimal, getopt, hexadecimal, htol, is_a_number, stol
from crashpy.helpers.tasks import TaskContext, TaskTable, state_verbose, str_to_context

if TYPE_CHECKING:
    from crashpy.session import Session, Settings

_PAGERS = {"less": "(/usr/bin/less)", "more": "(/bin/more)", "none": "(none)"}


def _pager(s: Settings) -> str:
    if s.scroll_command == "CRASHPAGER":
        import os

        return f"(CRASHPAGER: {os.environ.get('CRASHPAGER')})"
    return _PAGERS.get(s.scroll_command, "(none)")


def _onoff(v: bool) -> str:
    return "on" if v else "off"


def format_options(session: Session) -> str:
    """`set -v`: every variable and its value."""
    s = session.settings
    prog = session.prog
    radix = session.radix
    radix_name = "decimal" if radix == 10 else "hexadecimal" if radix == 16 else "unknown"
    if s.scope:
        from crashpy.symbols.crash_view import crash_symtab

        scope = f"{s.scope:x} ({crash_symtab(prog).value_to_symstr(s.scope, radix)})"
    else:
        scope = "0 (not set)"
    lines = [
        f"        scroll: {_onoff(s.scroll)} {_pager(s)}",
        f"         radix: {radix} ({radix_name})",
        f"       refresh: {_onoff(s.refresh)}",
        f"     print_max: {s.print_max}",
        f"   print_array: {_onoff(s.print_array)}",
        f"       console: {s.console or '(not assigned)'}",
        f"         debug: {s.debug}",
        f"          core: {_onoff(s.core)}",
        f"          hash: {_onoff(s.hash)}",
        f"        silent: {_onoff(s.silent)}",
        f"          edit: {s.edit}",
        f"      namelist: {getattr(prog, 'kernel_name', None) or prog.vmlinux_path}",
        f"      dumpfile: {prog.dump_path}",
        f"        unwind: {_onoff(s.unwind)}",
        f" zero_excluded: {_onoff(s.zero_excluded)}",
        f"     null-stop: {_onoff(s.null_stop)}",
        f"           gdb: {_onoff(s.gdb)}",
        f"         scope: {scope}",
        f"       offline: {'hide' if s.offline_hide else 'show'}",
        f"       redzone: {_onoff(s.redzone)}",
        f"         error: {s.error}",
    ]
    return "\n".join(lines) + "\n"


HELP = """\
NAME
  set - set a process context or internal crash variable

SYNOPSIS
  set [[-a] [pid | taskp] | [-c cpu] | -p] | [crash_variable [setting]] | -v

DESCRIPTION
  Sets a new task context, or shows the current one.  A context is chosen by:

      pid  a process ID.
    taskp  a hexadecimal task_struct address.
       -a  make the pid or task the active task on its cpu (dump files only).
   -c cpu  the active task on a cpu (dump files only).
       -p  the panic task.
       -v  show the state of the internal variables.

  Without an argument the current context is shown: the PID, the command, the
  task address, the CPU and the task state.

  The same command shows or changes an internal variable; with no value the
  current one is shown.  The variables, their values and their use:

          scroll  on | off     page long output.
          scroll  less         page with /usr/bin/less.
          scroll  more         page with /bin/more.
          scroll  CRASHPAGER   page with the program named by $CRASHPAGER.
           radix  10 | 16      the output radix: decimal or hexadecimal.
         refresh  on | off     refresh the task list as needed.
       print_max  number       the most array elements printed.
     print_array  on | off     print arrays one element a line.
         console  device-name  the debug console device.
           debug  number       the debug level.
            core  on | off     drop core at the next error message.
            hash  on | off     check lists for loops.
          silent  on | off     no start-up messages and no prompt while an input
                               file runs (and no scrolling).
            edit  vi | emacs   the line editing mode (.crashrc only).
        namelist  filename     the kernel file (.crashrc only).
   zero_excluded  on | off     read excluded or missing pages as zeros.
       null-stop  on | off     stop printing a char array at its first NUL.
             gdb  on | off     pass every command to gdb.
           scope  text-addr    the text address whose scope data types are
                               looked up in; "set scope 0" clears it.
         offline  show | hide  show or hide output about offline cpus.
         redzone  on | off     point slab object addresses at their red zone.
   error  default | redirect | filename   where error messages go.

  A variable may be set in $HOME/.crashrc, in ./.crashrc, in an input file,
  or with this command at any time; later settings win.  One command line
  may hold several variables and values.

EXAMPLES
  Show the internal variables:

    crash> set -v
            scroll: off (none)
             radix: 10 (decimal)
    ...

  Switch the output radix to hexadecimal:

    crash> set radix 16
    output radix: 16 (hex)
"""


def _invalid(args: list[str]) -> CommandError:
    return CommandError("invalid command: " + "".join(f"{a} " for a in ["set", *args]))


def _switch(value: str, args: list[str]) -> bool:
    """on | off | a number."""
    if value == "on":
        return True
    if value == "off":
        return False
    if is_a_number(value):
        v = stol(value)
        return bool(v)
    raise _invalid(args)


@command("set", summary="set a process context or internal crash variable", help=HELP, minimal=True)
def cmd_set(session: Session, args: list[str]) -> None:
    from crashpy.commands.help import print_usage

    s = session.settings
    parsed = getopt(args, "pvc:a:")
    for err in parsed.errors:
        session.println(f"set: {err}")
    if parsed.errors:
        print_usage(session, "set")
        return
    for opt, val in parsed.opts:
        if opt in "cpa":
            if session.minimal:
                raise CommandError(
                    f"-{opt} option not supported or applicable on this architecture or kernel"
                )
            _context_option(session, opt, val or "")
            return
        if opt == "v":
            session.write(format_options(session))
            return
    rest = parsed.args
    if not rest:
        if session.minimal:
            session.write(format_options(session))
            return
        session.write(format_context(session, session.current_context()))
        return
    name = rest[0]
    value = rest[1] if len(rest) > 1 else None
    out = session.println
    if name == "debug":
        if value is not None:
            if value in ("on", "off"):
                s.debug = int(value == "on")
            elif is_a_number(value):
                s.debug = stol(value) or 0
            else:
                raise _invalid(args)
        out(f"debug: {s.debug}")
    elif name == "hash":
        if value is not None:
            s.hash = _switch(value, args)
        out(f"hash: {_onoff(s.hash)}")
    elif name == "unwind":
        if value is not None:
            _switch(value, args)  # crash turns it on only for DWARF-unwind capable kernels
            s.unwind = False
        out(f"unwind: {_onoff(s.unwind)}")
    elif name == "refresh":
        if value is not None:
            s.refresh = _switch(value, args)
        out(f"refresh: {_onoff(s.refresh)}")
    elif name == "gdb":
        if value is not None:
            on = _switch(value, args)
            if on:
                # crashpy has no gdb to hand commands to.
                raise _invalid(args)
            s.gdb = False
        out(f"gdb: {_onoff(s.gdb)}")
    elif name == "scroll":
        if value is not None and s.scroll_command != "none":
            if value in ("less", "more"):
                s.scroll_command = value
            elif value == "CRASHPAGER":
                import os

                if os.environ.get("CRASHPAGER"):
                    s.scroll_command = "CRASHPAGER"
            else:
                s.scroll = _switch(value, args)
        out(f"scroll: {_onoff(s.scroll)} {_pager(s)}")
    elif name == "silent":
        if value is not None:
            s.silent = _switch(value, args)
            if s.silent:
                s.scroll = False
        if not s.silent:
            out("silent: off")
    elif name == "console":
        out("console: " + (f"assignment to {value} failed" if value is not None else "not set"))
    elif name == "core":
        if value is not None:
            s.core = _switch(value, args)
        out("core: " + ("on (drop core" if s.core else "off (do NOT drop core") + " on error message)")
    elif name == "radix":
        if value is not None:
            if value == "10" or value.startswith(("dec", "ten")):
                session.radix = 10
            elif value == "16" or value.startswith(("hex", "six")):
                session.radix = 16
            else:
                raise _invalid(args)
        out(f"output radix: {session.radix} ({'decimal' if session.radix == 10 else 'hex'})")
    elif name in ("hex", "dec"):
        session.radix = 16 if name == "hex" else 10
        out(f"output radix: {session.radix} ({'hex' if name == 'hex' else 'decimal'})")
    elif name == "edit":
        if value is not None:
            raise CommandError("cannot change editing mode during runtime")
        out(f"edit: {s.edit}")
    elif name == "vi":
        raise CommandError("cannot change editing mode during runtime")
    elif name == "emacs":
        raise CommandError(f"cannot change {s.edit} editing mode during runtime")
    elif name == "print_max":
        if value is not None:
            if decimal(value):
                s.print_max = int(value.strip()) & 0xFFFFFFFF
            elif hexadecimal(value):
                s.print_max = (htol(value.strip()) or 0) & 0xFFFFFFFF
            else:
                raise _invalid(args)
        out(f"print_max: {s.print_max}")
    elif name == "scope":
        if value is not None:
            raise CommandError("set scope needs gdb's symbol scopes: not available in crashpy")
        text = "(not set)" if not s.scope else f"({s.scope:x})"
        out(f"scope: {s.scope:x} {text}")
    elif name == "null-stop":
        if value is not None:
            s.null_stop = _switch(value, args)
        out(f"null-stop: {_onoff(s.null_stop)}")
    elif name == "print_array":
        if value is not None:
            s.print_array = _switch(value, args)
        out(f"print_array: {_onoff(s.print_array)}")
    elif name == "namelist":
        out(f"namelist: {getattr(session.prog, 'kernel_name', None) or session.prog.vmlinux_path}")
    elif name == "free":
        raise CommandError("set free is not available in crashpy")
    elif name == "data_debug":
        pass
    elif name == "zero_excluded":
        if value is not None:
            session.prog.zero_excluded = _switch(value, args)
        s.zero_excluded = bool(getattr(session.prog, "zero_excluded", False))
        out(f"zero_excluded: {_onoff(s.zero_excluded)}")
    elif name == "offline":
        if value is not None:
            if value == "show":
                s.offline_hide = False
            elif value == "hide":
                s.offline_hide = True
            else:
                raise _invalid(args)
        out(f"      offline: {'hide' if s.offline_hide else 'show'}")
    elif name == "redzone":
        if value is not None:
            s.redzone = _switch(value, args)
        out(f"redzone: {_onoff(s.redzone)}")
    elif name == "error":
        if value is not None:
            if value not in ("default", "redirect"):
                raise CommandError("set error <file> is not supported in crashpy")
            s.error = value
        out(f"error: {s.error}")
    elif session.minimal:
        raise CommandError("invalid argument in minimal mode")
    else:
        for arg in rest:
            table = session.task_table()
            kind, _value, tc = str_to_context(table, arg)
            if tc is None:
                session.println(f"set: invalid task or pid value: {arg}")
                continue
            session.context_task = tc.task
            session.write(format_context(session, tc))


# ---- the task context ------------------------------------------------------------------------------


def _active_marker(session: Session, table: TaskTable, tc: TaskContext) -> str:
    if tc.task not in session.active_tasks():
        return ""
    if table.sysrq and tc.task == table.panic_task:
        return "(SYSRQ)"
    if tc.task == table.panic_task:
        return "(PANIC)"
    return "(ACTIVE)"


def context_lines(session: Session, tc: TaskContext) -> list[str]:
    """crash's show_context(): PID, COMMAND, TASK, CPU and STATE of a task."""
    table = session.task_table()
    count = len(table.by_pid(tc.pid))
    of = f"(1 of {count})  " if count > 1 else ""
    return [
        f"    PID: {tc.pid}",
        f'COMMAND: "{tc.comm}"',
        f"   TASK: {tc.task:x}  {of}[THREAD_INFO: {tc.task:x}]",
        f"    CPU: {tc.cpu}",
        f"  STATE: {state_verbose(tc.state)} {_active_marker(session, table, tc)}",
    ]


def format_context(session: Session, tc: TaskContext, indent: int = 0) -> str:
    return "".join(" " * indent + line + "\n" for line in context_lines(session, tc))


def _context_option(session: Session, opt: str, val: str) -> None:
    table = session.task_table()
    if opt == "p":
        if not table.panic_task:
            session.println("set: no panic task found!")
            return
        session.context_task = table.panic_task
        session.write(format_context(session, table.panic_context()))
        return
    if opt == "c":
        if not decimal(val):
            raise CommandError(f"invalid decimal argument: {val}")
        cpu = int(val)
        active = session.active_set()
        ncpus = len(active)
        if cpu >= ncpus:
            raise CommandError(f"invalid cpu number: system has only {ncpus} cpu{'s' if ncpus > 1 else ''}")
        task = active[cpu]
        if task == session.current_context().task:
            return
        if task not in table.by_task:
            raise CommandError(f"cannot determine active task on cpu {cpu}")
        session.context_task = task
        session.write(format_context(session, table.by_task[task]))
        return
    # -a: make a task the active one of its cpu
    kind, value, tc = str_to_context(table, val)
    if tc is None:
        raise CommandError(f"invalid task or pid value: {val}")
    if kind == "pid" and len(table.by_pid(value)) > 1:
        raise CommandError(f"pid {value} has {len(table.by_pid(value))} tasks: use a task address")
    session.active_override[tc.cpu] = tc.task
    session.println(f'"{tc.comm}" task {tc.task:x} has been marked as the active task on cpu {tc.cpu}')
