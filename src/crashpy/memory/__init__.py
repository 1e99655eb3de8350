"""crashpy.memory layer (see ARCHITECTURE.md)."""
