"""crashpy triage: autopsy over ten dumps on 1 and 2 worker processes and on a Dask LocalCluster
gives the same JSON lines, in the order given; a bad dump is one error line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from crashpy.cli import triage

TEN = ["bug.elf", "null.elf", "sysrq.d31.zlib", "la57bug.d31.zlib", "warn.d31.zlib", "softlockup.d31.zlib",
       "hung.d31.zlib", "list.d31.zlib", "gpf.d31.zlib", "stack.d31.zlib"]


def _debuginfo(dumps: dict[str, Path]) -> str:
    # the vmlinux is <kernel>/usr/lib/debug/boot/vmlinux-<release>
    return str(dumps["vmlinux"].parent.parent)


def _triage(argv: list[str]) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = triage.main(argv, out.write)
    return status, out.getvalue().splitlines()


def test_finds_vmlinux_by_release(dumps: dict[str, Path]) -> None:
    assert triage.find_vmlinux(str(dumps["bug.elf"]), [_debuginfo(dumps)]) == str(dumps["vmlinux"])
    assert triage.find_vmlinux(str(dumps["bug.elf"]), ["/nonexistent"]) is None


def test_one_two_workers_and_dask_agree(dumps: dict[str, Path]) -> None:
    pytest.importorskip("distributed")
    paths = [str(dumps[n]) for n in TEN]
    common = ["--json", "--debuginfo", _debuginfo(dumps)]
    status1, one = _triage([*common, "--workers", "1", *paths])
    status2, two = _triage([*common, "--workers", "2", *paths])
    status3, dask = _triage([*common, "--local-cluster", "2", *paths])
    assert status1 == status2 == status3 == 0
    assert one == two == dask
    docs = [json.loads(line) for line in one]
    assert [d["dump"] for d in docs] == paths
    assert docs[0]["signature"] == docs[3]["signature"]  # bug.elf and la57bug.d31.zlib: the same bug
    assert len({d["signature"] for d in docs}) == 9


def test_a_bad_dump_is_one_error_line(dumps: dict[str, Path], tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a dump" * 100)
    status, lines = _triage(["--json", "--workers", "1", "--debuginfo", _debuginfo(dumps),
                             str(junk), str(dumps["null.elf"])])
    assert status == 1
    bad, good = (json.loads(line) for line in lines)
    assert bad["dump"] == str(junk) and "not a supported file format" in bad["error"]
    assert good["kind"] == "null-deref"


def test_summary_groups_by_signature(dumps: dict[str, Path]) -> None:
    status, lines = _triage(["--workers", "2", "--vmlinux", str(dumps["vmlinux"]), str(dumps["bug.elf"]),
                             str(dumps["la57bug.d31.zlib"]), str(dumps["null.elf"])])
    assert status == 0
    assert lines[0].split() == ["COUNT", "SIGNATURE", "KIND", "CULPRIT"]
    assert lines[1].split()[0] == "2" and lines[1].split()[2] == "bug"
    assert lines[4].split()[0] == "1" and lines[4].split()[2] == "null-deref"


def test_bad_usage_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert triage.main(["--workers", "x", "dump"]) == 2
    assert triage.main([]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["crashpy triage: argument --workers: invalid int value: 'x' (crashpy triage -h)",
                   "crashpy triage: no dump files given (crashpy triage -h)"]
