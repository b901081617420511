"""The `fleetctl` command line: thin commands that parse options, call the core and render.

`cli.app` holds the Typer app, `cli.options` the options every command shares, `cli.context` the
one helper that finds and loads the manifest, opens AWS and maps errors; each module in
`cli/commands` (and `cli/operator.py`) is one command family. Heavy modules (aiobotocore, moto,
nats, pydantic, yaml) are imported inside the commands that need them so that `fleetctl --help`
stays fast.
"""
from __future__ import annotations

from fleetctl.cli import operator, output
from fleetctl.cli.app import EXIT_CODES, app
from fleetctl.cli.commands import fleet, lock, manifest, observe, rollout, verify  # noqa: F401  (registers the commands)
from fleetctl.sandbox.cli import app as sandbox_app  # typer only at import time

operator.register(app)
app.add_typer(sandbox_app, name="sandbox")

__all__ = ["EXIT_CODES", "app", "main"]


def main() -> None:
    import os
    import sys

    from fleetctl.controller import redact

    # fleetctl uses no pydantic plugins; looking for them reads every installed distribution's
    # metadata (≈ 60 ms). Set the variable (even empty) to have pydantic look after all.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

    # what fleetctl never prints: see controller/redact.py
    if sys.argv[1:2] != ["sandbox"]:  # `sandbox status` prints the sandbox's own credentials by design
        redact.register_environment()
    redact.install_on_std_streams()
    _only_the_command_called(sys.argv[1:])
    read_only = sys.argv[1:2] in _READ_ONLY
    if read_only:
        import gc

        # a short process that ends with os._exit: no collection passes over what it loaded
        # (a full one over a 5,000-service manifest costs ≈ 0.05 s), nothing freed object by object
        gc.disable()
        output.keep_until_exit()
    try:
        app(prog_name="fleetctl")  # also names the completion variable: _FLEETCTL_COMPLETE
    except SystemExit as done:
        if read_only:
            _exit_now(done)
        raise


# commands that only read the manifest and print: nothing runs after them that exit must wait for
_READ_ONLY = (["validate"],)


def _exit_now(done: SystemExit) -> None:
    """Exit without tearing the interpreter down: freeing a 5,000-service manifest object by
    object and a last full garbage collection cost a tenth of a second. Output is flushed
    first; anything unusual (a message as exit code, a stream that cannot be flushed) exits
    the ordinary way."""
    import os
    import sys

    code = 0 if done.code is None else done.code
    if not isinstance(code, int):
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - e.g. a closed pipe: the ordinary exit reports it
        return
    os._exit(code)


def _only_the_command_called(args: list[str]) -> None:
    """Typer builds the options of every command before it dispatches one (a quarter of a
    second); when the first argument names a command or group, keep only that one. Its help,
    errors and behaviour are the same; anything else (no command, a typo, `--help`, shell
    completion) gets the whole application."""
    import os

    if not args or args[0].startswith("-") or "_FLEETCTL_COMPLETE" in os.environ:
        return
    from typer.main import get_command_name

    name = args[0]
    commands = [c for c in app.registered_commands
                if (c.name or get_command_name(c.callback.__name__ if c.callback else "")) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if commands or groups:
        app.registered_commands, app.registered_groups = commands, groups


if __name__ == "__main__":
    main()
