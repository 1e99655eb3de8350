"""crashpy.disasm layer (see ARCHITECTURE.md)."""
