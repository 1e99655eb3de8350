"""crashpy.unwind layer (see ARCHITECTURE.md)."""
