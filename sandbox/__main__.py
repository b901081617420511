"""``python -m fleetctl.sandbox``: the sandbox CLI, plus the internal ``daemon`` command."""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "daemon":
        from fleetctl.sandbox.daemon import main as daemon_main

        raise SystemExit(daemon_main(sys.argv[2:]))
    from fleetctl.sandbox.cli import app

    app(prog_name="python -m fleetctl.sandbox")


if __name__ == "__main__":
    main()
