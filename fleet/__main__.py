"""`python -m fleet <command> ...`: one entry point, one module per command."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "report": "fleet.report",
    "rollout": "fleet.rollout",
    "adopt": "fleet.adopt",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m fleet {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]])
    status: int = module.main(argv[1:])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
