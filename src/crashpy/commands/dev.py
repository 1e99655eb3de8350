"""dev: character and block devices, I/O port and memory resources, PCI devices, disk I/O in flight.

Laid out as crash 8.0.6's cmd_dev (dev.c: dump_chrdevs, dump_blkdevs_v3, do_io / do_resource_list,
do_pci2 / walk_devices / walk_buses, display_all_diskio); the kernel knowledge is in helpers/dev.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crashpy.commands.registry import command
from crashpy.commands.rows import hex_address, mkstring, no_arguments, reject_options
from crashpy.errors import CommandError
from crashpy.helpers import dev as devs
from crashpy.helpers.numbers import getopt
from crashpy.symbols.crash_view import crash_symtab

if TYPE_CHECKING:
    from crashpy.program import Program
    from crashpy.session import Session

VADDR_PRLEN = 16

HELP = """\
NAME
  dev - device data

SYNOPSIS
  dev [-i | -p | -d | -D ] [-V | -v index [file]]

DESCRIPTION
  Without options, lists the character devices the kernel registered (the
  major number, the name, the struct cdev and the file operations it
  uses) and then the block device majors (with the struct gendisk found
  for each and that disk's block device operations).

    -i  the I/O port and I/O memory resource trees: each struct resource,
        the range it claims and its name, children below their parent.
    -p  the PCI buses and the devices on each: the struct pci_dev, its
        domain:bus:slot.function name, class, vendor:device and PCI
        Express port type.
    -d  each disk: its major, struct gendisk, name, struct request_queue
        and the requests it has in flight, in total, reads and writes.
    -D  as -d, only the disks with requests in flight.
    -V  the device dumps a driver added to the vmcore (crashpy reads
        none: it says when the dump holds none).
    -v index [file]
        write one of those device dumps to a file (likewise).

  With --json, the devices of the plain listing as one document (see
  docs/json.md).

EXAMPLES
  The block devices of a guest with one virtio disk:

    crash> dev -d
    MAJOR GENDISK            NAME       REQUEST_QUEUE      TOTAL  READ WRITE
      254 ffff888004a47000   vda        ffff8880055712e8       0     0     0
"""



def _chrdev_text(prog: Program) -> str:
    header = f"CHRDEV    NAME           {mkstring('CDEV', VADDR_PRLEN, 'c')}  {mkstring('OPERATIONS', VADDR_PRLEN, 'l')}\n"
    rows = [(row.major, row.name, row.cdev, row.fops) for row in devs.char_devices(prog)]
    return _device_table(prog, header, rows)


def _blkdev_text(prog: Program) -> str:
    header = (
        f"BLKDEV    NAME           {mkstring('GENDISK', VADDR_PRLEN, 'cr')}  "
        f"{mkstring('OPERATIONS', VADDR_PRLEN, 'l')}\n"
    )
    rows = [(row.major, row.name or "(unknown)", row.gendisk, row.fops) for row in devs.block_devices(prog)]
    return _device_table(prog, header, rows)


def _device_table(prog: Program, header: str, rows: list[tuple[int, str, int, int]]) -> str:
    """dev's character or block device table: (major, name, cdev or gendisk, operations) per row."""
    out = [header]
    for major, name, addr, fops in rows:
        line = f" {major:3d}      {name:<13s} "
        if not fops:
            out.append(line + " " + mkstring("(none)", VADDR_PRLEN, "c") + "\n")
            continue
        sym = crash_symtab(prog).value_to_symstr(fops)
        out.append(line + f" {addr:{VADDR_PRLEN}x}  " + (sym or f"{fops:x}") + "\n")
    return "".join(out)


def _resource_lines(prog: Program, root: str) -> str:
    end = devs.resource_end(prog, root)
    size = 8 if end > 0xFFFF else 4
    width = size * 2 + 1
    out = [f"{mkstring('RESOURCE', VADDR_PRLEN, 'cl')}  {mkstring('RANGE', width, 'cl')}  NAME\n"]
    wrap = VADDR_PRLEN + 2 + width + 2
    for res in devs.resources(prog, root):
        head = f"{res.address:8x}  {res.start:0{size}x}-{res.end:0{size}x}"
        name = res.name
        if wrap + len(name) <= 80:
            out.append(f"{head}  {name}\n")
            continue
        # crash breaks a long name at the last blank that leaves it short enough
        excess = wrap + len(name) - 80
        cut = None
        for c, k in enumerate(range(len(name) - 1, 0, -1)):
            if name[k] == " " and c >= excess:
                cut = k
                break
        if cut is None:
            out.append(f"{head}  {name}\n")
        else:
            out.append(f"{head}  {name[:cut]}\n" + " " * wrap + name[cut + 1 :] + "\n")
    return "".join(out)


def _io_text(prog: Program) -> str:
    if not (prog.has_symbol("iomem_resource") and prog.has_symbol("ioport_resource")):
        return ""
    return _resource_lines(prog, "ioport_resource") + "\n" + _resource_lines(prog, "iomem_resource")


def _pci_dev_line(dev: devs.PciDev) -> str:
    return (
        f"  {mkstring(f'{dev.address:x}', VADDR_PRLEN, 'l')} {mkstring(dev.name, 12, 'c')} "
        f"{mkstring(dev.pci_class, 6, 'c')} {mkstring(dev.pci_id, 9, 'c')} {mkstring(dev.type, 10, 'c')}\n"
    )


def _pci_devices_text(prog: Program, bus: devs.PciBus) -> str:
    head = (
        f"{mkstring('PCI DEV', VADDR_PRLEN, 'c')} {mkstring('DO:BU:SL.FN', 12, 'c')} "
        f"{mkstring('CLASS', 6, 'c')} {mkstring('PCI_ID', 9, 'c')}"
    )
    if prog.has_member("pci_dev", "pcie_flags_reg"):
        head += " " + mkstring("TYPE", 10, "c")
    out = [f"  {head}\n"]
    if bus.self_dev is not None:
        out.append(_pci_dev_line(bus.self_dev))
    out += [_pci_dev_line(d) for d in bus.devices]
    return "".join(out)


def _pci_buses_text(prog: Program, bus: devs.PciBus) -> str:
    out = []
    head = f"  {mkstring('PCI BUS', VADDR_PRLEN, 'c')} {mkstring('PARENT BUS', VADDR_PRLEN, 'c')}\n"
    for child in bus.children:
        out.append(head)
        out.append(
            f"  {mkstring(f'{child.address:x}', VADDR_PRLEN, 'l')} {mkstring(f'{child.parent:x}', VADDR_PRLEN, 'l')}\n"
        )
        out.append(_pci_devices_text(prog, child) + "\n")
        out.append(_pci_buses_text(prog, child))
    return "".join(out)


def _pci_text(prog: Program) -> str:
    out = []
    for root in devs.pci_root_buses(prog):
        out.append(f"{mkstring('ROOT BUS', VADDR_PRLEN, 'c')} {mkstring('BUSNAME', 7, 'c')}\n")
        out.append(f"{mkstring(f'{root.address:x}', VADDR_PRLEN, 'l')} {mkstring(root.name, 7, 'c')}\n")
        out.append(_pci_devices_text(prog, root))
        out.append(_pci_buses_text(prog, root))
        out.append("\n")
    return "".join(out)


def _diskio_text(session: Session, nonzero: bool) -> None:
    prog = session.prog
    if not prog.has_symbol("block_class"):
        raise CommandError("-d option not supported or applicable on this architecture or kernel")
    sync = devs.diskio_has_sync_names(prog)
    drv = prog.has_member("request_queue", "in_flight")
    session.write(
        "MAJOR "
        + mkstring("GENDISK", VADDR_PRLEN + 2, "l")
        + " NAME       "
        + mkstring("REQUEST_QUEUE", VADDR_PRLEN + 2, "l")
        + " "
        + mkstring("TOTAL", 5, "r")
        + " "
        + mkstring("ASYNC" if sync else "READ", 5, "r")
        + " "
        + mkstring("SYNC" if sync else "WRITE", 5, "r")
        + " "
        + (mkstring("DRV", 5, "r") if drv else "")
        + "\n"
    )
    for row in devs.disk_io(prog):
        if nonzero and row.read + row.write == 0:
            continue
        line = (
            f"{row.major:5d} {mkstring(f'{row.gendisk:x}', VADDR_PRLEN, 'l')}   {mkstring(row.name, 10, 'l')} "
            f"{mkstring(f'{row.queue:x}', VADDR_PRLEN, 'l')}   {(row.read + row.write) & 0xFFFFFFFF:5d} "
            f"{row.read & 0xFFFFFFFF:5d} {row.write & 0xFFFFFFFF:5d} "
        )
        if drv:
            line += "N/A(MQ)" if row.mq else f"{(row.driver or 0) & 0xFFFFFFFF:5d}"
        session.write(line + "\n")


def _usage(session: Session) -> None:
    from crashpy.commands.help import print_usage

    print_usage(session, "dev")


def dev_document(session: Session, args: list[str]) -> dict[str, Any]:
    """`dev --json`: the character and block devices of the plain listing."""
    parsed = getopt(args, "dDpiVv:")
    reject_options(parsed, "")  # the document is plain dev's rows: every option selects something else
    no_arguments(parsed.args)
    prog = session.prog
    chars = [
        {
            "major": r.major,
            "name": r.name,
            "cdev": hex_address(r.cdev) if r.fops else None,
            "operations": (crash_symtab(prog).value_to_symstr(r.fops) or hex_address(r.fops)) if r.fops else None,
        }
        for r in devs.char_devices(prog)
    ]
    blocks = [
        {
            "major": r.major,
            "name": r.name,
            "gendisk": hex_address(r.gendisk) if r.fops else None,
            "operations": (crash_symtab(prog).value_to_symstr(r.fops) or hex_address(r.fops)) if r.fops else None,
        }
        for r in devs.block_devices(prog)
    ]
    return {"character_devices": chars, "block_devices": blocks}


@command("dev", summary="device data", help=HELP, json=dev_document)
def cmd_dev(session: Session, args: list[str]) -> None:
    prog = session.prog
    parsed = getopt(args, "dDpiVv:")
    argerrs = 0
    errors = iter(parsed.errors)
    dump_index: int | None = None
    for c, optarg in parsed.opts:
        if c == "?":
            session.println(f"dev: {next(errors, 'invalid option')}")
            argerrs += 1
        elif c in "dD":
            _diskio_text(session, nonzero=c == "D")
            return
        if c == "i":
            session.write(_io_text(prog))
            return
        if c == "p":
            session.write(_pci_text(prog))
            return
        if c == "V":
            _device_dumps(prog)
            return
        if c == "v":
            dump_index = _atoi(optarg or "")
    if argerrs:
        _usage(session)
        return
    outputs = 0
    for _arg in parsed.args:
        if dump_index is not None and dump_index >= 0 and not outputs:
            outputs += 1
            continue
        _usage(session)
        return
    if dump_index is not None and dump_index >= 0:
        _device_dumps(prog)
        return
    session.write(_chrdev_text(prog) + "\n" + _blkdev_text(prog))


NT_VMCOREDD = 0x700  # a device driver's dump, kept as an ELF note of the vmcore


def _device_dumps(prog: Program) -> None:
    """`dev -V` / `dev -v`: crashpy lists no device dumps; crash's words when the dump has none."""
    if not any(note.type == NT_VMCOREDD for note in prog.dump.info.notes):
        raise CommandError("no device dumps found in this dumpfile")
    raise CommandError("device dumps (-V, -v) are not supported by crashpy")


def _atoi(s: str) -> int:
    """C's atoi(): the leading decimal digits (after blanks and a sign), 0 when none."""
    s = s.lstrip()
    sign = -1 if s.startswith("-") else 1
    s = s[1:] if s[:1] in "+-" else s
    digits = ""
    for ch in s:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0
