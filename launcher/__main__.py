"""`python -m launcher` (`make run`): the whole backend in the foreground; `python -m launcher stop`
(`make stop`) stops a run from another shell. See README "Running"."""
from __future__ import annotations

import sys

from .run import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
