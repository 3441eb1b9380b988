"""gpu: placeholder package; its issue fills it in."""
