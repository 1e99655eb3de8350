"""crashpy.arch layer (see ARCHITECTURE.md)."""
