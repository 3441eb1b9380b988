"""tui: the Textual terminal UI (`tug tui`). The only package that imports textual; it reads
the control plane through engine/client.py alone (never the store, the scheduler or Ray)."""
