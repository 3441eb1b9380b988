"""`python -m engine.cli`: the same as the `tug` script."""

import sys

from engine.cli import main

sys.exit(main())
