"""The error model: every failure a user can see is one of these, printed as one line."""

from __future__ import annotations

import enum


class CrashpyError(Exception):
    """An error shown to the user as one line, in crash's words (the command name is prefixed)."""


class StartupError(CrashpyError):
    """The session cannot start (bad dump, mismatched vmlinux, ...); the program exits non-zero."""


class CommandError(CrashpyError):
    """A command failed; the session goes on."""


class FaultKind(enum.Enum):
    """Why a read failed. `crash_text` is how crash words it."""

    EXCLUDED = "excluded"  # makedumpfile left the page out (-d filtering)
    INCOMPLETE = "incomplete"  # makedumpfile marked the page as never written (zero descriptor offset)
    TRUNCATED = "truncated"  # the page's data lies past the end of a dump file that was cut short
    NOT_PRESENT = "not present"  # no part of the dump holds this physical address
    INVALID = "invalid"  # the page tables do not map the virtual address
    SEEK = "seek"  # a hole in a kdump file's memory map (crash: "seek error")

    @property
    def crash_text(self) -> str:
        return _CRASH_TEXT[self]


_CRASH_TEXT = {
    FaultKind.EXCLUDED: "page excluded",
    FaultKind.INCOMPLETE: "page incomplete",
    FaultKind.TRUNCATED: "read error",  # crash's word for data past the end of a cut file
    FaultKind.NOT_PRESENT: "read error",
    FaultKind.INVALID: "invalid",
    FaultKind.SEEK: "seek error",
}


class AddressSpace(enum.Enum):
    KVADDR = "kernel virtual address"
    UVADDR = "user virtual address"
    PHYSADDR = "physical address"
    XENMACHADDR = "xen machine address"


class FaultError(CrashpyError):
    """A read that failed at `address` (in `space`) while reading `what` (crash's type string)."""

    def __init__(
        self,
        address: int,
        kind: FaultKind = FaultKind.NOT_PRESENT,
        space: AddressSpace = AddressSpace.PHYSADDR,
        what: str = "",
    ) -> None:
        self.address = address
        self.kind = kind
        self.space = space
        self.what = what
        super().__init__(self.message())

    def with_context(self, address: int, space: AddressSpace, what: str | None = None) -> FaultError:
        """The same fault, restated for the address the caller asked for."""
        return FaultError(address, self.kind, space, self.what if what is None else what)

    def message(self) -> str:
        """crash's wording, e.g. `page excluded: kernel virtual address: ffffffff81e00000  type: "64-bit KVADDR"`."""
        what = self.what or ("64-bit " + self.space.name)
        if self.kind is FaultKind.INVALID:
            return f'invalid {self.space.value}: {self.address:x}  type: "{what}"'
        return f'{self.kind.crash_text}: {self.space.value}: {self.address:x}  type: "{what}"'


class DumpFormatError(StartupError):
    """The file is not a dump crashpy can read, or its header is corrupt."""
