"""The `fleetctl` command line: thin commands that parse options, call the core and render.

`cli.app` holds the Typer app, `cli.options` the options every command shares, `cli.context` the
one helper that finds and loads the manifest, opens AWS and maps errors; each module in
`cli/commands` (and `cli/operator.py`) is one command family. Heavy modules (aiobotocore, moto,
nats, pydantic, yaml) are imported inside the commands that need them so that `fleetctl --help`
stays fast.
"""
from __future__ import annotations

from fleetctl.cli import operator
from fleetctl.cli.app import EXIT_CODES, app
from fleetctl.cli.commands import fleet, lock, manifest, observe, rollout, verify  # noqa: F401  (registers the commands)
from fleetctl.sandbox.cli import app as sandbox_app  # typer only at import time

operator.register(app)
app.add_typer(sandbox_app, name="sandbox")

__all__ = ["EXIT_CODES", "app", "main"]


def main() -> None:
    import sys

    from fleetctl.controller import redact

    # what fleetctl never prints: see controller/redact.py
    if sys.argv[1:2] != ["sandbox"]:  # `sandbox status` prints the sandbox's own credentials by design
        redact.register_environment()
    redact.install_on_std_streams()
    app(prog_name="fleetctl")  # also names the completion variable: _FLEETCTL_COMPLETE


if __name__ == "__main__":
    main()
