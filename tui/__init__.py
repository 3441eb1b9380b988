"""tui: placeholder package; its issue fills it in."""
