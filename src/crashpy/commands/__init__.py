"""crashpy.commands layer (see ARCHITECTURE.md)."""
