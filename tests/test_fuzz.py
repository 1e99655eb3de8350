"""Never a traceback, never a hang (issue 16): a seeded corpus of damaged dumps and of odd commands
(tools/fuzz.py). Each dump case opens a damaged copy of a real test dump with the debug vmlinux and
runs sys, log, ps, bt -a, kmem -i, rd and dis of the panic's RIP (a split dump's damaged part is opened
with its other part) in a process of its own; each command
case runs one random command line in a session on a real dump. Every case must end in crashpy's own
output or a one-line refusal: no `internal error` (crashpy's line for a bug, where a traceback would
be), no case over the time limit (10 s) or the memory limit (1 GiB)."""

from __future__ import annotations

from pathlib import Path

from tools import fuzz
from tools.fuzz_commands import fuzz_commands

DUMP_CASES = 300
COMMAND_CASES = 500


def test_dump_corpus(dumps: dict[str, Path], split_parts: list[Path], tmp_path: Path) -> None:
    seeds = {name: dumps[name] for name in fuzz.SEED_DUMPS}
    seeds.update(zip(fuzz.SPLIT_PARTS, split_parts, strict=True))
    outcomes = fuzz.fuzz_dumps(DUMP_CASES, 16, seeds, dumps["vmlinux"], dumps["oracle_crash.ko"], tmp_path)
    assert len(outcomes) == DUMP_CASES
    bad = [o for o in outcomes if o.result not in ("ok", "refused")]
    assert not bad, fuzz.summary(outcomes, "dump")
    refusals = [o.detail for o in outcomes if o.result == "refused"]
    assert all("\n" not in r.strip() for r in refusals)


def test_command_corpus(dumps: dict[str, Path]) -> None:
    outcomes = fuzz_commands(COMMAND_CASES, 16, dumps["vmlinux"], dumps["sysrq.d31.zlib"])
    assert len(outcomes) == COMMAND_CASES
    bad = [o for o in outcomes if o.result != "ok"]
    assert not bad, fuzz.summary(outcomes, "command")


def test_the_corpus_is_seeded(dumps: dict[str, Path]) -> None:
    seeds = {name: dumps[name] for name in fuzz.SEED_DUMPS}
    first = [c.name for c in fuzz.dump_cases(60, 5, seeds)]
    assert first == [c.name for c in fuzz.dump_cases(60, 5, seeds)]
    assert first != [c.name for c in fuzz.dump_cases(60, 6, seeds)]


def test_a_damaged_page_size_is_not_believed() -> None:
    """Found by the dump fuzzer (seed 3000, case 1867): VMCOREINFO's PAGESIZE=4096 damaged to 40 made
    kmem -i step through memory 40 bytes at a time (1.2 GB). x86_64's base page is 4096 bytes."""
    from crashpy.dumpfile.vmcoreinfo import VmcoreInfo

    assert VmcoreInfo(b"OSRELEASE=6.1.0\nPAGESIZE=40\n").page_size == 4096
    assert VmcoreInfo(b"PAGESIZE=\n").page_size == 4096
    assert VmcoreInfo(None).page_size == 4096


def test_damaged_vmcoreinfo_numbers_fall_back_to_x86_64s() -> None:
    """SECTION_SIZE_BITS and MAX_PHYSMEM_BITS size every memory-section walk and LENGTH() sizes reads:
    values that cannot be true (a damaged note) give way to x86_64's own."""
    from crashpy.dumpfile.vmcoreinfo import VmcoreInfo

    good = VmcoreInfo(b"NUMBER(SECTION_SIZE_BITS)=27\nNUMBER(MAX_PHYSMEM_BITS)=46\nLENGTH(mem_section)=2048\n")
    assert good.sparsemem(False) == (27, 46) and good.length("mem_section") == 2048
    for bad in (b"NUMBER(SECTION_SIZE_BITS)=3\n", b"NUMBER(SECTION_SIZE_BITS)=99999\n",
                b"NUMBER(MAX_PHYSMEM_BITS)=1000000000\n"):
        assert VmcoreInfo(bad).sparsemem(False) == (27, 46), bad
        assert VmcoreInfo(bad).sparsemem(True) == (27, 52), bad
    assert VmcoreInfo(b"NUMBER(SECTION_SIZE_BITS)=50\nNUMBER(MAX_PHYSMEM_BITS)=46\n").sparsemem(True) == (27, 46)
    assert VmcoreInfo(b"LENGTH(node_data)=99999999999\n").length("node_data") is None
    assert VmcoreInfo(b"LENGTH(node_data)=-1\n").length("node_data") is None
