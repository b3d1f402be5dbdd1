"""``python -m cachex <command>``: the operations commands without a Django project."""

from __future__ import annotations

import sys

from cachex.ops.cli import main

if __name__ == "__main__":
    sys.exit(main())
