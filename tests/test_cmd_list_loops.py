"""The list walks on synthetic memory: crash's end conditions, its duplicate-entry check, and -B."""

from __future__ import annotations

import pytest

from crashpy.errors import AddressSpace, FaultError, FaultKind
from crashpy.helpers.list import BrentNote, DuplicateEntry, InvalidListEntry, walk_list, walk_list_brent


class FakeProgram:
    """Just enough of a Program: 8-byte words at addresses."""

    def __init__(self, words: dict[int, int]) -> None:
        self.words = words

    def read(self, addr: int, size: int, space: AddressSpace = AddressSpace.KVADDR, what: str = "") -> bytes:
        if addr not in self.words:
            raise FaultError(addr, FaultKind.INVALID, AddressSpace.KVADDR, what)
        return self.words[addr].to_bytes(8, "little")


def chain(*links: tuple[int, int]) -> FakeProgram:
    return FakeProgram(dict(links))


def test_stops_at_null_start_and_first() -> None:
    prog = chain((0x100, 0x200), (0x200, 0x300), (0x300, 0))
    assert list(walk_list(prog, 0x100)) == [0x100, 0x200, 0x300]  # type: ignore[arg-type]
    prog = chain((0x100, 0x200), (0x200, 0x300), (0x300, 0x100))
    assert list(walk_list(prog, 0x100)) == [0x100, 0x200, 0x300]  # type: ignore[arg-type]
    # back to the first entry the start pointed to (the start itself is outside the circle)
    prog = chain((0x100, 0x200), (0x200, 0x300), (0x300, 0x200))
    assert list(walk_list(prog, 0x100)) == [0x100, 0x200, 0x300]  # type: ignore[arg-type]
    # -e end
    assert list(walk_list(prog, 0x100, end=0x300)) == [0x100, 0x200]  # type: ignore[arg-type]


def test_duplicate_entry_after_it_was_shown() -> None:
    # 0x100 -> 0x200 -> 0x300 -> 0x400 -> 0x300: a loop that misses the start and the first entry
    prog = chain((0x100, 0x200), (0x200, 0x300), (0x300, 0x400), (0x400, 0x300))
    shown: list[int] = []
    with pytest.raises(DuplicateEntry) as e:
        for entry in walk_list(prog, 0x100):  # type: ignore[arg-type]
            shown.append(entry)
    assert shown == [0x100, 0x200, 0x300, 0x400, 0x300]
    assert str(e.value) == "duplicate list entry: 300"


def test_null_in_a_list_head_list() -> None:
    prog = chain((0x100, 0x200), (0x200, 0))
    with pytest.raises(InvalidListEntry, match="invalid list entry: 0"):
        list(walk_list(prog, 0x100, head_format=True))  # type: ignore[arg-type]


def test_unreadable_next_pointer() -> None:
    prog = chain((0x100, 0x200))
    with pytest.raises(FaultError) as e:
        list(walk_list(prog, 0x100))  # type: ignore[arg-type]
    assert e.value.message() == 'invalid kernel virtual address: 200  type: "list entry"'
    with pytest.raises(FaultError, match="first list entry"):
        list(walk_list(prog, 0x500))  # type: ignore[arg-type]


def test_brent_same_as_hash_walk_without_loops() -> None:
    prog = chain(*((0x1000 + 16 * i, 0x1000 + 16 * (i + 1)) for i in range(50)), (0x1000 + 16 * 50, 0x1000))
    assert list(walk_list_brent(prog, 0x1000)) == list(walk_list(prog, 0x1000))  # type: ignore[arg-type]


def test_brent_reports_the_loop() -> None:
    # 0x100 -> 0x200 -> 0x300 -> 0x400 -> 0x500 -> 0x300: loop of length 3, two steps from the start
    prog = chain((0x100, 0x200), (0x200, 0x300), (0x300, 0x400), (0x400, 0x500), (0x500, 0x300))
    events: list[int | BrentNote] = []
    with pytest.raises(DuplicateEntry) as e:
        for ev in walk_list_brent(prog, 0x100):  # type: ignore[arg-type]
            events.append(ev)
    notes = [ev.text for ev in events if isinstance(ev, BrentNote)]
    assert notes == ["loop detected, loop length: 3\n", "length from start to loop: 2"]
    assert e.value.entry == 0x300
    entries = [ev for ev in events if isinstance(ev, int)]
    assert entries[:5] == [0x100, 0x200, 0x300, 0x400, 0x500]
