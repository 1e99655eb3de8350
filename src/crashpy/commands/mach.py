"""mach: machine data (x86_64), with -m (the e820 memory map) and -c (each CPU's cpuinfo_x86);
swap: the swap devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashpy.arch.x86_64 import PAGE_SIZE, START_KERNEL_MAP
from crashpy.commands.registry import command
from crashpy.commands.rows import mkstring
from crashpy.errors import CommandError
from crashpy.helpers import machine, swap, sysinfo
from crashpy.helpers.numbers import getopt

PAGE_SHIFT = PAGE_SIZE.bit_length() - 1

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

MACH_SYNOPSIS = "mach [-m | -c -[xd] | -o]"
SWAP_SYNOPSIS = "swap  "

MACH_HELP = f"""\
NAME
  mach - machine specific data

SYNOPSIS
  {MACH_SYNOPSIS}

DESCRIPTION
  Without options: the machine type, memory size, CPU count and speed, HZ, page size,
  where the kernel's regions begin (direct map, vmalloc, vmemmap, kernel image,
  modules), and the size and per-CPU address of every IRQ and exception stack.

    -m  the firmware (e820) physical memory map: each range and its type.
    -c  every CPU's struct cpuinfo_x86, as the struct command shows it.
    -x  with -c: integers in hexadecimal.
    -d  with -c: integers in decimal.
    -o  not available for x86_64 in crash 8.0.6; answered as an invalid option.

EXAMPLES
  The physical memory map (its first lines, after the column header):

    crash> mach -m
    ...
    0000000000000000 - 0000000000001000  E820_RESERVED
    0000000000001000 - 000000000009fc00  E820_RAM
    ...
"""

SWAP_HELP = f"""\
NAME
  swap - swap device information

SYNOPSIS
  {SWAP_SYNOPSIS}

DESCRIPTION
  Lists every swap device or file in use: its swap_info_struct address, whether it is
  a partition or a file, its size, how much of it is used, its priority and its path.
  With no swap in use only the header line is shown.

EXAMPLES
    crash> swap
    SWAP_INFO_STRUCT    TYPE       SIZE       USED     PCT  PRI  FILENAME
"""

E820_TYPES = {1: "E820_RAM", 2: "E820_RESERVED", 3: "E820_ACPI", 4: "E820_NVS", 5: "E820_UNUSABLE"}
E820_HEADER = "      PHYSICAL ADDRESS RANGE         TYPE"
SWAP_HEADER = "SWAP_INFO_STRUCT    TYPE       SIZE       USED     PCT  PRI  FILENAME"


def usage(name: str, synopsis: str) -> str:
    return f'Usage:\n  {synopsis}\nEnter "help {name}" for details.\n'


def e820_type_name(value: int) -> str:
    """crash's names of the e820 types (PRAM 12 and RESERVED_KERN 128 outside its table)."""
    if value == 0:
        return "(invalid type)"
    if value in E820_TYPES:
        return E820_TYPES[value]
    return {12: "E820_PRAM", 128: "E820_RESERVED_KERN"}.get(value, f"type {value}")


def memmap_lines(session: Session) -> list[str]:
    return [E820_HEADER] + [
        f"{e.start:016x} - {e.end:016x}  {e820_type_name(e.type)}" for e in machine.e820_entries(session.prog)
    ]


def cpu_data_text(session: Session, radix: int) -> str:
    from crashpy.commands.struct import struct_text
    from crashpy.commands.whatis import STRUCT_REQUEST, arg_to_datatype
    from crashpy.expr.gdb import render_errors

    prog = session.prog
    code, dm = arg_to_datatype(session, "cpuinfo_x86")
    if code != 1 or dm is None:
        raise CommandError("invalid data structure reference: cpuinfo_x86")
    per_cpu = prog.has_symbol("cpu_info")
    cpus = sysinfo.crash_cpu_count(prog) if per_cpu else 1
    out = []
    for cpu in range(cpus):
        sep = "\n" if cpu else ""
        if not per_cpu:
            out.append("BOOT CPU:\n")
        elif session.settings.offline_hide and not cpu_online(session, cpu):
            out.append(f"{sep}CPU {cpu}: [OFFLINE]\n")
            continue
        else:
            out.append(f"{sep}CPU {cpu}:\n")
        text = struct_text(session, dm, STRUCT_REQUEST, machine.cpu_info(prog, cpu), radix or session.radix)
        out.append(render_errors(text, inline=True)[1])
    return "".join(out)


def cpu_online(session: Session, cpu: int) -> bool:
    """Whether `cpu` is in __cpu_online_mask (True when the mask cannot be read)."""
    prog = session.prog
    sym = prog.symbols.lookup("__cpu_online_mask")
    if sym is None:
        return True
    return bool(prog.read_u8(sym.address + cpu // 8) >> (cpu % 8) & 1)


def machine_stats_lines(session: Session) -> list[str]:
    # imported here: the unwinder's package is the larger part of this module's import time, and
    # mach -m, mach -c and swap do not need it
    from crashpy.unwind.stacks import THREAD_SIZE, stack_info

    prog = session.prog
    layout = prog.layout
    cpus = sysinfo.crash_cpu_count(prog)
    online = sysinfo.cpumask_weight(prog, "__cpu_online_mask")
    offline = cpus - online if online else 0
    hide = session.settings.offline_hide
    lines = [
        f"          MACHINE TYPE: {sysinfo.utsname(prog)['machine']}",
        f"           MEMORY SIZE: {sysinfo.format_memory(sysinfo.memory_bytes(prog), prog.vmcoreinfo.page_size)}",
        f"                  CPUS: {cpus}" + (f" [OFFLINE: {offline}]" if offline else ""),
    ]
    hyper = machine.hypervisor(prog)
    if hyper not in ("(undetermined)", "bare hardware"):
        lines.append(f"            HYPERVISOR: {hyper}")
    khz = prog.symbols.lookup("cpu_khz")
    mhz = prog.read_u32(khz.address) // 1000 if khz is not None else 0
    lines += [
        "       PROCESSOR SPEED: " + (f"{mhz} Mhz" if mhz else "(unknown)"),
        f"                    HZ: {sysinfo.hz(prog)}",
        f"             PAGE SIZE: {prog.vmcoreinfo.page_size}",
        f"   KERNEL VIRTUAL BASE: {layout.page_offset:x}",
        f"   KERNEL VMALLOC BASE: {layout.vmalloc_start:x}",
        f"   KERNEL VMEMMAP BASE: {layout.vmemmap_start:x}",
        f"      KERNEL START MAP: {START_KERNEL_MAP:x}",
        f"   KERNEL MODULES BASE: {layout.modules_start:x}",
        f"     KERNEL STACK SIZE: {THREAD_SIZE}",
    ]
    stacks = stack_info(prog)

    def offline_mark(cpu: int) -> str:
        return " [OFFLINE]" if hide and not cpu_online(session, cpu) else ""

    lines += [f"        IRQ STACK SIZE: {stacks.irq_size}", "            IRQ STACKS:"]
    for cpu in range(cpus):
        base = stacks.irq_base[cpu] if cpu < len(stacks.irq_base) else 0
        lines.append(f"{'CPU ' + str(cpu):>22}: {base:016x}{offline_mark(cpu)}")
    first = stacks.estacks[0] if stacks.estacks else []
    for i, es in enumerate(first):
        if es.base == 0:
            break
        lines.append(f"{es.name:>11} STACK SIZE: {es.size}")
        lines.append(f"{es.name + ' STACKS:':>23}")
        for cpu in range(cpus):
            if cpu >= len(stacks.estacks) or stacks.estacks[cpu][i].base == 0:
                break
            e = stacks.estacks[cpu][i]
            mark = "" if e.available else " [unavailable]"
            lines.append(f"{'CPU ' + str(cpu):>22}: {e.base:016x}{mark}{offline_mark(cpu)}")
    return lines


@command("mach", summary="machine specific data", help=MACH_HELP)
def cmd_mach(session: Session, argv: list[str]) -> None:
    parsed = getopt(argv, "cmxd")
    if parsed.errors:
        session.println(f"mach: {parsed.errors[0]}")
        session.write(usage("mach", MACH_SYNOPSIS))
        return
    radix = 0
    cflag = mflag = False
    for opt, _ in parsed.opts:
        if opt == "c":
            cflag = True
        elif opt == "m":
            mflag = True
            session.println("\n".join(memmap_lines(session)))
        elif opt in "xd":
            want = 16 if opt == "x" else 10
            if radix and radix != want:
                raise CommandError("-d and -x are mutually exclusive")
            radix = want
    if cflag:
        session.write(cpu_data_text(session, radix))
    if not cflag and not mflag:
        session.println("\n".join(machine_stats_lines(session)))


@command("swap", summary="swap device information", help=SWAP_HELP)
def cmd_swap(session: Session, argv: list[str]) -> None:
    parsed = getopt(argv, "")
    if parsed.errors:
        session.println(f"swap: {parsed.errors[0]}")
        session.write(usage("swap", SWAP_SYNOPSIS))
        return
    prog = session.prog
    if not prog.has_symbol("nr_swapfiles"):
        raise CommandError("nr_swapfiles doesn't exist in this kernel!")
    if not prog.has_symbol("swap_info"):
        raise CommandError("swap_info doesn't exist in this kernel!")
    session.println(SWAP_HEADER)
    for device in swap.swap_devices(prog):
        session.println(swap_line(prog, device))


def swap_line(prog: Program, device: swap.SwapDevice) -> str:
    """One device's line under SWAP_HEADER (crash's dump_swap_info): sizes in KB, the share used."""
    shift = PAGE_SHIFT - 10
    size, used = device.pages << shift, device.inuse_pages << shift
    pct = used * 100 // size if size else 0
    kind = "PARTITION" if swap.is_partition(prog, device) else "  FILE   "
    return (
        f"{mkstring(f'{device.address:x}', 16, 'cl')}  {kind} {mkstring(f'{size}k', 10, 'cr')} "
        f"{mkstring(f'{used}k', 10, 'cr')} {mkstring(f'{pct:2d}%', 4, 'cr')} {device.prio:>4d}  "
        f"{swap.swap_file_path(prog, device.swap_info)}"
    )
