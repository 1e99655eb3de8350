"""The types gdb gives symbols it has no debug information for (a function, a variable)."""

from __future__ import annotations

from crashpy.types.model import FunctionType, IntType

_INT = IntType("int", 4, True)


class NoDebugTextType(FunctionType):
    """The type gdb gives a function symbol it has no debug information for."""

    def __init__(self) -> None:
        super().__init__(_INT, [], False)
        self.name = "<text variable, no debug info>"


class NoDebugDataType(IntType):
    """The type gdb gives a data symbol it has no type for: usable only through `&sym` or a cast."""

    def __init__(self) -> None:
        super().__init__("<data variable, no debug info>", 4, True)


NODEBUG_DATA = NoDebugDataType()
