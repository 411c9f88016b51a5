"""``python -m rollout_middleware``: the ``rollout-token`` command (see :mod:`rollout_middleware.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m rollout_middleware"))
