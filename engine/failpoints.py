"""Named points where a test stops the control plane cold (TUG_FAILPOINT=NAME in its
environment): on reaching NAME it says so on stderr and blocks its whole event loop until it
is killed, so nothing after that point happens; the crash tests kill -9 it there. Unset (as
for every command a user runs), a failpoint costs one dictionary lookup."""

from __future__ import annotations

import os
import sys
import time

ENV = "TUG_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV) != name:
        return
    print(f"failpoint {name} reached; waiting to be killed", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)
