"""`python -m tests.conformance`: print the DMN TCK table (see tests/conformance/tck.py)."""

from __future__ import annotations

import sys

from tests.conformance.tck import kit_folder, run_kit, table


def main() -> int:
    folder = kit_folder()
    if not folder.is_dir():
        print(f"no DMN TCK at {folder}", file=sys.stderr)
        return 1
    print(table(run_kit(folder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
