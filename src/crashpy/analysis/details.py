"""autopsy's findings for each kind of failure: what the kernel keeps about it besides the log.

- a lockup: the stuck CPU (the log's report, and the soft-lockup watchdog's per-CPU timestamps against
  the CPU's run-queue clock), the task it runs and what that task was doing when interrupted;
- a hung task: the blocked task (the log's report, else the uninterruptible task asleep longest), how
  long, the lock it waits on (found on its stack: a mutex or rw_semaphore whose wait list holds this
  task's waiter) and the lock's owner;
- a page fault or general protection fault: the address and access, the kernel's record (the report's
  CR2 and #PF lines) beside the address worked out from the instruction and its registers;
- list corruption: the nodes the report names, read back with their pointers;
- out of memory: the largest memory users and the memory state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.analysis.evidence import LogEvidence, hex_values
from crashpy.errors import CrashpyError

if TYPE_CHECKING:
    from crashpy.analysis.autopsy import Autopsy
    from crashpy.helpers.tasks import TaskContext, TaskTable
    from crashpy.program import Program
    from crashpy.unwind.records import Backtrace

# What each taint bit means (include/linux/panic.h), in short.
TAINT_NAMES = {
    0: "proprietary module", 1: "module force-loaded", 2: "SMP with a CPU not designed for it",
    3: "module force-unloaded", 4: "machine check", 5: "bad page", 6: "tainted by user space",
    7: "kernel died (oops)", 8: "ACPI table overridden", 9: "warning issued", 10: "staging driver",
    11: "firmware bug worked around", 12: "out-of-tree module", 13: "unsigned module",
    14: "soft lockup", 15: "live patched", 16: "auxiliary taint", 17: "struct randomization plugin",
    18: "test taint",
}
TASK_UNINTERRUPTIBLE = 0x2
TASK_NOLOAD = 0x400
LIST_POISON = {0xDEAD000000000100: "LIST_POISON1", 0xDEAD000000000122: "LIST_POISON2"}
SLAB_POISON = {0x6B6B6B6B6B6B6B6B: "freed slab object poison (POISON_FREE)",
               0x5A5A5A5A5A5A5A5A: "uninitialised slab object poison (POISON_INUSE)"}


def taint_letters(prog: Program, mask: int) -> tuple[str, list[str]]:
    """A taint mask as the kernel's letters (its taint_flags[] table) and as words."""
    from crashpy.helpers.sysopts import taint_flag_letters

    table = taint_flag_letters(prog)
    bits = [bit for bit in range(64) if mask >> bit & 1]
    letters = "".join(table[bit][0] if bit < len(table) else "?" for bit in bits) if table else ""
    return letters, [TAINT_NAMES.get(bit, f"taint bit {bit}") for bit in bits]


def trace_of(prog: Program, tc: TaskContext) -> Backtrace | None:
    """The task's backtrace as `bt` finds it, or None when it cannot be read."""
    from crashpy.unwind import unwind

    try:
        return unwind(prog, tc)
    except CrashpyError:
        return None


def _task_text(tc: TaskContext) -> dict[str, Any]:
    return {"pid": tc.pid, "comm": tc.comm, "task": tc.task, "cpu": tc.cpu}


def symbol_at(prog: Program, address: int) -> tuple[str, int, str | None] | None:
    """(symbol, offset, module or None) of an address, as crash's value_search() finds it."""
    from crashpy.symbols.crash_view import crash_symtab

    found = crash_symtab(prog).value_search(address)
    if found is None:
        return None
    sym, offset = found
    return sym.name, offset, sym.module or None


def symbol_name(prog: Program, address: int) -> str | None:
    """`name+offset [module]` of an address, or None."""
    found = symbol_at(prog, address)
    if found is None:
        return None
    name, offset, module = found
    return (f"{name}+{offset}" if offset else name) + (f" [{module}]" if module else "")


# ---- lockups ---------------------------------------------------------------------------------------


def watchdog_stuck_seconds(prog: Program) -> dict[int, int]:
    """Seconds since each CPU's soft-lockup watchdog was last touched: the run-queue clock (ns) over
    2^30, less watchdog_touch_ts (kernel/watchdog.c keeps both in those units); {} when the kernel has
    no such per-CPU variable."""
    from crashpy.object import object_for_symbol, per_cpu

    if not prog.has_symbol("watchdog_touch_ts") or not prog.has_symbol("runqueues"):
        return {}
    result = {}
    touch = object_for_symbol(prog, "watchdog_touch_ts")
    rqs = object_for_symbol(prog, "runqueues")
    for cpu in range(len(prog.percpu_offsets)):
        try:
            touched = int(per_cpu(prog, touch, cpu))
            now = int(per_cpu(prog, rqs, cpu).member_("clock")) >> 30
        except CrashpyError:
            continue
        if touched:
            result[cpu] = now - touched
    return result


def lockup(prog: Program, table: TaskTable, log: LogEvidence, ev: Autopsy, tc: TaskContext | None,
           trace: Backtrace | None) -> tuple[TaskContext | None, Backtrace | None]:
    """The stuck CPU's task and trace (a soft or hard lockup)."""
    head = log.of_kind(ev.kind)
    cpu: int | None = None
    if head is not None:
        cpu = int(head.fields["cpu"])
        if "seconds" in head.fields:
            ev.details["stuck_seconds"] = int(head.fields["seconds"])
    stuck = watchdog_stuck_seconds(prog) if ev.kind == "soft-lockup" else {}
    if stuck:
        worst = max(stuck, key=lambda c: stuck[c])
        ev.details["watchdog_seconds"] = stuck
        ev.evidence.append(f"the soft-lockup watchdog last ran on CPU {worst} {stuck[worst]} s before the "
                           "dump (watchdog_touch_ts against the CPU's run-queue clock)")
        if cpu is None:
            cpu = worst
    if cpu is None:
        return tc, trace
    ev.details["cpu"] = cpu
    if 0 <= cpu < len(table.active) and table.active[cpu] in table.by_task:
        stuck_tc = table.by_task[table.active[cpu]]
        ev.details["task"] = _task_text(stuck_tc)
        return stuck_tc, trace_of(prog, stuck_tc) if stuck_tc is not tc else trace
    return tc, trace


# ---- hung tasks --------------------------------------------------------------------------------------


def _blocked_task(prog: Program, table: TaskTable) -> TaskContext | None:
    """The uninterruptible task that has not run for longest (its last_switch_time is the oldest)."""
    from crashpy.object import Object

    best: tuple[int, TaskContext] | None = None
    if not prog.has_member("task_struct", "last_switch_time"):
        return None
    for tc in table.contexts:
        if not tc.state & TASK_UNINTERRUPTIBLE or tc.state & TASK_NOLOAD:
            continue
        try:
            when = int(Object(prog, "struct task_struct", tc.task).member_("last_switch_time"))
        except CrashpyError:
            continue
        if best is None or when < best[0]:
            best = (when, tc)
    return best[1] if best else None


# (lock type, its wait list, the waiter type, the waiter's list member, its task member, owner member)
_LOCKS = [
    ("mutex", "wait_list", "mutex_waiter", "list", "task", "owner"),
    ("rw_semaphore", "wait_list", "rwsem_waiter", "list", "task", "owner"),
    ("semaphore", "wait_list", "semaphore_waiter", "list", "task", None),
]


def waited_lock(prog: Program, tc: TaskContext, stack_size: int = 16384) -> dict[str, Any] | None:
    """The lock `tc` sleeps on: a word on its stack that is a mutex, rw_semaphore or semaphore whose
    wait list's first waiter is this task's, with the owner the lock records (mutex, rwsem)."""
    from crashpy.object import Object

    try:
        base = int(Object(prog, "struct task_struct", tc.task).member_("stack"))
        words = prog.read(base, stack_size, what="the task's stack")
    except CrashpyError:
        return None
    candidates = {int.from_bytes(words[i : i + 8], "little") for i in range(0, len(words), 8)}
    kernel = [w for w in candidates if w >= 0xFFFF800000000000 and w & 7 == 0]
    for lock_t, wait_list, waiter_t, list_m, task_m, owner_m in _LOCKS:
        try:
            wl = prog.offsetof(lock_t, wait_list)
            wlist = prog.offsetof(waiter_t, list_m)
            wtask = prog.offsetof(waiter_t, task_m)
        except CrashpyError:
            continue
        for word in sorted(kernel):
            try:
                first = prog.read_u64(word + wl)
                if first == word + wl or first < 0xFFFF800000000000:
                    continue
                waiter = first - wlist
                if not base <= waiter < base + stack_size:
                    continue  # a waiter lives on its task's stack
                if prog.read_u64(waiter + wtask) != tc.task:
                    continue
                found: dict[str, Any] = {"type": lock_t, "address": word, "symbol": symbol_name(prog, word)}
                if owner_m is not None:
                    owner = prog.read_u64(word + prog.offsetof(lock_t, owner_m)) & ~0x7
                    found["owner"] = owner
                return found
            except CrashpyError:
                continue
    return None


def hung_task(prog: Program, table: TaskTable, log: LogEvidence, ev: Autopsy, tc: TaskContext | None,
              trace: Backtrace | None) -> tuple[TaskContext | None, Backtrace | None]:
    """The blocked task and its trace; the lock it waits on and who holds it."""
    from crashpy.helpers.sysinfo import hz
    from crashpy.object import Object

    head = log.of_kind("hung-task")
    blocked: TaskContext | None = None
    if head is not None:
        ev.details["blocked_seconds"] = int(head.fields["seconds"])
        found = table.by_pid(int(head.fields["pid"]))
        blocked = found[0] if found else None
    if blocked is None:
        blocked = _blocked_task(prog, table)
        if blocked is not None:
            ev.evidence.append(f"PID {blocked.pid} is the uninterruptible task that has not run for longest")
    if blocked is None:
        return tc, trace
    if tc is not None:
        ev.details["detected_by"] = _task_text(tc)
    ev.details["task"] = _task_text(blocked)
    try:
        switched = int(Object(prog, "struct task_struct", blocked.task).member_("last_switch_time"))
        jiffies = prog.read_u64(prog.symbol_address("jiffies"))
        if switched:
            ev.details["not_run_for_seconds"] = (jiffies - switched) // hz(prog)
    except CrashpyError:
        pass
    blocked_trace = trace_of(prog, blocked)
    lock = waited_lock(prog, blocked)
    if lock is not None:
        owner = lock.get("owner")
        holder = table.by_task.get(owner) if owner else None
        if holder is not None:
            lock["owner_task"] = _task_text(holder)
            holder_trace = trace_of(prog, holder)
            if holder_trace is not None:
                lock["owner_backtrace"] = [f.function for f in holder_trace.frames]
        ev.details["waits_on"] = lock
        name = lock["symbol"] or f"{lock['address']:x}"
        who = f", held by PID {holder.pid} ({holder.comm})" if holder is not None else ""
        ev.evidence.append(f"PID {blocked.pid} waits on the {lock['type']} {name}{who}: its waiter is "
                           "first on the lock's wait list")
    return blocked, blocked_trace


# ---- faults ------------------------------------------------------------------------------------------


def fault(ev: Autopsy, log: LogEvidence) -> None:
    """The faulting address and access: the kernel's report where it has one, else the instruction's."""
    from crashpy.analysis.autopsy import Fault

    head = log.of_kind(ev.kind) or log.of_kind("null-deref") or log.of_kind("page-fault") or log.of_kind("gpf")
    reported = head.fields.get("address") if head is not None else None
    computed = ev.fault
    if reported is not None:
        address = int(reported, 16)
        ev.fault = Fault(address, log.pf_access or (computed.access if computed else ""),
                         computed.instruction if computed else "", "log")
        if computed is not None and computed.address is not None:
            agree = "agrees" if computed.address == address else f"gives {computed.address:#x}"
            ev.evidence.append(f"the faulting instruction ({computed.instruction}) with its registers {agree}"
                               f" with the reported address {address:#x}")
    elif computed is not None and computed.address is not None:
        ev.evidence.append(f"the address {computed.address:#x} is worked out from the faulting instruction "
                           f"({computed.instruction}) and its registers")
        if ev.kind == "page-fault" and computed.address < 0x10000:
            ev.kind = "null-deref"
    if ev.fault is None:
        return
    if log.pf_reason:
        ev.fault.note = log.pf_reason
    a = ev.fault.address
    if a is not None:
        if a in LIST_POISON:
            ev.fault.note = (f"{LIST_POISON[a]}: the pointer of a list entry already removed by list_del()")
        elif a in SLAB_POISON:
            ev.fault.note = SLAB_POISON[a]
        elif ev.kind == "gpf" and 0x0000800000000000 <= a < 0xFFFF800000000000:
            ev.fault.note = "a non-canonical address"


def bug_or_warn(ev: Autopsy, log: LogEvidence) -> None:
    """A BUG() or WARN(): the file and line the kernel recorded for the ud2."""
    entry = ev.details.get("bug_entry")
    head = log.of_kind(ev.kind)
    if entry is not None:
        what = "WARN" if entry["warning"] else "BUG"
        ev.evidence.append(f"the ud2 at the exception's RIP is in the kernel's __bug_table: {what} at "
                           f"{entry['file']}:{entry['line']}")
    elif head is not None and "file" in head.fields and ev.culprit is not None and not ev.culprit.source:
        ev.culprit.source, ev.culprit.source_from = f"{head.fields['file']}:{head.fields['line']}", "log"


def list_corruption(prog: Program, ev: Autopsy, log: LogEvidence) -> None:
    """The list nodes the report names, read back: each one's next and prev and what they point at."""
    head = log.of_kind("list-corruption")
    if head is None:
        return
    ev.details["operation"] = head.fields.get("op", "")
    ev.details["report"] = head.line.strip()
    nodes = []
    for address in dict.fromkeys(hex_values(head.line)):
        node: dict[str, Any] = {"address": address, "symbol": symbol_name(prog, address)}
        try:
            node["next"] = prog.read_u64(address)
            node["prev"] = prog.read_u64(address + 8)
            node["next_symbol"] = symbol_name(prog, node["next"])
            node["prev_symbol"] = symbol_name(prog, node["prev"])
        except CrashpyError as err:
            node["error"] = str(err)
        nodes.append(node)
    ev.details["nodes"] = nodes
    for node in nodes:
        nxt = node.get("next")
        if nxt is None:
            continue
        try:
            back = prog.read_u64(nxt + 8)
        except CrashpyError:
            continue
        if back != node["address"]:
            ev.evidence.append(f"{node['symbol'] or hex(node['address'])}: next->prev is {back:#x}, not the "
                               "node itself")


def oom(prog: Program, table: TaskTable, ev: Autopsy, log: LogEvidence) -> None:
    """The largest memory users (by RSS, one line per process) and the memory state."""
    from crashpy.helpers.meminfo import free_pages, totalram_pages
    from crashpy.helpers.tasks import mem_usage

    head = log.of_kind("oom")
    if head is not None:
        ev.details["invoked_by"] = head.fields.get("comm", "")
    seen: set[int] = set()
    users: list[dict[str, Any]] = []
    for tc in table.contexts:
        if not tc.mm or tc.mm in seen:
            continue
        seen.add(tc.mm)
        try:
            usage = mem_usage(prog, table, tc)
        except CrashpyError:
            continue
        users.append({"pid": tc.pid, "comm": tc.comm, "rss_kb": usage.rss * 4, "vm_kb": usage.total_vm * 4})
    users.sort(key=lambda u: -u["rss_kb"])
    ev.details["largest"] = users[:5]
    try:
        total, free = totalram_pages(prog), free_pages(prog)
        ev.details["memory"] = {"total_kb": total * 4, "free_kb": free * 4}
        ev.evidence.append(f"{free * 4} kB of {total * 4} kB free; the largest user is "
                           + (f"PID {users[0]['pid']} ({users[0]['comm']}), {users[0]['rss_kb']} kB resident"
                              if users else "unknown"))
    except CrashpyError:
        pass
