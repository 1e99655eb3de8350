"""crashpy triage: autopsy over many dumps, on this machine's cores or on a Dask cluster.

    crashpy triage [--json] [--debuginfo DIR]... [--vmlinux FILE] [--workers N] dump...
    crashpy triage --scheduler tcp://host:8786 ...     # a running dask.distributed scheduler
    crashpy triage --local-cluster N ...               # a dask LocalCluster of N worker processes

Each dump is one job, in a worker: its vmlinux found by the kernel release and build ID its
VMCOREINFO names, in the --debuginfo directories (default /usr/lib/debug) and beside the dump (none
found: the dump alone, its kallsyms, BTF and ORC); then the dump opened, explained (analysis/autopsy.py), closed; a dump that cannot be opened or explained is one line with
an "error", never the end of the run.  The JSON lines come out in the order the dumps were given,
whoever ran them, then a summary groups the dumps by signature.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from crashpy.errors import CrashpyError

DEFAULT_DEBUGINFO = ["/usr/lib/debug"]
Job = tuple[str, str | None, list[str]]  # a dump, the vmlinux given for it, where to look for one

USAGE = """\
Usage: crashpy triage [--json] [--debuginfo DIR]... [--vmlinux FILE]
                      [--workers N | --scheduler ADDRESS | --local-cluster N] dumpfile...

Run autopsy on each dump and group the dumps by crash signature.

  --json             one JSON line per dump (autopsy's document, with "dump" and "vmlinux"), in the
                     order given; the summary goes to standard error
  --debuginfo DIR    where to look for each dump's vmlinux, by its release or build ID (repeatable;
                     default /usr/lib/debug); a vmlinux beside the dump is found too; a dump
                     whose vmlinux is not found is explained from its own kallsyms and BTF
  --vmlinux FILE     the vmlinux of every dump
  --workers N        worker processes on this machine (default: one per core)
  --scheduler ADDR   run on a dask.distributed cluster (`dask scheduler` / `dask worker`);
                     needs the fleet extra: pip install 'crashpy[fleet]'
  --local-cluster N  start a dask LocalCluster of N worker processes for this run
"""


def _parser() -> argparse.ArgumentParser:
    from crashpy.cli.main import Parser

    p = Parser(prog="crashpy triage", add_help=False, allow_abbrev=False)
    p.add_argument("dumps", nargs="*")
    p.add_argument("-h", "--help", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--debuginfo", action="append", default=[])
    p.add_argument("--vmlinux")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--scheduler")
    p.add_argument("--local-cluster", type=int, default=0)
    return p


# ---- finding each dump's vmlinux --------------------------------------------------------------------


def dump_identity(dump: str) -> tuple[str | None, str | None]:
    """(kernel release, build ID) from the dump's VMCOREINFO; Nones when it has none."""
    from crashpy.dumpfile.sniff import open_dump
    from crashpy.dumpfile.vmcoreinfo import VmcoreInfo

    d = open_dump(dump)
    try:
        info = VmcoreInfo(d.info.vmcoreinfo)
        return info.osrelease, info.build_id
    finally:
        d.close()


def find_vmlinux(dump: str, dirs: Iterable[str]) -> str | None:
    """The debug vmlinux for `dump`: by build ID (.build-id/xx/rest.debug), then by release
    (boot/vmlinux-R, vmlinux-R, lib/modules/R/vmlinux, R/vmlinux) under each directory, then a vmlinux
    (or vmlinux-R) beside the dump."""
    release, build_id = dump_identity(dump)
    candidates: list[Path] = []
    for d in map(Path, dirs):
        if build_id:
            candidates.append(d / ".build-id" / build_id[:2] / f"{build_id[2:]}.debug")
        if release:
            candidates += [d / "boot" / f"vmlinux-{release}", d / f"vmlinux-{release}",
                           d / "lib" / "modules" / release / "vmlinux", d / release / "vmlinux"]
    beside = Path(dump).resolve().parent
    candidates += [beside / "vmlinux"] + ([beside / f"vmlinux-{release}"] if release else [])
    for c in candidates:
        if c.is_file():
            return str(c)
    return None


# ---- one dump -------------------------------------------------------------------------------------------


def triage_one(dump: str, vmlinux: str | None, debuginfo: list[str]) -> dict[str, Any]:
    """autopsy's JSON document for one dump, with "dump" and "vmlinux" (the one given, else the one
    found under `debuginfo`); {"dump", "vmlinux", "error"} when the dump cannot be opened or explained.
    Runs in a worker process (or a Dask worker)."""
    import crashpy
    from crashpy.analysis.autopsy import autopsy
    from crashpy.commands.autopsy import document

    result: dict[str, Any] = {"dump": dump, "vmlinux": vmlinux}
    if vmlinux is None:
        try:
            vmlinux = result["vmlinux"] = find_vmlinux(dump, debuginfo)
        except CrashpyError as e:
            result["error"] = str(e)
            return result
        except OSError as e:
            result["error"] = f"{dump}: {e.strerror}"
            return result
    try:
        prog = crashpy.open(vmlinux, dump)  # no vmlinux found: the dump's own kallsyms, BTF and ORC
        try:
            result.update(document(autopsy(prog)))
        finally:
            prog.close()
    except CrashpyError as e:
        result["error"] = str(e)
    except Exception as e:  # noqa: BLE001 - one bad dump is one error line, never the end of the run
        result["error"] = f"internal error: {type(e).__name__}: {e}"
    return result


# ---- running them -----------------------------------------------------------------------------------------


def run_local(jobs: list[Job], workers: int) -> list[dict[str, Any]]:
    """The jobs on `workers` processes of this machine, results in the jobs' order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # no state of this process leaks into the workers
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(triage_one, *zip(*jobs, strict=True))) if jobs else []


def run_dask(jobs: list[Job], scheduler: str | None, local_workers: int) -> list[dict[str, Any]]:
    """The jobs on a Dask cluster: the scheduler at `scheduler`, or a LocalCluster of `local_workers`
    worker processes started here; results in the jobs' order."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CrashpyError("dask.distributed is not installed (pip install 'crashpy[fleet]')") from None
    if not jobs:
        return []
    dumps, vmlinuxes, dirs = (list(x) for x in zip(*jobs, strict=True))
    if scheduler is not None:
        with Client(scheduler) as client:
            return list(client.gather(client.map(triage_one, dumps, vmlinuxes, dirs, pure=False)))
    with LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return list(client.gather(client.map(triage_one, dumps, vmlinuxes, dirs, pure=False)))


def summary(results: list[dict[str, Any]]) -> list[str]:
    """The dumps grouped by signature, the largest group first; failures last."""
    groups: dict[str, list[dict[str, Any]]] = {}
    errors = [r for r in results if "error" in r]
    for r in results:
        if "error" not in r:
            groups.setdefault(r["signature"], []).append(r)
    out = [f"{'COUNT':>5}  {'SIGNATURE':<16}  {'KIND':<15}  CULPRIT"]
    for sig, rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        first = rs[0]
        culprit = first["culprit"]
        where = "?"
        if culprit is not None:
            where = culprit["function"] + (f" [{culprit['module']}]" if culprit["module"] else "")
        out.append(f"{len(rs):>5}  {sig:<16}  {first['kind']:<15}  {where}")
        out += [f"{'':>5}  {'':<16}  {'':<15}    {r['dump']}" for r in rs]
    if errors:
        out.append(f"{len(errors):>5}  (failed)")
        out += [f"{'':>5}  {'':<16}  {'':<15}    {r['dump']}: {r['error']}" for r in errors]
    return out


def main(argv: list[str], out: Callable[[str], Any] | None = None) -> int:
    write = out or sys.stdout.write
    from crashpy.cli.main import UsageError

    try:
        args = _parser().parse_args(argv)
    except UsageError as e:
        sys.stderr.write(f"crashpy triage: {e} (crashpy triage -h)\n")
        return 2
    if args.help:
        write(USAGE)
        return 0
    if not args.dumps:
        sys.stderr.write("crashpy triage: no dump files given (crashpy triage -h)\n")
        return 2
    dirs = args.debuginfo or DEFAULT_DEBUGINFO
    jobs: list[Job] = [(dump, args.vmlinux, dirs) for dump in args.dumps]
    try:
        if args.scheduler or args.local_cluster:
            results = run_dask(jobs, args.scheduler, args.local_cluster or 1)
        else:
            results = run_local(jobs, args.workers or os.cpu_count() or 1)
    except CrashpyError as e:
        sys.stderr.write(f"crashpy triage: {e}\n")
        return 1
    table = summary(results)
    if args.json:
        for r in results:
            write(json.dumps(r, sort_keys=True) + "\n")
        sys.stderr.write("\n".join(table) + "\n")
    else:
        write("\n".join(table) + "\n")
    return 1 if any("error" in r for r in results) else 0
